"""The paper-vs-ours report of a sweep (`src/report.py`): Tables 1 and 3, Fig. 4's panel and plots in one folder.

Badrinarayanan et al., "SegNet", TPAMI 2017: Table 1 (decoder variants, both balancings), Table 3
(deep networks at iteration points), Fig. 4 (qualitative CamVid test results). Every run given appears: a run of a
Table 3 network (`model=table3/...`, or a paper name of Table 3's) in Table 3, any other run with a balancing of
Table 1's in Table 1, whether or not the paper has its variant (segbench.reporting.variants).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segbench.errors import SegbenchError
from segbench.paper import BALANCINGS, table3_row
from segbench.record.provenance import lines_measured_on
from segbench.reporting import conclusions, grid_plots, grid_summary, grid_tables, qualitative, table6, uncertainty
from segbench.reporting.departures import table3_departures
from segbench.reporting.grid_runs import (
    Run,
    find_runs,
    place,
    read_efficiency,
    seeds,
    settings,
    train_command,
    unlike_runs,
)
from segbench.reporting.labels import BALANCING_SHORT
from segbench.reporting.tables import frame, markdown_from, write_csv

# Every file this report may write: one it does not write this time is removed from --out, so
# a folder regenerated after its inputs changed never keeps a stale table or figure.
OUTPUTS = (
    "table1.md",
    "table1.csv",
    "table1.tex",
    "table3.md",
    "table3.csv",
    "table3.tex",
    "table1-vs-stored-bytes.png",
    "table1-vs-infer-time.png",
    "table1-val-curves.png",
    "table3-val-curves.png",
    "fig4.png",
)
FIGURE_CAPTIONS = {
    "table1-vs-stored-bytes.png": "Test mIoU and BF against the memory kept for the decoder at inference",
    "table1-vs-infer-time.png": "Test mIoU and BF against inference time",
    "table1-val-curves.png": "Validation G and mIoU per evaluation (decoder variants, Table 1-style)",
    "table3-val-curves.png": "Validation G and mIoU per evaluation (Table 3 networks)",
    "fig4.png": "Test images, ground truth and each network's prediction (as the paper's Fig. 4)",
}


@dataclass
class Report:
    out_dir: Path
    written: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return ""
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def runs_section(runs: Sequence[Run], shown: Sequence[Run]) -> list[str]:
    """Every run of a table with its status (a failed job's error), and the command that re-creates it."""
    header = ["run", "model", "balancing", "status", "epochs", "steps", "fit time", "in the table"]
    rows = []
    for run in runs:
        status = run.status if run.complete else grid_tables.run_state(run.status, run.global_step, run.error)
        rows.append(
            [
                str(run.folder),
                run.model,
                run.balancing,
                status,
                str(run.record.epochs_trained or ""),
                f"{run.global_step:,}" if isinstance(run.global_step, int) else "",
                _duration(run.record.fit_seconds),
                "yes" if any(run is other for other in shown) else "no: another run of this cell is shown",
            ]
        )
    lines = ["## Runs", "", markdown_from(header, rows)]
    commands = [f"- `{run.folder}`: `{command}`" for run in runs if (command := train_command(run))]
    if commands:
        lines += ["", "Each run re-created by (its full config is in `<run>/.hydra/config.yaml`):", "", *commands]
    return lines


def _document(title: str, intro: list[str], table: list[str], figures: list[str], runs: list[str], notes: list[str]):
    parts = [f"# {title}", "", *intro, "", *table, ""]
    if figures:
        parts += ["## Figures", ""]
        parts += [f"![{FIGURE_CAPTIONS[name]}]({name})\n\n{FIGURE_CAPTIONS[name]}.\n" for name in figures]
    parts += [*runs, ""]
    if notes:
        parts += ["## Notes", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(parts)


def _found(runs: Sequence[Run]) -> list[str]:
    found = settings([run for run in runs if run.complete])
    lines = [f"Found in the runs: {'; '.join(found)}."] if found else []
    if any(run.record.choices.get("scale") == "smoke" for run in runs):
        lines += ["", SMOKE_WARNING]
    for warning in unlike_runs([run for run in runs if run.complete]):
        lines += ["", warning]
    return lines


def _not_run(cells: dict[tuple[str, str], Run]) -> list[str]:
    """The jobs with no finished run yet of the variants the runs have, each in the balancings the runs have (a grid
    trained over several sittings; the decoder zoo's grid has median-frequency jobs only). A variant or balancing with
    no job run at all is not known here, so the count is of these jobs, not of the grid's.

    A failed job is finished (its cell shows the error); an interrupted one is not, and says where it stopped.
    """

    def pending(model: str, balancing: str, short: str) -> str | None:
        run = cells.get((model, balancing))
        if run is None:
            return short
        if run.status == "interrupted":
            at = f" at step {run.global_step:,}" if isinstance(run.global_step, int) else ""
            return f"{short} interrupted{at}"
        return None

    variants = grid_tables.variants(cells)
    balancings = {b: short for b, short in BALANCING_SHORT.items() if b in {balancing for _, balancing in cells}}
    missing = {
        grid_tables.paper_name(runs.values()) or model: [
            state for balancing, short in balancings.items() if (state := pending(model, balancing, short)) is not None
        ]
        for model, runs in variants.items()
    }
    listed = [f"{name} ({', '.join(states)})" for name, states in missing.items() if states]
    if not listed:
        return []
    count, jobs = sum(len(states) for states in missing.values()), len(balancings) * len(variants)
    among = "both balancings" if len(balancings) == 2 else f"balancing {', '.join(balancings.values())}"
    of = f"{count} of the {jobs} jobs of the variants with a run, in {among}"
    return ["", f"Not finished yet ({of}): {'; '.join(listed)}."]


SMOKE_WARNING = (
    "**Smoke scale (`scale=smoke`): a dozen iterations at a tiny size, run to show the pipeline and this layout. "
    "Its numbers mean nothing; the real grid is `make table1|table3 SCALE=paper` on a GPU box.**"
)


def _efficiency_line(path: Path | None, measured: dict[str, dict] | None) -> str:
    if measured is None:
        return (
            "Efficiency columns: no `--efficiency` measurements given; the parameter count is the runs' own, "
            "the storage multiplier and time the paper's only."
        )
    first = next(iter(measured.values()))
    where = ", ".join(f"{name} {first[key]}" for key, name in (("device", "on"), ("input", "input")) if key in first)
    return (
        f"Efficiency columns (ours / paper) measured by `make bench-table1` into `{path}` ({where}): trainable "
        "parameters, the storage multiplier of the first encoder level's kept maps, and fp32 inference time in ms — "
        "the paper's on a Titan GPU with Caffe, so compare ratios between variants, not milliseconds. "
        + lines_measured_on(measured.values(), path or Path("--efficiency"))
    )


TABLE1_INTRO = (
    "Laid out as Table 1 of Badrinarayanan et al., *SegNet* (TPAMI 2017): each score cell is "
    "**ours / paper (ours − paper)** in percent, the test (CamVid test set) and train scores of the checkpoint "
    "with the best validation G (Sec. 3.3). MF: median frequency balancing; NF: natural frequency balancing. "
    "A *run* column gives the steps trained, or how a job that did not finish ended; — : no results.json for "
    "that job."
)
SUMMARY_TABLE1_INTRO = (
    "Test scores in percent, each cell **ours (paper)**, of the checkpoint with the best validation G (Sec. 3.3); "
    "MF: median frequency balancing, NF: natural. *Stored bytes*: what the decoder keeps from the encoder at "
    "inference (`make bench-table1`); *time*: fp32 inference time as a ratio to SegNet-Basic's, ours (on the "
    "benchmark's CPU) beside the paper's (on its GPU)."
)
TABLE3_INTRO = (
    "Laid out as Table 3 of Badrinarayanan et al., *SegNet* (TPAMI 2017): CamVid test G, C, mIoU and BF in "
    "percent, each cell **ours / paper (ours − paper)**. Ours at a milestone (results.json `milestones`, scored "
    "during training) or at the selected checkpoint (best validation G); the paper's 40 K and 80 K beside a "
    'milestone at exactly that step, its "> 80 K" (its last test point, no later than its max iter) beside our '
    "selected checkpoint. The paper trained these networks on 3,433 road scenes without class balancing: only "
    "runs with balancing=natural are compared."
)


def _plots(
    report: Report, shown1: list[Run], shown3: list[Run], measured: dict | None, cells1: dict | None = None
) -> tuple[list, list]:
    """The plots of each table's runs, by table (Table 1's cells' means and intervals from `cells1`)."""
    figures1: list[str] = []
    figures3: list[str] = []
    if shown1:
        for written, notes in (
            grid_plots.write_efficiency_plots(shown1, measured, report.out_dir, cells1),
            grid_plots.write_curve_plot(shown1, report.out_dir / "table1-val-curves.png", "decoder variants"),
        ):
            figures1 += written
            report.notes += notes
    if shown3:
        curves = report.out_dir / "table3-val-curves.png"
        written, notes = grid_plots.write_curve_plot(shown3, curves, "Table 3 networks")
        figures3 += written
        report.notes += notes
    report.written += figures1 + figures3
    return figures1, figures3


def _fig4(report: Report, shown: list[Run], data_root: Path | None, images: int) -> list[Run]:
    """Fig. 4's panel of every shown run with predictions; the runs drawn (none when skipped)."""
    predicted = [run for run in shown if run.complete and qualitative.prediction_stems(run.folder)]
    if data_root is None:
        if predicted and (report.out_dir / "fig4.png").is_file():
            # The panel needs the data set's images, which are not in the repository: `make report` without
            # CAMVID_ROOT keeps the committed panel instead of deleting it.
            report.notes.append("kept fig4.png from an earlier report: no --data-root to draw it again")
            report.written.append("fig4.png")
            return predicted
        report.notes.append("skipped fig4.png: no --data-root (a CamVid folder with test/ and testannot/)")
        return []
    if not predicted:
        report.notes.append("skipped fig4.png: no run has predictions/<image>.png")
        return []
    columns = [(grid_plots.run_label(run), run.folder) for run in predicted]
    qualitative.write_fig4(columns, data_root, report.out_dir / "fig4.png", images)
    report.written.append("fig4.png")
    return predicted


def _write_summary(report: Report, summary: Path, title: str, written_by: str, runs: list[Run], table: list[str]):
    """The grid's one-page result beside its report folder (the issue's `docs/results/<grid>.md`)."""
    stems = [name.removesuffix(".md") for name in ("table1.md", "table3.md") if name in report.written]
    figures = [(name, FIGURE_CAPTIONS[name]) for name in OUTPUTS if name.endswith(".png") and name in report.written]
    document = grid_summary.summary_document(
        title,
        summary,
        report.out_dir,
        written_by=written_by,
        command=grid_summary.grid_command(runs),
        table=table,
        tables=[f"{stem}.{ext}" for stem in stems for ext in ("md", "csv", "tex")],
        figures=figures,
    )
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(document)
    report.notes.append(f"wrote {summary}")


def _write_table(report: Report, stem: str, rows: list[dict], tex: str, document: str) -> None:
    write_csv(frame(rows), report.out_dir / f"{stem}.csv")
    (report.out_dir / f"{stem}.tex").write_text(tex)
    (report.out_dir / f"{stem}.md").write_text(document)
    report.written += [f"{stem}.md", f"{stem}.csv", f"{stem}.tex"]


def write_report(
    paths: Sequence[Path],
    out_dir: Path,
    *,
    command: str,
    efficiency: Path | None = None,
    data_root: Path | None = None,
    title: str | None = None,
    fig4_images: int = 4,
    summary: Path | None = None,
    costs: Path | None = None,
    reference: str = "segnet_basic",
) -> Report:
    """Read every results.json under `paths` and write the report's files into `out_dir`, and the grid's
    one-page result into `summary` when given; `costs`: Table 6's measurements at the grid's size (JSON lines of
    segbench.benchmarks.table6_resources), shown with Table 3; `reference`: the model every Table 1-style cell is
    compared with, paired on the test images."""
    runs = find_runs(paths)
    measured = read_efficiency(efficiency) if efficiency is not None else None
    table3_runs = [run for run in runs if run.model.startswith("table3/") or table3_row(run.record.paper_name)]
    table1_runs = [run for run in runs if run.balancing in BALANCINGS and not any(run is r for r in table3_runs)]
    others = [run for run in runs if not any(run is r for r in (*table1_runs, *table3_runs))]
    if not table1_runs and not table3_runs:
        raise SegbenchError(
            f"none of the {len(runs)} runs under {', '.join(map(str, paths))} is of a decoder variant with "
            "balancing median_frequency or natural (Table 1) or of a Table 3 network (model=table3/...)"
        )
    report = Report(out_dir)
    if others:
        listed = ", ".join(f"{run.folder} (model={run.model}, balancing={run.balancing})" for run in others)
        report.notes.append(f"not in Table 1 or Table 3: {listed}")
    out_dir.mkdir(parents=True, exist_ok=True)
    cells1, cells3 = place(table1_runs, "Table 1"), place(table3_runs, "Table 3")
    scores1 = uncertainty.cell_scores(seeds(table1_runs, "Table 1"))
    # Table 3 shows one run per network: its interval is over the test images of that run.
    scores3 = uncertainty.cell_scores({key: [run] for key, run in cells3.items() if run.complete})
    rows1, rows3 = grid_tables.table1_rows(cells1, measured, scores1), grid_tables.table3_rows(cells3, scores3)
    shown1 = [run for runs_of in grid_tables.variants(cells1).values() for b in BALANCINGS if (run := runs_of.get(b))]
    shown3 = [cells3[key] for key in dict.fromkeys((row["model"], row["balancing"]) for row in rows3)]
    # Every seed of a cell counts in the table, though one run per cell stands for it elsewhere.
    counted1 = [*shown1, *(run for cell in scores1.values() for run in cell.runs if run not in shown1)]

    figures1, figures3 = _plots(report, shown1, shown3, measured, scores1)
    drawn = _fig4(report, [*shown1, *shown3], data_root, fig4_images)
    for shown, figures in ((shown1, figures1), (shown3, figures3)):
        if any(run is other for run in drawn for other in shown):
            figures.append("fig4.png")
    written_by = f"Written by `{command}` (do not edit by hand) from the runs' results.json."
    at_a_glance: list[str] = []  # the summary page's tables
    if rows1:
        found = [*_found(shown1), *_not_run(cells1)]
        noise = [line for text in uncertainty.method_lines(scores1) for line in ("", text)]
        intro = [f"{written_by} {TABLE1_INTRO}", "", *found, "", _efficiency_line(efficiency, measured), *noise]
        judge = conclusions.NoiseJudge.of(cells1, scores1)
        checked = conclusions.conclusions_section(conclusions.run_scores(cells1, scores1), judge=judge)
        compact = grid_summary.compact_table1(rows1, measured)
        reading = conclusions.against_reference_section(
            scores1, reference, {row["model"]: row["stored_bytes"] for row in rows1}
        )
        reading += [""] if reading else []
        at_a_glance += [*found, "", SUMMARY_TABLE1_INTRO, *noise, "", compact, "", *reading, *checked, ""]
        table = [grid_tables.table1_markdown(rows1), "", *reading, *checked]
        runs1 = runs_section(table1_runs, counted1)
        document = _document(title or "Table 1, ours beside the paper", intro, table, figures1, runs1, report.notes)
        _write_table(report, "table1", rows1, grid_tables.table1_tex(rows1, command), document)
    if rows3:
        departs = table3_departures(table3_runs)
        kept = any(scores.records for scores in scores3.values())  # a grid from before per-image records: as it was
        noise3 = [line for text in uncertainty.method_lines(scores3) for line in ("", text)] if kept else []
        intro = [f"{written_by} {TABLE3_INTRO}", *noise3, "", *_found(shown3), *([""] if departs else []), *departs]
        judge3 = conclusions.NoiseJudge.of(cells3, scores3)
        ours3 = conclusions.run_scores(cells3, scores3)
        if costs:
            ours3 = conclusions.with_costs(ours3, table6.measured_by_paper_name(costs))
        checked3 = conclusions.conclusions_section(ours3, judge=judge3, claims=conclusions.SECTION_4)
        cost = ["", *table6.cost_section(costs)] if costs else []
        table = [grid_tables.table3_markdown(rows3), "", *checked3, *cost]
        at_a_glance += (["## Table 3", ""] if rows1 else []) + [*_found(shown3), "", TABLE3_INTRO, "", *table, ""]
        at_a_glance += [*departs, ""] if departs else []
        heading = f"{title} (Table 3)" if title else "Table 3, ours beside the paper"
        runs3 = runs_section(table3_runs, shown3)
        document = _document(heading, intro, table, figures3, runs3, report.notes)
        _write_table(report, "table3", rows3, grid_tables.table3_tex(rows3, command), document)
    if summary is not None:
        heading = title or ("Table 1, ours beside the paper" if rows1 else "Table 3, ours beside the paper")
        _write_summary(report, summary, heading, written_by, [*table1_runs, *table3_runs], at_a_glance)
    for name in OUTPUTS:
        if name not in report.written and (out_dir / name).exists():
            (out_dir / name).unlink()
            report.notes.append(f"removed {out_dir / name}, from an earlier report with inputs this one lacks")
    return report
