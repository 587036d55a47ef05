"""docs/results/table6.{md,csv} from the JSON lines of `segbench.benchmarks.table6_resources` (`make bench`).

A row per network measured, in the session's order, beside Table 6 of the SegNet paper (TPAMI 2017) looked up by the
network's paper name (its model config's `meta.paper_name`): "—" where Table 6 did not measure it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from segbench.paper import table6_row
from segbench.record.provenance import lines_measured_on
from segbench.reporting.tables import frame, markdown, write_csv
from segbench.reporting.variants import configured_paper_names

REFERENCE = "table3/segnet"  # ratios are against SegNet of the same session, the paper's against its SegNet
PAPER_REFERENCE = "SegNet"
MEASURES = ("forward_ms", "backward_ms", "training_mb", "inference_mb", "model_mb")
HEADINGS = ("forward ms", "backward ms", "training memory MB", "inference memory MB", "model MB")


def table6_rows(lines: list[dict], paper_names: dict[str, str | None] | None = None) -> list[dict]:
    """`paper_names`: each line's model's paper name (None where the paper lacks it); by default from its config."""
    by_model = {line["model"]: line for line in lines}
    if REFERENCE not in by_model:
        raise ValueError(f"the session has no {REFERENCE} line to compute ratios against")
    if paper_names is None:
        paper_names = configured_paper_names(by_model)
    reference, paper_reference = by_model[REFERENCE], table6_row(PAPER_REFERENCE)
    rows = []
    for model, line in by_model.items():
        # A network Table 6 did not measure still goes by the paper's name for it (Table 3's FCN, SegNet-Basic).
        name = paper_names.get(model)
        paper = table6_row(name)
        row = {"model": model, "paper_name": name or "", "params": line["params"]}
        for measure in MEASURES:
            row[measure] = round(line[measure], 1)
            row[f"{measure}_ratio"] = round(line[measure] / reference[measure], 2)
            row[f"paper_{measure}"] = paper[measure] if paper else ""
            row[f"paper_{measure}_ratio"] = round(paper[measure] / paper_reference[measure], 2) if paper else ""
        rows.append(row)
    return rows


def _read(jsonl: Path) -> list[dict]:
    return [json.loads(text) for text in jsonl.read_text().splitlines() if text.strip()]


def measured_by_paper_name(jsonl: Path) -> dict[str, dict]:
    """Each measured network's row (its MEASURES) by the paper's name for it: what Sec. 4's cost claims compare."""
    return {row["paper_name"]: row for row in table6_rows(_read(jsonl)) if row["paper_name"]}


def _shown(rows: list[dict]) -> list[dict]:
    """Each row as displayed: ours (÷ SegNet) beside Table 6's (÷ its SegNet), per measure."""
    shown = []
    for row in rows:
        cells = {"network": row["paper_name"] or row["model"], "params": f"{row['params']:,}"}
        for measure, heading in zip(MEASURES, HEADINGS):
            paper = row[f"paper_{measure}"]
            cells[f"{heading} (÷ SegNet)"] = f"{row[measure]:,} ({row[f'{measure}_ratio']})"
            cells[f"{heading}: Table 6 (÷ SegNet)"] = (
                f"{paper:,} ({row[f'paper_{measure}_ratio']})" if paper != "" else "—"
            )
        shown.append(cells)
    return shown


def _size(lines: list[dict]) -> str:
    # Lines from before the size was recorded were measured at the paper's 360x480.
    return " / ".join(dict.fromkeys("x".join(map(str, line.get("input", [360, 480]))) for line in lines))


def cost_section(jsonl: Path) -> list[str]:
    """A grid report's section: Table 6's columns measured at the grid's size into `jsonl`, whose report beside it
    (`write_table6`) names the command."""
    lines = _read(jsonl)
    return [
        f"## Cost: Table 6's columns at {_size(lines)}",
        "",
        f"Measured into `{jsonl}` in one session (its command: `{jsonl.with_suffix('.md')}`): forward and "
        "backward ms of one training step at batch 1, peak memory of an SGD step at batch 4 and of inference at "
        "batch 1, the fp32 model's size; each in brackets as a ratio to SegNet's of the same session, beside "
        f"Table 6's (Titan GPU, 360x480). {lines_measured_on(lines, jsonl)}",
        "",
        markdown(frame(_shown(table6_rows(lines)))),
    ]


def write_table6(jsonl: Path, out_stem: Path, command: str, title: str = "Table 6, measured") -> list[dict]:
    lines = _read(jsonl)
    rows = table6_rows(lines)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    write_csv(frame(rows), out_stem.with_suffix(".csv"))
    first = lines[0]
    text = f"""# {title}

Written by `{command}` (do not edit by hand); the measurements are in `{jsonl.name}` beside this file.
{lines_measured_on(lines, jsonl)} Device: {first["device"]}.
Each figure in brackets is the ratio to
SegNet (VGG16) of the same session, or of the paper's Table 6: absolute CPU times mean little across machines.

- *forward / backward ms*: median of {first["runs"]} iterations after a warm-up, training mode, batch 1,
  {_size(lines)} (the paper: `caffe time`, 10 iterations, Titan GPU, 360x480);
- *training / inference memory*: peak resident memory of a fresh process running one SGD step at batch 4
  (inference: one forward pass at batch 1, no gradients) at that size, minus its memory after importing torch — weights,
  activations, gradients and momentum (the paper: nvidia-smi on the GPU);
- *model MB*: the saved fp32 state dict (the paper: the Caffe model on disk). SegNet-Basic is Table 1's network.

{markdown(frame(_shown(rows)))}
"""
    out_stem.with_suffix(".md").write_text(text)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("jsonl", type=Path, help="JSON lines written by segbench.benchmarks.table6_resources")
    parser.add_argument("--out", type=Path, default=Path("docs/results/table6"), help="output path without suffix")
    parser.add_argument("--title", default="Table 6, measured", help="the document's heading")
    parser.add_argument("--command", default="make bench-table6", help="the command named in the document")
    args = parser.parse_args()
    write_table6(args.jsonl, args.out, args.command, args.title)
    print(args.out.with_suffix(".md"))


if __name__ == "__main__":
    main()
