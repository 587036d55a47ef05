"""docs/results/performance.md from the measurements of `segbench.benchmarks.performance` (`make bench-perf`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from segbench.benchmarks.performance import NAIVE

TARGET = 1.2  # the speed goals: within 1.2x of the convolution roofline


def _roofline_ms(entry: dict) -> float:
    return entry["gflop"] / entry["conv_gflops_per_s"] * 1000


def timing_rows(entry: dict) -> list[str]:
    """One table row per path: ms, speed-up over the naive path, and ratio to the roofline."""
    roofline = _roofline_ms(entry)
    flops = f"{entry['gflop']:.1f} GFLOP at {entry['conv_gflops_per_s']:.0f} GFLOP/s"
    rows = [f"| roofline ({flops}) | {roofline:.1f} | | 1.00 |"]
    for name, ms in entry["ms"].items():
        rows.append(f"| {name} | {ms:.1f} | {entry['ms'][NAIVE] / ms:.2f}x | {ms / roofline:.2f} |")
    return rows


def verdict(entry: dict) -> str:
    best_name, best_ms = min(entry["ms"].items(), key=lambda item: item[1])
    ratio = best_ms / _roofline_ms(entry)
    met = "met" if ratio <= TARGET else "not met"
    return f"best: {best_name}, {ratio:.2f}x the roofline ({met}; goal {TARGET}x)"


def performance_markdown(results: dict, source: str, command: str) -> str:
    heading = "| path | ms (median) | speed-up over naive | ÷ roofline |\n|---|---|---|---|"
    sections = []
    for entry in results["inference"]:
        batch, height, width = entry["setting"]
        sections.append(
            f"### Inference, SegNet-Basic, {height}x{width} batch {batch}\n\n{heading}\n"
            + "\n".join(timing_rows(entry))
            + f"\n\n{verdict(entry)}\n"
        )
    training = results["training"]
    batch, height, width = training["setting"]
    sections.append(
        f"### Training step, SegNet-Basic, {height}x{width} batch {batch} (forward, backward, SGD)\n\n{heading}\n"
        + "\n".join(timing_rows(training))
        + f"\n\n{verdict(training)}\n"
    )
    for failure in results.get("compile_failures", []):
        sections.append(f"`torch.compile` failed at {failure}\n")
    memory = [
        "| network | measure | batch, size | before MB | after MB | after ÷ before |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["peak_memory_mb"]:
        batch, height, width = row["setting"]
        memory.append(
            f"| {row['model']} | {row['measure']} | {batch}, {height}x{width} | {row['before']:.0f} | "
            f"{row['after']:.0f} | {row['after'] / row['before']:.2f} |"
        )
    stored = ["| network, indices | bytes kept from encoder to decoder (360x480, first level) |", "|---|---|"]
    stored += [f"| {name} | {count:,} |" for name, count in results["stored_bytes"].items()]
    return f"""# Speed and memory of SegNet-Basic on this machine

Written by `{command}` (do not edit by hand) from `{source}` beside this file, one run on
**{results["cpu"]}**, {results["threads"]} threads, torch {results["torch"]}. Times are medians of
{results["runs"]} repetitions after a warm-up. Absolute times mean little from one CPU to the next: read the ratios.

- **roofline**: the network's convolution FLOPs at the throughput of one bare 7x7 64->64 bf16 channels-last
  convolution (SegNet-Basic's own layer) timed at the same batch and size in the same run; a training step counts
  3x the forward FLOPs. What the network would take if all of it ran as fast as its convolutions.
- **paths**: bf16 autocast with channels-last tensors (the project's trainer), with PyTorch's int64 pooling indices
  or the packed 2-bit ones of Sec. 3 (`model.encoder.indices`; the default in eval mode), with or without batch norm
  folded into the convolutions (`segbench.models.batchnorm_folding`, inference only); `torch.compile` where shown.

{chr(10).join(sections)}
### Peak memory

Peak resident memory a fresh process gains over one inference pass or one training step, after building the network
and its input. *Before*: the naive path (fp32, int64 indices); *after*:
inference on the leanest path (bf16 channels-last, packed indices, BN folded), training as the project trains
(bf16 channels-last; int64 indices, which train faster than packed ones).

{chr(10).join(memory)}

### Storage (Sec. 3, Table 1's "storage" columns)

{chr(10).join(stored)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("json", type=Path, help="written by python -m segbench.benchmarks.performance --json")
    parser.add_argument("--out", type=Path, default=Path("docs/results/performance.md"))
    parser.add_argument("--command", default="make bench-perf", help="the command named in the document")
    args = parser.parse_args()
    results = json.loads(args.json.read_text())
    args.out.write_text(performance_markdown(results, args.json.name, args.command))
    print(args.out)


if __name__ == "__main__":
    main()
