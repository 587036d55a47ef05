"""Table 1 and Table 3 of the SegNet paper (Badrinarayanan et al., TPAMI 2017) laid out from a sweep's runs.

Each table is a list of row dicts (the CSV's rows: our numbers, the paper's, their difference), drawn as
markdown and as LaTeX from the same cells by pandas (segbench.reporting.tables). A score cell reads
`ours / paper (ours - paper)` in percent. The rows are the variants of the runs given (segbench.reporting.variants:
the paper's in its order, then the others by `model=` option); a variant's paper columns come from the paper's row of
its `paper_name`, "—" in Table 1 for a variant the paper does not have (empty in the CSV).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from segbench.paper import BALANCINGS, table1_row, table3_row
from segbench.reporting.grid_runs import Run, percent
from segbench.reporting.labels import BALANCING_NAMES, BALANCING_SHORT
from segbench.reporting.tables import latex, markdown_from
from segbench.reporting.uncertainty import CellScores
from segbench.reporting.variants import NOT_IN_PAPER, variant_order

# Table 1's score columns of each balancing: test G, C, mIoU, BF then train G, C, mIoU.
TABLE1_SCORES = (("test", ("G", "C", "mIoU", "BF")), ("train", ("G", "C", "mIoU")))
TABLE1_LEADING = ("Variant", "Params (M)", "Storage multiplier", "Infer time (ms)")
TABLE3_METRICS = ("G", "C", "mIoU", "BF")
TABLE3_DECIMALS = 2  # Table 3 prints every score with two decimals
NO_RUN = "—"


def table1_decimals(metric: str) -> int:
    """Table 1 prints G, C and mIoU with one decimal and BF with two: ours are shown the same way."""
    return 2 if metric == "BF" else 1


def difference(ours: float | None, paper: float | None, decimals: int) -> float | None:
    """ours - paper of the numbers as shown, so that a reader's own subtraction agrees with the table."""
    if ours is None or paper is None or math.isnan(ours):
        return None
    return round(ours - paper, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


def compared(ours: float | None, paper: float | None, decimals: int, spread: str = "") -> str:
    """A cell: `ours / paper (difference)`, `– / paper` without ours, `ours` where the paper has no number;
    `spread` (e.g. ` ±1.1`, segbench.reporting.uncertainty) follows ours."""
    if ours is None and paper is None:
        return ""
    shown = "–" if ours is None else f"{ours:.{decimals}f}{spread}"
    if paper is None:
        return shown
    diff = difference(ours, paper, decimals)
    return f"{shown} / {paper:.{decimals}f}" + ("" if diff is None else f" ({diff:+.{decimals}f})")


def beside_paper(ours: float | None, paper: float | None, decimals: int, spread: str = "") -> str:
    """A Table 1 cell, whose paper side always shows: `compared`, or `ours / —` for a variant the paper lacks."""
    if paper is None:
        return f"{'–' if ours is None else f'{ours:.{decimals}f}{spread}'} / {NOT_IN_PAPER}"
    return compared(ours, paper, decimals, spread)


def run_state(status: str, step: int | None, error: str) -> str:
    """How a job that did not finish ended, for the cell its scores would fill.

    An interrupted job's own message names its machine's checkpoint path; re-running the grid's command is
    what resumes it anywhere, so that is what the report says instead.
    """
    at = f" at step {step:,}" if isinstance(step, int) else ""
    if status == "interrupted":
        return f"INTERRUPTED{at} (the grid's command resumes it)"
    return f"{status.upper()}{at}: {error}" if error else f"{status.upper()}{at}"


def shown_score(run: Run | None, split: str, metric: str, decimals: int) -> float | None:
    """A complete run's score in percent, rounded as the table shows it; None without one."""
    return percent(run.score(split, metric), decimals) if run is not None and run.complete else None


def _rounded_ms(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 1)


def variants(cells: dict[tuple[str, str], Run]) -> dict[str, dict[str, Run]]:
    """The runs of each variant (`model=` option) by balancing, the variants in the report's order (the paper's
    first, in its order; then the others by option)."""
    by_model: dict[str, dict[str, Run]] = {}
    for (model, balancing), run in cells.items():
        by_model.setdefault(model, {})[balancing] = run

    def rank(model: str) -> tuple:
        return variant_order(paper_name(by_model[model].values()), model)

    return {model: by_model[model] for model in sorted(by_model, key=rank)}


def paper_name(runs: Iterable[Run]) -> str | None:
    """The paper's name of the variant the runs trained (the same in each run of it; None: the paper lacks it)."""
    return next((run.record.paper_name for run in runs if run.record.paper_name), None)


def table1_rows(
    cells: dict[tuple[str, str], Run],
    efficiency: dict[str, dict[str, Any]] | None,
    seeds: dict[tuple[str, str], CellScores] | None = None,
) -> list[dict]:
    """One row per variant that has a run, in the report's order (`variants`); the efficiency columns from
    `make bench`, the paper's columns from Table 1's row of the variant's paper name (None where it has none).

    A cell's scores are the mean over its complete runs (`seeds`: its seeds, from `uncertainty.cell_scores`; the
    shown run's own without); the columns after the paper's hold each balancing's seed count and, per test score,
    its interval (`_low`, `_high`, percent) and its sd over seeds (`_sd`), empty where there is none.
    """
    seeds = seeds or {}
    rows = []
    for model, by_balancing in variants(cells).items():
        runs = {balancing: by_balancing.get(balancing) for balancing in BALANCINGS}
        name = paper_name(by_balancing.values())
        paper = table1_row(name)
        measured = (efficiency or {}).get(model, {})
        # The parameter count is the network's, the same in every run and in the benchmark.
        params = measured.get("params") or next(
            (run.record.params for run in runs.values() if run is not None and run.record.params is not None), None
        )
        paper_storage = paper and ("n/a" if paper["storage_multiplier"] is None else paper["storage_multiplier"])
        row: dict[str, Any] = {
            "model": model,
            "paper_name": name,
            "params": params,
            "paper_params_m": paper and paper["params_m"],
            "storage_multiplier": measured.get("storage_multiplier"),
            "paper_storage_multiplier": paper_storage,
            "stored_bytes": measured.get("stored_bytes"),
            "infer_ms_fp32": _rounded_ms(measured.get("infer_ms_fp32")),
            # None also where bf16 was not run (no oneDNN bf16 kernels) or stopped as too slow
            "infer_ms_bf16_channels_last": _rounded_ms(measured.get("infer_ms_bf16_channels_last")),
            "paper_infer_ms": paper and paper["infer_ms"],
        }
        for balancing, run in runs.items():
            row[f"{balancing}_status"] = run.status if run else ""
            row[f"{balancing}_error"] = run.error if run else ""
            row[f"{balancing}_run"] = str(run.folder) if run else ""
            row[f"{balancing}_epochs"] = run.record.epochs_trained if run else None
            row[f"{balancing}_steps"] = run.global_step if run else None
            cell = seeds.get((model, balancing))
            for split, metrics in TABLE1_SCORES:
                for metric in metrics:
                    decimals = table1_decimals(metric)
                    # several seeds: their mean; one: the run's own score
                    ours = (
                        percent(cell.mean(split, metric), decimals)
                        if cell
                        else shown_score(run, split, metric, decimals)
                    )
                    reference = paper[balancing][split][metric] if paper else None
                    key = f"{balancing}_{split}_{metric}"
                    row[key], row[f"{key}_paper"] = ours, reference
                    row[f"{key}_diff"] = difference(ours, reference, decimals)
        # Appended after the columns of old, so that a reader of the CSV by position still finds its columns.
        for balancing in BALANCINGS:
            row |= spread_columns(seeds.get((model, balancing)), balancing)
        rows.append(row)
    return rows


def spread_columns(scores: CellScores | None, balancing: str) -> dict[str, object]:
    """A balancing's columns of a Table 1 row (CSV) on the noise, all empty without a complete run: `_seeds` (the
    count), `_seed_list`, `_interval` (what it is over, empty without per-image records), `_block` (its block
    length); per test score its interval `_low` / `_high` and `_pm` (the half-width shown), per score `_sd` over
    the seeds (percent, as Table 1 rounds them)."""
    intervals = scores.intervals if scores else {}
    columns: dict[str, object] = {
        f"{balancing}_seeds": scores.n if scores else None,
        f"{balancing}_seed_list": scores.seeds_text if scores else "",
        f"{balancing}_interval": next(iter(intervals.values())).kind if intervals else "",
        f"{balancing}_block": scores.block if scores else None,
    }
    for split, metrics in TABLE1_SCORES:
        for metric in metrics:
            decimals, key = table1_decimals(metric), f"{balancing}_{split}_{metric}"
            found = intervals.get(metric) if split == "test" else None
            if split == "test":
                columns[f"{key}_low"] = None if found is None else round(found.low, decimals)
                columns[f"{key}_high"] = None if found is None else round(found.high, decimals)
                columns[f"{key}_pm"] = None if found is None else round(found.half_width, decimals)
            sd = scores.sd(split, metric) if scores else None
            columns[f"{key}_sd"] = None if sd is None else round(100 * sd, decimals)
    return columns


def spread_text(row: Mapping[str, object], key: str, decimals: int) -> str:
    """What follows a score `key` (e.g. `natural_test_G`) of a Table 1 row in its cell: ` ±1.1` (its interval's
    half-width), ` sd 0.8` (several seeds without per-image records), or nothing (one run without one)."""
    if (half := row.get(f"{key}_pm")) is not None:
        return f" ±{half:.{decimals}f}"
    if (sd := row.get(f"{key}_sd")) is not None:
        return f" sd {sd:.{decimals}f}"
    return ""


def variant_cell(row: dict) -> str:
    """A row's variant as the tables name it: the paper's name, or the `model=` option of a variant it lacks."""
    return row["paper_name"] or row["model"]


def paper_cell(value: Any) -> str:
    return NOT_IN_PAPER if value is None else str(value)


def _table1_run_cell(row: dict, balancing: str) -> str:
    status = row[f"{balancing}_status"]
    if not status:
        return NO_RUN
    steps, epochs = row[f"{balancing}_steps"], row[f"{balancing}_epochs"]
    if status == "complete":
        trained = (
            f"{steps:,} steps ({epochs} ep.)" if isinstance(steps, int) and isinstance(epochs, int) else "complete"
        )
        return trained + _seeds_cell(row, balancing)
    return run_state(status, steps, row[f"{balancing}_error"])


def _seeds_cell(row: dict, balancing: str) -> str:
    """`, seeds 0, 1, 2: ± seeds and images`: which seeds a cell's numbers are of, and what its ± is over; nothing
    for one run without a per-image record (the grid of old reads as before)."""
    kind, several = row.get(f"{balancing}_interval"), (row.get(f"{balancing}_seeds") or 0) > 1
    which = row.get(f"{balancing}_seed_list") or ""
    if kind:
        return f", {which}: ± {kind}" if which else f": ± {kind}"
    return f", {which}: mean, sd" if several else ""


def table1_cells(row: dict) -> list[str]:
    """The row as shown: the leading columns then, for each balancing, its run and its seven score columns."""
    params = f"{row['params'] / 1e6:.3f}" if row["params"] is not None else "–"
    storage = "–" if row["storage_multiplier"] is None else str(row["storage_multiplier"])
    infer = "–" if row["infer_ms_fp32"] is None else f"{row['infer_ms_fp32']:.1f}"
    cells = [
        variant_cell(row),
        f"{params} / {paper_cell(row['paper_params_m'])}",
        f"{storage} / {paper_cell(row['paper_storage_multiplier'])}",
        f"{infer} / {paper_cell(row['paper_infer_ms'])}",
    ]
    for balancing in BALANCINGS:
        cells.append(_table1_run_cell(row, balancing))
        for split, metrics in TABLE1_SCORES:
            for metric in metrics:
                key = f"{balancing}_{split}_{metric}"
                spread = spread_text(row, key, table1_decimals(metric))
                cells.append(beside_paper(row[key], row[f"{key}_paper"], table1_decimals(metric), spread))
    return cells


def table1_header() -> list[str]:
    header = list(TABLE1_LEADING)
    for balancing in BALANCINGS:
        short = BALANCING_SHORT[balancing]
        header.append(f"{short} run")
        header += [f"{short} {split} {metric}" for split, metrics in TABLE1_SCORES for metric in metrics]
    return header


def table1_markdown(rows: Sequence[dict]) -> str:
    return markdown_from(table1_header(), [table1_cells(row) for row in rows])


def _tex_comments(command: str, caption: str) -> list[str]:
    return [f"Written by `{command}` (do not edit by hand). Needs \\usepackage{{booktabs}}.", caption]


def table1_tex(rows: Sequence[dict], command: str) -> str:
    """Table 1's two header rows of column groups (balancing, then test / train), one body row per variant."""
    columns = [("", "", name) for name in TABLE1_LEADING]
    for balancing in BALANCINGS:
        group = BALANCING_NAMES[balancing]
        columns.append((group, "", "Run"))
        columns += [(group, split.capitalize(), metric) for split, metrics in TABLE1_SCORES for metric in metrics]
    table = pd.DataFrame([table1_cells(row) for row in rows], columns=pd.MultiIndex.from_tuples(columns), dtype=object)
    scores = sum(len(metrics) for _, metrics in TABLE1_SCORES)
    spec = "l" * len(TABLE1_LEADING) + ("l" + "r" * scores) * len(BALANCINGS)
    caption = "Table 1 (SegNet, TPAMI 2017): each cell ours / paper (ours - paper), scores in percent."
    return latex(table, spec, _tex_comments(command, caption))


def _paper_points(run: Run) -> tuple[dict | None, dict[int, dict]]:
    """Table 3's row of the run's network and its 40 K / 80 K points; the paper trained without class balancing
    only, so a run with another balancing has none."""
    paper = table3_row(run.record.paper_name) if run.balancing == "natural" else None
    return paper, (paper["at"] if paper else {})


def _table3_row(run: Run, paper: dict | None, point: str, step: Any, scores: dict | None, reference: dict | None):
    network = run.record.variant_name
    row: dict[str, Any] = {
        "network": network if run.balancing == "natural" else f"{network} [{run.balancing or 'no balancing'}]",
        "model": run.model,
        "balancing": run.balancing,
        "status": run.status,
        "error": run.error,
        "run": str(run.folder),
        "point": point,
        "step": step,
        "table3_point": "",
        "table3_max_iter": paper["max_iter"] if paper else None,
    }
    for metric in TABLE3_METRICS:
        value = scores.get(f"test/{metric}") if scores else None
        ours = percent(value, TABLE3_DECIMALS)
        theirs = reference.get(metric) if reference else None
        row[metric], row[f"paper_{metric}"] = ours, theirs
        row[f"diff_{metric}"] = difference(ours, theirs, TABLE3_DECIMALS)
    return row


def table3_rows(
    cells: dict[tuple[str, str], Run], noise: Mapping[tuple[str, str], CellScores] | None = None
) -> list[dict]:
    """Each network of the runs in the report's order (segbench.reporting.variants: Table 3's networks as it lists
    them, then the others), natural balancing first, each at its iteration points: our milestones, the paper's 40 K
    and 80 K (paired when a milestone is at exactly that step), then the selected checkpoint beside the paper's
    "> 80 K", with each test score's interval over test images (`noise`, where the run kept a per-image record:
    `<metric>_low`, `_high`, `_pm` in percent; milestones keep no per-image record).
    """

    def rank(key: tuple[str, str]) -> tuple:
        model, balancing = key
        return (*variant_order(cells[key].record.paper_name, model), model, balancing != "natural", balancing)

    rows = []
    for key in sorted(cells, key=rank):
        run = cells[key]
        paper, at = _paper_points(run)
        milestones = run.milestones()
        for step in sorted(set(milestones) | set(at)):
            point = "milestone" if step in milestones else "Table 3 only"
            row = _table3_row(
                run, paper, point, step if step in milestones else None, milestones.get(step), at.get(step)
            )
            row["table3_point"] = f"{step // 1000} K" if step in at else ""
            rows.append(row)
        if run.complete:
            row = _table3_row(run, paper, "selected", run.global_step, run.record.test, paper and paper["beyond_80k"])
            intervals = noise[key].intervals if noise and key in noise else {}
            for metric in TABLE3_METRICS:
                found = intervals.get(metric)
                for end in ("low", "high", "half_width"):
                    value = None if found is None else round(getattr(found, end), TABLE3_DECIMALS)
                    row[f"{metric}_{'pm' if end == 'half_width' else end}"] = value
        else:
            row = _table3_row(run, paper, run.status, run.global_step, None, paper and paper["beyond_80k"])
        if paper:
            row["table3_point"] = f"> 80 K (max {paper['max_iter'] // 1000} K)"
        rows.append(row)
    return rows


def table3_cells(row: dict) -> list[str]:
    if row["point"] == "milestone":
        ours_at = f"step {row['step']:,}"
    elif row["point"] == "selected":
        ours_at = f"step {row['step']:,} (selected)" if isinstance(row["step"], int) else "selected"
    elif row["point"] == "Table 3 only":
        ours_at = NO_RUN
    else:
        ours_at = run_state(row["status"], row["step"], row["error"])
    scores = [
        compared(row[m], row[f"paper_{m}"], TABLE3_DECIMALS, spread_text(row, m, TABLE3_DECIMALS))
        for m in TABLE3_METRICS
    ]
    return [row["network"], ours_at, row["table3_point"], *scores]


TABLE3_HEADER = ("Network", "Ours at", "Table 3 at", *TABLE3_METRICS)


def table3_markdown(rows: Sequence[dict]) -> str:
    return markdown_from(TABLE3_HEADER, [table3_cells(row) for row in rows])


def table3_tex(rows: Sequence[dict], command: str) -> str:
    caption = (
        "Table 3 (SegNet, TPAMI 2017): CamVid test scores at iteration points, each cell ours / paper (ours - paper)."
    )
    table = pd.DataFrame([table3_cells(row) for row in rows], columns=list(TABLE3_HEADER), dtype=object)
    return latex(table, "lll" + "r" * len(TABLE3_METRICS), _tex_comments(command, caption))
