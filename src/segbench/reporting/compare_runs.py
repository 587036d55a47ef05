"""Runs side by side: the choices that set them apart, their scores, per test sequence and per class.

python -m segbench.reporting.compare_runs RUNS_DIR [...] --out docs/results/NAME --title "..." --command "make ..."

Written for recipe studies (docs/results/camvid-cpu-recipe.md: fixed vs decayed rate, without vs with
augmentation at one budget), where one model is trained several ways and Table 1's layout, one cell per
variant and balancing, does not apply. Writes NAME.md and NAME.csv; scores in percent at the checkpoint
with the best validation G, on the labels results.json names (`scoring_resolution`).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from pathlib import Path

from segbench.errors import SegbenchError
from segbench.reporting.grid_runs import Run, find_runs, percent, settings, train_command, varying_settings
from segbench.reporting.tables import frame, markdown_from, write_csv
from segbench.utils import command_line, exit_on_user_error

TEST_METRICS = ("G", "C", "mIoU", "BF")
SCORES = (("test", TEST_METRICS), ("val", ("G", "C", "mIoU")), ("train", ("G", "C", "mIoU")))


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def comparison_rows(runs: Sequence[Run]) -> list[dict]:
    """One row per run: its distinguishing choices, budget, and selected-checkpoint scores (percent)."""
    varying = varying_settings(runs)
    sequences = sorted({name for run in runs for name in run.record.per_sequence})
    rows = []
    for run in runs:
        row = {key: run.setting(key) for key in varying}
        row |= {
            "status": run.status,
            "epochs": run.record.epochs_trained,
            "steps": run.global_step,
            "fit minutes": round(run.record.fit_seconds / 60, 1) if run.record.fit_seconds else None,
            "selected": Path(run.record.best_checkpoint or "").stem,
        }
        for split, metrics in SCORES:
            row |= {f"{split} {metric}": percent(run.score(split, metric), 1) for metric in metrics}
        for name in sequences:
            scores = run.record.per_sequence[name].model_dump() if name in run.record.per_sequence else {}
            row |= {f"{name} {metric}": percent(scores.get(metric), 1) for metric in ("G", "C", "mIoU", "BF")}
        rows.append(row)
    return rows


def seed_spread(runs: Sequence[Run], varying: Sequence[str]) -> list[str]:
    """Runs trained alike but for their seed: each test score's mean, sample standard deviation and range, the
    noise any difference between two single runs (a Table 1 cell each) has to be read against."""
    others = [key for key in varying if key != "seed"]
    groups: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(str(run.setting(key)) for key in others), []).append(run)
    rows = []
    for key, members in groups.items():
        if len({run.seed for run in members}) < 2:
            continue
        cells = [*key, ", ".join(str(run.seed) for run in members)]
        for metric in TEST_METRICS:
            values = [100 * value for run in members if (value := run.score("test", metric)) is not None]
            if len(values) < 2:
                cells.append("")
                continue
            mean, deviation = statistics.mean(values), statistics.stdev(values)
            cells.append(f"{mean:.1f} ± {deviation:.1f} ({min(values):.1f}–{max(values):.1f})")
        rows.append(cells)
    if not rows:
        return []
    header = [*others, "seeds", *(f"test {metric}" for metric in TEST_METRICS)]
    caption = "Spread over seeds (test scores in percent: mean ± sample standard deviation (min–max)):"
    return ["", caption, "", markdown_from(header, rows)]


def per_class_rows(runs: Sequence[Run], names: Sequence[str]) -> list[list[str]]:
    """Test IoU of each class (rows) for each run (columns): where the mIoU is lost."""
    return [[cls, *(_cell(percent(run.score("test", f"IoU/{cls}"), 1)) for run in runs)] for cls in names]


def write_comparison(paths: Sequence[Path], out_stem: Path, title: str, command: str) -> list[Run]:
    runs = [run for run in find_runs(paths) if run.complete]
    if not runs:
        raise SegbenchError(f"no complete run below {', '.join(map(str, paths))}")
    varying = varying_settings(runs)
    runs = sorted(runs, key=lambda run: [str(run.setting(key)) for key in varying])
    labels = [", ".join(f"{k}={run.setting(k)}" for k in varying) or run.folder.name for run in runs]
    rows = comparison_rows(runs)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    write_csv(frame(rows), out_stem.with_suffix(".csv"))

    main_columns = [*varying, "epochs", "fit minutes", "selected", "test G", "test C", "test mIoU", "test BF",
                    "val G", "val mIoU", "train G", "train mIoU"]  # fmt: skip
    sequence_names = {name for run in runs for name in run.record.per_sequence}
    sequence_columns = [key for key in rows[0] if key.split(" ")[0] in sequence_names]
    intro = (
        f"Written by `{command}` (do not edit by hand) from the runs' results.json beside it (`{out_stem.name}.csv` "
        "holds every column). Scores in percent at the checkpoint with the best validation G. The budget is the "
        "steps: *fit minutes* is the fitting loop's wall time (summed over resumed segments), which includes any "
        "time the run shared the CPU with other jobs."
    )
    lines = [f"# {title}", "", intro, "", *(f"- {line}" for line in settings(runs)), ""]
    lines.append(markdown_from(main_columns, [[_text(row[key]) for key in main_columns] for row in rows]))
    lines += seed_spread(runs, varying)
    if sequence_columns:
        lines += ["", "Test scores per video sequence:", ""]
        columns = [*varying, *sequence_columns]
        lines.append(markdown_from(columns, [[_text(row[key]) for key in columns] for row in rows]))
    names = runs[0].record.class_names
    if names:
        lines += ["", "Test IoU per class:", ""]
        lines.append(markdown_from(["class", *labels], per_class_rows(runs, names)))
    lines += ["", "Each run re-created by (its full config is in `<run>/.hydra/config.yaml`):", ""]
    lines += [f"- {label}: `{train_command(run) or '(no .hydra/overrides.yaml)'}`" for label, run in zip(labels, runs)]
    out_stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return runs


def _text(value) -> str:
    if value is None:
        return ""
    return f"{value:.1f}" if isinstance(value, float) else str(value)


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run or sweep folders (searched for results.json)")
    parser.add_argument("--out", type=Path, required=True, help="output path without suffix")
    parser.add_argument("--title", default="Runs compared")
    parser.add_argument("--command", help="the command named in the document (default: this one)")
    args = parser.parse_args(argv)
    command = args.command or command_line("python -m segbench.reporting.compare_runs", argv)
    write_comparison(args.runs, args.out, args.title, command)
    print(args.out.with_suffix(".md"))


if __name__ == "__main__":
    main()
