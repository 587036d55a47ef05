"""Validation curves of several runs on one plot, from their CSV logs (e.g. BN statistics on/off).

python -m segbench.reporting.curves --run "label=RUN_DIR" --run "label=RUN_DIR" --metric val/G --out docs/results/NAME
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
from pathlib import Path

from matplotlib.figure import Figure

from segbench.reporting.tables import frame, markdown


def read_curve(run_dir: Path, metric: str) -> list[tuple[int, int, float]]:
    """(epoch, step, value) of `metric` from every csv/version_*/metrics.csv of a run; a resumed run's later log wins.

    Only evaluations made during training count: a row is kept when training rows follow it in
    the same log, which leaves out scores logged after fitting ended.
    """
    files = sorted(run_dir.glob("csv/version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
    if not files:
        raise FileNotFoundError(f"{run_dir} has no csv/version_*/metrics.csv (train it with logger=csv)")
    by_step: dict[int, tuple[int, int, float]] = {}
    for path in files:
        pending: list[tuple[int, int, float]] = []
        with path.open() as handle:
            for row in csv.DictReader(handle):
                if row.get(metric):
                    pending.append((int(row["epoch"]), int(row["step"]), float(row[metric])))
                elif any(value for key, value in row.items() if key.startswith("train/")):
                    by_step.update({step: (epoch, step, value) for epoch, step, value in pending})
                    pending = []
    return [by_step[step] for step in sorted(by_step)]


def largest_drop(curve: list[tuple[int, int, float]]) -> float:
    """The largest fall from one evaluation to the next; 0 for a curve that never falls."""
    return max([before[2] - after[2] for before, after in zip(curve, curve[1:])] + [0.0])


def write_curves(
    runs: dict[str, Path], metric: str, out_stem: Path, command: str
) -> dict[str, list[tuple[int, int, float]]]:
    curves = {label: read_curve(path, metric) for label, path in runs.items()}
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    figure = Figure(figsize=(7, 4))
    axis = figure.subplots()
    for label, curve in curves.items():
        axis.plot(
            [epoch + 1 for epoch, _, _ in curve],
            [100 * value for _, _, value in curve],
            marker="o",
            markersize=3,
            label=label,
        )
    axis.set_xlabel("epoch")
    axis.set_ylabel(f"{metric} (%)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out_stem.with_suffix(".png"), dpi=120)
    labels = list(curves)
    epochs = sorted({epoch for curve in curves.values() for epoch, _, _ in curve})
    values = {label: {epoch: value for epoch, _, value in curve} for label, curve in curves.items()}
    table = frame(
        {
            "epoch": epoch + 1,
            **{label: f"{100 * values[label][epoch]:.2f}" if epoch in values[label] else "" for label in labels},
        }
        for epoch in epochs
    )
    spread = [
        f"- {label}: best {100 * max(v for *_, v in c):.2f}, last {100 * c[-1][2]:.2f}, "
        f"largest drop between consecutive evaluations {100 * largest_drop(c):.2f} points"
        for label, c in curves.items()
    ]
    text = (
        f"# {metric} per evaluation\n\nWritten by `{command}` (do not edit by hand).\n\n"
        f"![{metric}]({out_stem.name}.png)\n\n" + "\n".join(spread) + "\n\n" + markdown(table) + "\n"
    )
    out_stem.with_suffix(".md").write_text(text)
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--run",
        action="append",
        required=True,
        help="LABEL=RUN_DIR (a train.py output dir with logger=csv); split at the last '='",
    )
    parser.add_argument("--metric", default="val/G")
    parser.add_argument("--out", type=Path, required=True, help="output path without suffix (.png and .md are written)")
    args = parser.parse_args()
    runs = dict(item.rsplit("=", 1) for item in args.run)
    command = "python -m segbench.reporting.curves " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        write_curves({label: Path(path) for label, path in runs.items()}, args.metric, args.out, command)
    except FileNotFoundError as error:
        raise SystemExit(f"error: {error}") from None
    print(args.out.with_suffix(".md"))


if __name__ == "__main__":
    main()
