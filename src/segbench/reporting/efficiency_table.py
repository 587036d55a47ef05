"""docs/results/table1-efficiency.{md,csv} from one benchmarking session's JSON lines (`make bench`).

Table 1's efficiency columns (SegNet, TPAMI 2017: params, storage multiplier, inference time) of every network the
session measured, beside the paper's: a row per line, the paper's numbers from Table 1's row of the network's paper
name (its model config's `meta.paper_name`), "—" where the paper does not have it (empty in the CSV).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from segbench.paper import table1_row
from segbench.record.provenance import lines_measured_on
from segbench.reporting.tables import frame, markdown, write_csv
from segbench.reporting.variants import NOT_IN_PAPER, configured_paper_names, variant_order

REFERENCE = "segnet_basic"  # the session's line every time is a ratio to, as Sec. 3.3 reads them
PAPER_REFERENCE = "SegNet-Basic"
COLUMNS = [
    "model",
    "paper_name",
    "params",
    "paper_params_m",
    "decoder_params",
    "decoder_gflops",
    "storage_multiplier",
    "paper_storage_multiplier",
    "stored_bytes",
    "infer_ms_fp32",
    "infer_ms_bf16_channels_last",
    "ratio_fp32",
    "ratio_bf16_channels_last",
    "auto_pick",
    "paper_infer_ms",
    "paper_ratio",
]


def _rounded(ms: float | None, digits: int) -> float | None:
    """None: the path was stopped as far slower than fp32, or not run (a CPU without oneDNN bf16 kernels)."""
    return None if ms is None else round(ms, digits)


def _ratio(ms: float | None, reference: float | None) -> float | None:
    return None if ms is None or reference is None else round(ms / reference, 3)


def efficiency_rows(lines: list[dict], paper_names: dict[str, str | None] | None = None) -> list[dict]:
    """A row per line, in the report's order (segbench.reporting.variants: Table 1's variants in its order, then the
    others by `model=` option), with inference times relative to SegNet-Basic of the same session. `paper_names`:
    each line's model's paper name (None where the paper lacks it); by default from the models' configs."""
    by_model = {line["model"]: line for line in lines}
    if REFERENCE not in by_model:
        raise ValueError(f"the session has no {REFERENCE} line to compute ratios against")
    if paper_names is None:
        paper_names = configured_paper_names(by_model)
    reference, paper_reference = by_model[REFERENCE], table1_row(PAPER_REFERENCE)["infer_ms"]
    rows = []
    for model in sorted(by_model, key=lambda model: variant_order(paper_names.get(model), model)):
        line, paper = by_model[model], table1_row(paper_names.get(model))
        rows.append(
            {
                "model": model,
                "paper_name": paper_names.get(model),
                "params": line["params"],
                "paper_params_m": paper and paper["params_m"],
                # None: a line from before they were measured
                "decoder_params": line.get("decoder_params"),
                "decoder_gflops": None if line.get("decoder_flops") is None else round(line["decoder_flops"] / 1e9, 2),
                "storage_multiplier": line["storage_multiplier"],
                "paper_storage_multiplier": paper
                and ("n/a" if paper["storage_multiplier"] is None else paper["storage_multiplier"]),
                "stored_bytes": line["stored_bytes"],
                "infer_ms_fp32": round(line["infer_ms_fp32"], 1),
                "infer_ms_bf16_channels_last": _rounded(line["infer_ms_bf16_channels_last"], 1),
                "ratio_fp32": round(line["infer_ms_fp32"] / reference["infer_ms_fp32"], 3),
                "ratio_bf16_channels_last": _ratio(
                    line["infer_ms_bf16_channels_last"], reference["infer_ms_bf16_channels_last"]
                ),
                # what `precision: auto` picked for this network on the benchmark's machine (older sessions: none)
                "auto_pick": line.get("auto_pick", "not recorded"),
                "paper_infer_ms": paper and paper["infer_ms"],
                "paper_ratio": paper and round(paper["infer_ms"] / paper_reference, 3),
            }
        )
    return rows


def _paper(value: object) -> object:
    return NOT_IN_PAPER if value is None else value


def _measured(value: float | None, form: str) -> str:
    return "not measured" if value is None else form.format(value)


def _shown(value: float | None) -> str:
    return "not run (no oneDNN bf16 kernels) or stopped" if value is None else str(value)


def write_efficiency_table(
    jsonl: Path, out_stem: Path, command: str, paper_names: dict[str, str | None] | None = None
) -> list[dict]:
    lines = [json.loads(text) for text in jsonl.read_text().splitlines() if text.strip()]
    rows = efficiency_rows(lines, paper_names)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    write_csv(frame(rows, COLUMNS), out_stem.with_suffix(".csv"))
    first = lines[0]
    shown = frame(
        {
            "variant": row["paper_name"] or row["model"],
            "params": f"{row['params']:,}",
            "Table 1 params (M)": _paper(row["paper_params_m"]),
            "decoder params": _measured(row["decoder_params"], "{:,}"),
            "decoder GFLOPs": _measured(row["decoder_gflops"], "{}"),
            "storage multiplier": row["storage_multiplier"],
            "Table 1": _paper(row["paper_storage_multiplier"]),
            "stored bytes at 360x480": f"{row['stored_bytes']:,}",
            "fp32 ms": row["infer_ms_fp32"],
            "bf16+CL ms": _shown(row["infer_ms_bf16_channels_last"]),
            "fp32 / SegNet-Basic": row["ratio_fp32"],
            "bf16+CL / SegNet-Basic": _shown(row["ratio_bf16_channels_last"]),
            "`precision: auto` picks": row["auto_pick"],
            "Table 1 ms (Titan GPU)": _paper(row["paper_infer_ms"]),
            "Table 1 / SegNet-Basic": _paper(row["paper_ratio"]),
        }
        for row in rows
    )
    text = f"""# Table 1, efficiency columns — measured

Written by `{command}` (do not edit by hand); the measurements are in `{jsonl.name}` beside this file.
{lines_measured_on(lines, jsonl)} Device: {first["device"]}.
Inference: median of {first["runs"]} forward passes after warm-up, input {first["input"]}
(the paper: 50 runs at 360x480, batch 1). Both precisions are timed whatever this machine's `precision: auto`
picks (its pick, probed on the benchmark's machine, in its own column); bf16 is stopped once its first pass takes
4x fp32's, and not run where oneDNN has no bf16 kernels.

- *params*: trainable parameters counted on the network built from `conf/model/<variant>.yaml`.
- *decoder params*, *decoder GFLOPs*: the decoder's alone (the encoder is SegNet-Basic's in every Table 1
  variant), FLOPs of one forward at the benchmark's input by `torch.utils.flop_counter` (convolutions,
  2 per multiply-add; unpooling and interpolation count none).
- *storage multiplier*: derived from the tensors the decoder keeps from the first encoder level
  (`Segmenter.kept_from_encoder`): a kept float map counts its channels, pooling indices count 1.
- *stored bytes*: what the network really holds for those tensors at inference: pooling indices as
  2-bit codes packed four per byte (`model.encoder.indices`, packed in eval mode), as the paper counts
  2 bits per 2x2 window; `int64` would be PyTorch's 8 bytes each.

{markdown(shown)}
"""
    out_stem.with_suffix(".md").write_text(text)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("jsonl", type=Path, help="JSON lines written by src/bench.py jsonl=...")
    parser.add_argument(
        "--out", type=Path, default=Path("docs/results/table1-efficiency"), help="output path without suffix"
    )
    parser.add_argument("--command", default="make bench-table1", help="the command named in the document")
    args = parser.parse_args()
    write_efficiency_table(args.jsonl, args.out, args.command)
    print(args.out.with_suffix(".md"))


if __name__ == "__main__":
    main()
