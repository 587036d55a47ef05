"""A grid's one-page result (`report.py --summary`): the command that ran it, Table 1's test scores beside the
paper's at a glance, Sec. 3.3's conclusions checked, the figures; the full tables stay in the report folder.

Badrinarayanan et al., "SegNet", TPAMI 2017: Table 1 (decoder variants: storage, time, test scores of both
balancings) and Table 3 (deep networks at iteration points).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from segbench.paper import BALANCINGS, table1_row
from segbench.reporting.grid_runs import Run
from segbench.reporting.grid_tables import spread_text, table1_decimals, variant_cell
from segbench.reporting.labels import BALANCING_SHORT
from segbench.reporting.tables import markdown_from
from segbench.reporting.variants import NOT_IN_PAPER

TEST_METRICS = ("G", "C", "mIoU", "BF")
REFERENCE_VARIANT = "SegNet-Basic"  # inference times are shown as a ratio to SegNet-Basic's, as Sec. 3.3 reads them


def grid_command(runs: Sequence[Run]) -> str | None:
    """`make table1 SCALE=cpu` when every run is of one grid experiment at one scale (None otherwise).

    The Makefile target is the grid's own command: it skips finished jobs, resumes interrupted ones and
    writes this report, so it is what re-creates (or completes) the grid.
    """
    experiments = {run.record.choices.get("experiment") for run in runs}
    scales = {run.record.choices.get("scale") for run in runs}
    datasets = {run.record.choices.get("dataset") for run in runs}
    if len(experiments) != 1 or len(scales) != 1 or None in scales:
        return None
    (experiment,), (scale,) = experiments, scales
    if experiment not in ("table1", "table3"):
        return None
    root = "CAMVID_ROOT=/path/to/CamVid " if datasets == {"camvid"} else ""
    return f"{root}make {experiment} SCALE={scale}"


def _ratio(ours: float | None, reference: float | None) -> str:
    return "–" if ours is None or not reference else f"{ours / reference:.2f}"


def compact_table1(rows: Sequence[dict], measured: Mapping[str, Mapping] | None = None) -> str:
    """Stored bytes, inference time relative to SegNet-Basic (ours and the paper's) and each balancing's test
    scores as `ours ±interval (paper)`: the columns Sec. 3.3 argues from, without Table 1's train and run columns. A
    variant the paper does not have shows "—" for the paper's. SegNet-Basic's time is its row's, or its line among
    the efficiency measurements `measured` when it has no run (a study reusing no SegNet-Basic run); a balancing no
    run has gets no columns (the decoder zoo is median-frequency only)."""
    reference = next((row["infer_ms_fp32"] for row in rows if row["paper_name"] == REFERENCE_VARIANT), None)
    if reference is None and measured:
        lines = (line for line in measured.values() if line.get("paper_name") == REFERENCE_VARIANT)
        reference = next((line.get("infer_ms_fp32") for line in lines), None)
    paper_reference = table1_row(REFERENCE_VARIANT)["infer_ms"]
    balancings = [b for b in BALANCINGS if any(row[f"{b}_test_G"] is not None for row in rows)] or list(BALANCINGS)
    header = ["Variant", "Stored bytes", "Time ÷ SegNet-Basic (paper)"]
    header += [f"{BALANCING_SHORT[b]} test {metric}" for b in balancings for metric in TEST_METRICS]
    body = []
    for row in rows:
        stored = "–" if row["stored_bytes"] is None else f"{row['stored_bytes']:,}"
        ours_time = _ratio(row["infer_ms_fp32"], reference)
        paper_time = NOT_IN_PAPER if row["paper_infer_ms"] is None else _ratio(row["paper_infer_ms"], paper_reference)
        cells = [variant_cell(row), stored, f"{ours_time} ({paper_time})"]
        for balancing in balancings:
            for metric in TEST_METRICS:
                key = f"{balancing}_test_{metric}"
                ours, paper = row[key], row[f"{key}_paper"]
                decimals = table1_decimals(metric)
                theirs = NOT_IN_PAPER if paper is None else f"{paper:.{decimals}f}"
                shown = "–" if ours is None else f"{ours:.{decimals}f}{spread_text(row, key, decimals)}"
                cells.append(f"{shown} ({theirs})")
        body.append(cells)
    return markdown_from(header, body)


def summary_document(
    title: str,
    summary: Path,
    out_dir: Path,
    *,
    written_by: str,
    command: str | None,
    table: list[str],
    tables: Sequence[str],
    figures: Sequence[tuple[str, str]],
) -> str:
    """The page's markdown; `figures` are (file in out_dir, caption), linked relative to the page."""
    folder = Path(os.path.relpath(out_dir, summary.parent))
    lines = [f"# {title}", "", written_by]
    if command:
        lines += ["", f"The grid, trained and reported (re-running it resumes an unfinished grid): `{command}`."]
    lines += ["", *table]
    links = ", ".join(f"[{name}]({(folder / name).as_posix()})" for name in tables)
    runs = folder / "runs"
    # The grids' runs are collected into <report folder>/runs (`make table1`); a report of other folders has none.
    where = f"; the runs' files: [{runs.as_posix()}/]({runs.as_posix()})" if (out_dir / "runs").is_dir() else ""
    lines += [
        "The full report (every column of the paper's table, each run's state and the command that re-creates "
        f"it): {links}{where}.",
        "",
    ]
    lines += [f"![{caption}]({(folder / name).as_posix()})\n\n{caption}.\n" for name, caption in figures]
    return "\n".join(lines)
