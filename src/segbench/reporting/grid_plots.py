"""Plots of a sweep: accuracy against inference cost (Table 1's trade-off, Sec. 3.3) and validation curves.

Each writer returns the file names it wrote and one-line notes about what it left out; a plot whose
inputs are absent is skipped with a note rather than drawn empty.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from segbench.errors import SegbenchError
from segbench.paper import paper_order
from segbench.reporting.curves import read_curve
from segbench.reporting.grid_runs import Run
from segbench.reporting.labels import BALANCING_NAMES, BALANCING_SHORT
from segbench.reporting.uncertainty import CellScores
from segbench.stats.bootstrap import LEVEL

MARKERS = {"median_frequency": "o", "natural": "^"}
# (x-axis label, efficiency JSONL key, scale to the unit shown, file stem)
COSTS = (
    ("stored at inference (MB, first encoder level)", "stored_bytes", 1e-6, "table1-vs-stored-bytes"),
    ("inference time (ms, fp32)", "infer_ms_fp32", 1.0, "table1-vs-infer-time"),
)
ACCURACY = (("test", "mIoU"), ("test", "BF"))
CURVES = ("val/G", "val/mIoU")
DPI = 120


def run_label(run: Run) -> str:
    """The paper's name of the network, and the balancing (MF / NF) it was trained with."""
    return f"{network_name(run)} ({BALANCING_SHORT.get(run.balancing, run.balancing or 'no balancing')})"


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI, bbox_inches="tight")  # with any legend placed beside the axes


def write_efficiency_plots(
    runs: Sequence[Run],
    efficiency: dict[str, dict[str, Any]] | None,
    out_dir: Path,
    cells: Mapping[tuple[str, str], CellScores] | None = None,
) -> tuple[list[str], list[str]]:
    """Test mIoU and BF against the memory kept for the decoder and against inference time, one point per run:
    a colour per variant (its MF and NF runs joined), a marker per balancing. A run standing for a cell of
    `cells` is drawn at the mean of the cell's seeds, with its bootstrap interval as an error bar where it has one."""
    if efficiency is None:
        return [], ["skipped the accuracy-vs-cost plots: no --efficiency JSON lines given"]
    measured = [run for run in runs if run.complete and run.model in efficiency]
    if not measured:
        return [], ["skipped the accuracy-vs-cost plots: no complete Table 1 run of a measured model"]
    notes = []
    if unmeasured := sorted({run.model for run in runs if run.complete and run.model not in efficiency}):
        notes.append(f"not in the accuracy-vs-cost plots (no efficiency line): {', '.join(unmeasured)}")
    written = []
    bars = False
    for axis_label, key, scale, stem in COSTS:
        figure = Figure(figsize=(5.5 * len(ACCURACY), 4.5))
        axes = figure.subplots(1, len(ACCURACY))
        for axis, (split, metric) in zip(axes, ACCURACY):
            points: dict[tuple[str, str], list[tuple[float, float]]] = {}  # by (variant, its colour)
            for run in measured:
                cell = (cells or {}).get((run.model, run.balancing))
                value = run.score(split, metric) if cell is None else cell.mean(split, metric)
                if value is None:
                    continue
                x, y = efficiency[run.model][key] * scale, 100 * value
                colour = network_colour(run)
                axis.scatter(x, y, marker=MARKERS.get(run.balancing, "s"), color=colour, s=40, zorder=3)
                if cell is not None and (found := cell.intervals.get(metric)):
                    # the interval is around the records' score, which is the mean shown up to float rounding
                    error = [[max(y - found.low, 0.0)], [max(found.high - y, 0.0)]]
                    axis.errorbar(x, y, yerr=error, color=colour, linewidth=1.0, capsize=3, zorder=2)
                    bars = True
                points.setdefault((run.model, colour), []).append((x, y))
            for (_, colour), pair in points.items():  # a variant's MF and NF runs, joined
                axis.plot(*zip(*pair), color=colour, linewidth=0.8, alpha=0.6)
            axis.set_xlim(left=-0.02 * max(efficiency[run.model][key] * scale for run in measured) or -0.1)
            axis.set_xlabel(axis_label)
            axis.set_ylabel(f"{split} {metric} (%)")
            axis.grid(alpha=0.3)
        variants = {network_name(run): network_colour(run) for run in measured}
        handles = [Line2D([], [], marker="s", linestyle="", color=c, label=name) for name, c in variants.items()]
        handles += [
            Line2D(
                [],
                [],
                marker=marker,
                linestyle="",
                color="black",
                label=f"{BALANCING_SHORT[balancing]}: {name.lower()}",
            )
            for balancing, marker in MARKERS.items()
            if any(run.balancing == balancing for run in measured)
            for name in [BALANCING_NAMES[balancing]]
        ]
        if bars:
            label = f"bar: {LEVEL:.0%} bootstrap interval"
            handles.append(Line2D([], [], marker="|", markersize=10, linestyle="", color="black", label=label))
        axes[-1].legend(handles=handles, fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
        _save(figure, out_dir / f"{stem}.png")
        written.append(f"{stem}.png")
    return written, notes


def network_name(run: Run) -> str:
    """The paper's name of the network a run trained, or its `model=` option where the paper does not have it."""
    return run.record.variant_name


def network_colour(run: Run) -> str:
    """A colour per network that stays as a grid fills over sittings: the paper's networks by their row in Table 1 or
    3 (C0, C1, ...), the others one of tab20b's by their `model=` option (a checksum, not the runs present)."""
    position = paper_order(run.record.paper_name)
    if position is not None:
        return f"C{position[1] % 10}"
    return to_hex(matplotlib.colormaps["tab20b"](zlib.crc32(run.model.encode()) % 20))


def curve_panels(curves: Sequence[tuple[Run, dict[str, list[tuple[int, int, float]]]]]) -> tuple[str, dict]:
    """The x axis and the curves' panels: one per (metric, balancing), each a list of (network, status, x, scores
    in %). x is the epoch, or the iteration when a run validates more than once an epoch (Table 3's recipe).

    A network keeps its colour across panels, so 16 runs read as 8 coloured lines per balancing, not 16 lines
    in one crowded panel.
    """
    by_iteration = any(
        len({epoch for epoch, _, _ in points}) < len(points) for _, by_metric in curves for points in by_metric.values()
    )
    order = list(BALANCING_SHORT)
    balancings = sorted({run.balancing for run, _ in curves}, key=lambda b: order.index(b) if b in order else 2)
    panels: dict[tuple, list] = {(metric, balancing): [] for metric in CURVES for balancing in balancings}
    for run, by_metric in curves:
        for metric in CURVES:
            points = by_metric[metric]
            panels[metric, run.balancing].append(
                (
                    network_name(run),
                    "" if run.complete else run.status,
                    [step + 1 if by_iteration else epoch + 1 for epoch, step, _ in points],
                    [100 * value for *_, value in points],
                )
            )
    return ("iteration" if by_iteration else "epoch"), panels


def write_curve_plot(runs: Sequence[Run], out_path: Path, title: str) -> tuple[list[str], list[str]]:
    """Validation G and mIoU per evaluation of every run, from its Lightning CSV log (resumed segments joined):
    a row per metric, a column per balancing, a colour per network."""
    curves: list[tuple[Run, dict[str, list[tuple[int, int, float]]]]] = []
    unlogged = []
    for run in runs:
        if not any(run.folder.glob("csv/version_*/metrics.csv")):
            unlogged.append(str(run.folder))
            continue
        try:
            curves.append((run, {metric: read_curve(run.folder, metric) for metric in CURVES}))
        except (ValueError, KeyError) as error:
            raise SegbenchError(f"{run.folder / 'csv'}: a metrics.csv that cannot be read ({error})") from None
    notes = [f"no CSV log (csv/version_*/metrics.csv) for {title} curves: {', '.join(unlogged)}"] if unlogged else []
    if not any(points for _, by_metric in curves for points in by_metric.values()):
        return [], [*notes, f"skipped {out_path.name}: no run has validation scores in a CSV log"]
    x_label, panels = curve_panels(curves)
    balancings = list(dict.fromkeys(balancing for _, balancing in panels))
    colours = {network_name(run): network_colour(run) for run, _ in curves}
    figure = Figure(figsize=(6 * len(balancings), 3.6 * len(CURVES)))
    axes = figure.subplots(len(CURVES), len(balancings), squeeze=False)
    for (metric, balancing), lines in panels.items():
        axis = axes[CURVES.index(metric)][balancings.index(balancing)]
        for name, status, epochs, scores in lines:
            label = name + (f" [{status}]" if status else "")
            axis.plot(epochs, scores, color=colours[name], marker="o", markersize=2.5, linewidth=1.2, label=label)
        axis.set_xlabel(x_label)
        axis.set_ylabel(f"{metric} (%)")
        axis.set_title(f"{title}: {BALANCING_NAMES.get(balancing, 'no class balancing')}", fontsize=9)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=6, loc="lower right")
    _save(figure, out_path)
    return [out_path.name], notes
