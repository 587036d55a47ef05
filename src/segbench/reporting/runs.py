"""A Table 1-style table from runs' results.json, with the paper's numbers beside ours.

python -m segbench.reporting.runs RUN_DIR [RUN_DIR ...] --out docs/results/NAME
A multirun directory may be given too: every results.json below it is read.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import yaml

from segbench.paper import TABLE1

TEST = ("G", "C", "mIoU", "BF")
TRAIN = ("G", "C", "mIoU")


def find_results(paths: list[Path]) -> list[tuple[Path, dict]]:
    found = []
    for path in paths:
        files = [path] if path.is_file() else sorted(path.glob("**/results.json"))
        if not files:
            raise FileNotFoundError(f"no results.json in {path}")
        found += [(file.parent, json.loads(file.read_text())) for file in files]
    return found


def _percent(scores: dict, key: str) -> str:
    return f"{100 * scores[key]:.1f}" if key in scores else ""


def runs_table(runs: list[tuple[Path, dict]]) -> list[str]:
    header = (
        ["run", "model", "balancing", "epochs", "steps"]
        + [f"test {m}" for m in TEST]
        + [f"train {m}" for m in TRAIN]
        + ["Table 1 test G/C/mIoU/BF"]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run_dir, results in runs:
        choices = results.get("choices", {})
        model = choices.get("model", "?")
        paper = TABLE1.get(model, {}).get("test") if choices.get("balancing") == "median_frequency" else None
        cells = [
            run_dir.name,
            model,
            choices.get("balancing", "?"),
            str(results.get("epochs_trained", "")),
            str(results.get("global_step", "")),
            *(_percent(results["test"], f"test/{m}") for m in TEST),
            *(_percent(results.get("train", {}), f"train/{m}") for m in TRAIN),
            " / ".join(str(paper[m]) for m in TEST) if paper else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def train_command(run_dir: Path) -> str | None:
    """The command that re-creates a run, from the overrides Hydra saved beside it."""
    overrides = run_dir / ".hydra" / "overrides.yaml"
    if not overrides.is_file():
        return None
    given = [o for o in yaml.safe_load(overrides.read_text()) if not o.startswith("hydra.")]
    # A run resumed from its own checkpoint is re-created from scratch by the same overrides.
    chosen = [o for o in given if not o.startswith("ckpt_path=")]
    note = " (trained in resumed segments)" if len(chosen) < len(given) else ""
    return "python src/train.py " + " ".join(shlex.quote(o) for o in chosen) + note


def write_runs_report(paths: list[Path], out_stem: Path, command: str, title: str = "Runs") -> list[tuple[Path, dict]]:
    runs = find_results(paths)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    text = (
        f"# {title}\n\nWritten by `{command}` (do not edit by hand). "
        "Scores in percent at the checkpoint with the best validation G.\n\n"
    )
    text += "\n".join(runs_table(runs)) + "\n"
    commands = [f"- `{run_dir.name}`: `{command}`" for run_dir, _ in runs if (command := train_command(run_dir))]
    if commands:
        text += (
            "\nEach run re-created by (its full config is in `<run>/.hydra/config.yaml`):\n\n"
            + "\n".join(commands)
            + "\n"
        )
    out_stem.with_suffix(".md").write_text(text)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run or multirun directories (or results.json files)")
    parser.add_argument("--out", type=Path, required=True, help="output path without suffix")
    parser.add_argument("--title", default="Runs")
    args = parser.parse_args()
    command = "python -m segbench.reporting.runs " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        write_runs_report(args.runs, args.out, command, args.title)
    except FileNotFoundError as error:
        raise SystemExit(f"error: {error}") from None
    print(args.out.with_suffix(".md"))


if __name__ == "__main__":
    main()
