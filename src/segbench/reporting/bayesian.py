"""Bayesian SegNet-Basic on CamVid: Monte Carlo dropout with N samples against the deterministic pass.

    python -m segbench.reporting.bayesian checkpoint logs/bayesian          # the trained run's selected checkpoint
    python -m segbench.reporting.bayesian collect logs/bayesian --out docs/results/bayesian-segnet/runs
    python -m segbench.reporting.bayesian report docs/results/bayesian-segnet/runs --out docs/results/bayesian-segnet
    python -m segbench.reporting.bayesian example IMAGES… --predictions <predict.py out=> --out docs/results/NAME.png

`make bayesian` runs the whole study (training, `eval.py mc_samples=1,10,40`, these three). `collect` copies
the newest complete training run under the task folder (as `train/`) and each eval.json scoring its selected
checkpoint (as `mc<N>/eval.json`) into the repository, local paths reduced to file names. `report` writes
NAME.md, NAME.csv and NAME.png: G/C/mIoU/BF of the MC mean of N softmax samples and of the single pass without
dropout, per test sequence, and the predictive entropy of the pixels the mean labels right and wrong (Kendall,
Badrinarayanan and Cipolla's Bayesian SegNet, beyond the paper: uncertainty should be higher where it is wrong).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from segbench.errors import SegbenchError
from segbench.record.per_image import PER_IMAGE_FILE
from segbench.record.run import EvalRecord, dump, read_record
from segbench.reporting.collect import copy_run
from segbench.reporting.grid_runs import Run, find_runs, percent, settings, train_command
from segbench.reporting.tables import frame, markdown_from, write_csv
from segbench.utils import exit_on_user_error

MEASURES = ("G", "C", "mIoU", "BF")
DPI = 120


def trained_run(task_dir: Path) -> Run:
    """The newest complete training run under `task_dir` that kept a selected checkpoint."""
    runs = [run for run in find_runs([task_dir]) if run.complete and run.record.best_checkpoint]
    if not runs:
        raise SegbenchError(f"no complete training run with a selected checkpoint under {task_dir}")
    return max(runs, key=lambda run: run.file.stat().st_mtime)


def collect(task_dir: Path, out: Path) -> list[Path]:
    """Copy the trained run and the MC evaluations of its selected checkpoint into `out`; returns the copies."""
    run = trained_run(task_dir)
    checkpoint = Path(str(run.record.best_checkpoint)).resolve()
    evaluations = {}
    for file in sorted(task_dir.rglob("eval.json")):
        evaluation = read_record(file, EvalRecord)
        if evaluation.mc_samples and Path(evaluation.ckpt_path).resolve() == checkpoint:
            evaluations[evaluation.mc_samples] = (file, evaluation)  # sorted paths: a later sweep's replaces
    if not evaluations:
        raise SegbenchError(f"no eval.json with mc_samples scoring {checkpoint} under {task_dir}")
    copies = [copy_run(run, out / "train")]
    for samples, (file, evaluation) in sorted(evaluations.items()):
        # names, not this machine's paths
        evaluation = evaluation.model_copy(
            update={"ckpt_path": checkpoint.name, "dataset": Path(evaluation.dataset).name}
        )
        copy = out / f"mc{samples}"
        copy.mkdir(parents=True, exist_ok=True)
        (copy / "eval.json").write_text(evaluation.model_dump_json(indent=2) + "\n")
        if evaluation.per_image:
            shutil.copy2(file.parent / evaluation.per_image, copy / PER_IMAGE_FILE)
        copies.append(copy)
    return copies


def _evaluations(runs_dir: Path) -> list[dict[str, Any]]:
    files = sorted(runs_dir.glob("mc*/eval.json"))
    if not files:
        raise SegbenchError(f"no mc<N>/eval.json under {runs_dir} (python -m segbench.reporting.bayesian collect …)")
    evaluations = [dump(read_record(file, EvalRecord)) for file in files]
    for file, evaluation in zip(files, evaluations):
        missing = [f"{p}/{m}" for p in ("test", "test_deterministic") for m in MEASURES if f"{p}/{m}" not in evaluation]
        if missing or not evaluation.get("mc_samples"):
            raise SegbenchError(f"{file} is not an MC evaluation (no mc_samples or no {', '.join(missing)})")
    return sorted(evaluations, key=lambda evaluation: evaluation["mc_samples"])


def _row(label: str, samples: str, scores: dict[str, Any], prefix: str, sequences_from: dict | None) -> dict[str, Any]:
    row: dict[str, Any] = {"pass": label, "samples": samples}
    row.update({f"test {m}": percent(scores.get(f"{prefix}/{m}"), 1) for m in MEASURES})
    for sequence, sequence_scores in ((sequences_from or {}).get("per_sequence") or {}).items():
        row[f"{sequence} mIoU"] = percent(sequence_scores.get("mIoU"), 1)
    # the entropy is of the MC mean: it belongs to the MC rows only
    right, wrong = (
        (scores.get("test/entropy_right"), scores.get("test/entropy_wrong")) if prefix == "test" else (None,) * 2
    )
    row["entropy right"] = None if right is None else round(right, 3)
    row["entropy wrong"] = None if wrong is None else round(wrong, 3)
    row["wrong ÷ right"] = round(wrong / right, 2) if right and wrong is not None else None
    return row


def report_rows(
    evaluations: list[dict[str, Any]], reference: Run | None, trained: Run | None = None
) -> list[dict[str, Any]]:
    """The deterministic pass (dropout off), each MC sample count, and a model trained without dropout."""
    largest = evaluations[-1]
    # an eval's per-sequence scores are of its MC mean; the deterministic pass's are the training run's own
    # (the same checkpoint, scored the same way)
    rows = [_row("dropout off (one pass)", "1", largest, "test_deterministic", trained and dump(trained.record))]
    rows += [_row("MC dropout mean", str(e["mc_samples"]), e, "test", e) for e in evaluations]
    if reference is not None:
        name = "SegNet-Basic, no dropout (same recipe)"
        rows.append(_row(name, "1", reference.record.test, "test", dump(reference.record)))
    keys = list(dict.fromkeys(key for row in rows for key in row))
    sequences = [key for key in keys if key.endswith(" mIoU") and not key.startswith("test ")]
    columns = [key for key in keys if key not in sequences]
    columns[columns.index("test BF") + 1 : columns.index("test BF") + 1] = sequences
    return [{key: row.get(key) for key in columns} for row in rows]


def _text(column: str, value: Any) -> str:
    if value is None:
        return ""
    decimals = 3 if column.startswith("entropy") else 2 if column == "wrong ÷ right" else 1
    return f"{value:.{decimals}f}" if isinstance(value, float) else str(value)


def write_figure(evaluations: list[dict[str, Any]], path: Path) -> None:
    """Left: test scores against the number of samples, the deterministic pass dashed. Right: the predictive
    entropy of right and wrong pixels at the largest N, each as a share of its pixels."""
    figure = Figure(figsize=(11, 4.2))
    scores_axis, entropy_axis = figure.subplots(1, 2)
    samples = [e["mc_samples"] for e in evaluations]
    for measure, colour in zip(MEASURES, ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        values = [100 * e[f"test/{measure}"] for e in evaluations]
        scores_axis.plot(samples, values, "o-", color=colour, label=f"{measure} (MC mean)")
        scores_axis.axhline(100 * evaluations[-1][f"test_deterministic/{measure}"], color=colour, ls="--", lw=1)
    scores_axis.set(xscale="log", xlabel="Monte Carlo samples N", ylabel="test score (%)",
                    title="MC dropout (solid) vs one pass without dropout (dashed)")  # fmt: skip
    scores_axis.set_xticks(samples, [str(n) for n in samples])
    scores_axis.legend(fontsize=8)
    histogram = evaluations[-1].get("entropy_histogram")
    if histogram:
        edges = histogram["edges"]
        centres, width = [(a + b) / 2 for a, b in zip(edges, edges[1:])], edges[1] - edges[0]
        for kind, colour in (("right", "tab:green"), ("wrong", "tab:red")):
            total = sum(histogram[kind]) or 1
            entropy_axis.bar(centres, [100 * c / total for c in histogram[kind]], width=width, alpha=0.55,
                             color=colour, label=f"{kind}ly labelled pixels")  # fmt: skip
        entropy_axis.set(xlabel="predictive entropy ÷ log K (0 certain, 1 uniform)", ylabel="share of pixels (%)",
                         title=f"uncertainty at N = {evaluations[-1]['mc_samples']}")  # fmt: skip
        entropy_axis.legend(fontsize=8)
    else:
        entropy_axis.set_axis_off()
        entropy_axis.text(0.5, 0.5, "no entropy histogram in the eval.json", ha="center")
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)


def write_example(images: list[Path], predictions: Path, path: Path) -> None:
    """One row per image: the image | predict.py's overlay of the MC mean | its uncertainty map."""
    figure = Figure(figsize=(13, 3.3 * len(images)))
    axes = figure.subplots(len(images), 3, squeeze=False)
    for row, image in zip(axes, images):
        panels = (
            (image, image.stem),
            (predictions / f"{image.stem}_overlay.png", "MC dropout mean (CamVid colours)"),
            (predictions / f"{image.stem}_uncertainty.png", "uncertainty (bright: high entropy)"),
        )
        for axis, (file, title) in zip(row, panels):
            if not file.is_file():
                raise SegbenchError(f"{file} is missing: python src/predict.py inputs=… mc_samples=N out={predictions}")
            with Image.open(file) as picture:
                shown = np.asarray(picture)
            if shown.ndim == 2:  # the 8-bit uncertainty map
                axis.imshow(shown, cmap="inferno", vmin=0, vmax=255)
            else:
                axis.imshow(shown)
            axis.set_title(title, fontsize=9)
            axis.set_axis_off()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)


def write_report(runs_dir: Path, out_stem: Path, command: str, reference: Path | None = None) -> list[dict]:
    evaluations = _evaluations(runs_dir)
    trained = find_runs([runs_dir / "train"])[0] if (runs_dir / "train" / "results.json").is_file() else None
    reference_run = find_runs([reference])[0] if reference else None
    rows = report_rows(evaluations, reference_run, trained)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    write_csv(frame(rows), out_stem.with_suffix(".csv"))
    write_figure(evaluations, out_stem.with_suffix(".png"))
    columns = list(rows[0])
    lines = [
        "# Bayesian SegNet-Basic on CamVid: Monte Carlo dropout vs one pass",
        "",
        f"Written by `{command}` (do not edit by hand) from the files in `{runs_dir.name}/` beside it "
        f"(`{out_stem.name}.csv` has the same rows). Scores in percent on the test split at the checkpoint "
        "with the best validation G; entropy is the per-pixel predictive entropy of the MC mean divided by "
        "log K (0 certain, 1 uniform), averaged over labelled pixels the mean gets right and wrong. Dropout "
        "p = 0.5 after the two deepest encoder stages and the two deepest decoders (the central placement of the "
        "release's bayesian_segnet_basic_train.prototxt); batch norm keeps its running statistics while sampling.",
        "",
    ]
    if trained is not None:
        lines += [f"- {line}" for line in settings([trained])] + [""]
    lines.append(markdown_from(columns, [[_text(key, row[key]) for key in columns] for row in rows]))
    lines += ["", f"![MC dropout scores and uncertainty]({out_stem.name}.png)", "", "Re-created by:", ""]
    if trained is not None:
        lines.append(f"- training: `{train_command(trained) or '(no .hydra/overrides.yaml)'}`")
        checkpoint = trained.record.best_checkpoint or "<best>.ckpt"
    else:
        checkpoint = evaluations[-1]["ckpt_path"]
    samples = ",".join(str(e["mc_samples"]) for e in evaluations)
    # As `make bayesian` scores it: in bf16 (trainer=cpu_fast), as it was trained; fp32 scores differ slightly.
    lines.append(f"- evaluation: `python src/eval.py --multirun task_name=bayesian trainer=cpu_fast "
                 f"ckpt_path=<run>/checkpoints/{checkpoint} mc_samples={samples}` (one eval.json per N)")  # fmt: skip
    if reference_run is not None:
        lines.append(f"- the model without dropout: `{train_command(reference_run)}`")
    out_stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return rows


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    checkpoint = commands.add_parser("checkpoint", help="print the selected checkpoint of the newest trained run")
    checkpoint.add_argument("task_dir", type=Path)
    collecting = commands.add_parser("collect", help="copy the trained run and its MC evaluations")
    collecting.add_argument("task_dir", type=Path)
    collecting.add_argument("--out", type=Path, required=True)
    reporting = commands.add_parser("report", help="write NAME.md, NAME.csv and NAME.png")
    reporting.add_argument("runs", type=Path)
    reporting.add_argument("--out", type=Path, required=True, help="the output stem, e.g. docs/results/NAME")
    reporting.add_argument("--reference", type=Path, help="results.json of the same recipe without dropout")
    reporting.add_argument("--command", dest="named_command", help="the command named in the document")
    example = commands.add_parser("example", help="image | overlay | uncertainty rows from predict.py's output")
    example.add_argument("images", type=Path, nargs="+")
    example.add_argument("--predictions", type=Path, required=True, help="predict.py's out= folder")
    example.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    if args.command == "checkpoint":
        print(trained_run(args.task_dir).record.best_checkpoint)
    elif args.command == "example":
        write_example(args.images, args.predictions, args.out)
    elif args.command == "collect":
        for copy in collect(args.task_dir, args.out):
            print(copy)
    else:
        given = sys.argv[1:] if argv is None else argv
        command = args.named_command or "python -m segbench.reporting.bayesian " + " ".join(given)
        write_report(args.runs, args.out, command, args.reference)


if __name__ == "__main__":
    main()
