"""docs/results/performance.md from the measurements of `segbench.benchmarks.performance` (`make bench-perf`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from segbench.benchmarks.performance import NAIVE
from segbench.record.provenance import read_provenance
from segbench.reporting.tables import frame, markdown

TARGET = 1.2  # the speed goals: within 1.2x of the convolution roofline
AUTO_TARGET = 1.05  # auto's pick: within 1.05x of the fastest path measured here


def _fastest(times: dict[str, float | None]) -> tuple[str, float]:
    return min(((name, ms) for name, ms in times.items() if ms is not None), key=lambda item: item[1])


def roofline(entry: dict) -> tuple[str, float]:
    """The fastest bare-convolution path and the network's time at its throughput (ms)."""
    path, rate = max(((p, r) for p, r in entry["conv_gflops_per_s"].items() if r is not None), key=lambda i: i[1])
    return path, entry["gflop"] / rate * 1000


def _stopped(results: dict) -> str:
    return f"stopped (warm-up > {results['stop_factor']:g}x naive)"


def timing_table(entry: dict, results: dict) -> str:
    """One row per path: ms, speed-up over the naive path, and ratio to the roofline."""
    path, roofline_ms = roofline(entry)
    rate = entry["conv_gflops_per_s"][path]
    columns = ("path", "ms (median)", "speed-up over naive", "÷ roofline")
    rows = [
        (f"roofline ({entry['gflop']:.1f} GFLOP at {rate:.0f} GFLOP/s, {path} conv)", f"{roofline_ms:.1f}", "", "1.00")
    ]
    naive = entry["ms"][NAIVE]
    for name, ms in entry["ms"].items():
        if ms is None:
            rows.append((name, _stopped(results), "", ""))
        else:
            rows.append((name, f"{ms:.1f}", f"{naive / ms:.2f}x", f"{ms / roofline_ms:.2f}"))
    return markdown(frame((dict(zip(columns, row)) for row in rows), columns))


def verdict(entry: dict) -> str:
    best_name, best_ms = _fastest(entry["ms"])
    ratio = best_ms / roofline(entry)[1]
    met = "met" if ratio <= TARGET else "not met"
    return f"best: {best_name}, {ratio:.2f}x the roofline ({met}; goal {TARGET}x); auto picks {entry['auto_pick']}"


def conv_rows(entry: dict) -> str:
    rates = ", ".join(
        f"{path} {'stopped' if rate is None else f'{rate:.0f}'}" for path, rate in entry["conv_gflops_per_s"].items()
    )
    return f"Bare 7x7 64->64 convolution, GFLOP/s: {rates}."


def auto_table(results: dict) -> str:
    """Auto's pick beside the four paths timed as a benchmark, per network and measure."""
    labels = list(dict.fromkeys(label for row in results["auto"] for label in row["ms"]))
    rows = []
    for row in results["auto"]:
        batch, height, width = row["setting"]
        cells = {
            label: "stopped"
            if row["ms"].get(label) is None
            else f"{row['ms'][label]:.0f}" + (" **(fastest)**" if label == row["best"] else "")
            for label in labels
        }
        rows.append(
            {
                "network": row["model"],
                "measure": row["measure"],
                "batch, size": f"{batch}, {height}x{width}",
                **cells,
                "auto picks": row["auto_pick"],
                "÷ fastest": "—" if row["pick_over_best"] is None else f"{row['pick_over_best']:.2f}",
                "probe s": f"{row['probe_seconds']:.1f}",
            }
        )
    ratios = [row["pick_over_best"] for row in results["auto"]]
    met = all(ratio is not None and ratio <= AUTO_TARGET for ratio in ratios)
    worst = max((ratio for ratio in ratios if ratio is not None), default=float("nan"))
    return (
        f"{markdown(frame(rows))}\n\nauto's pick within {AUTO_TARGET}x of the fastest measured path in every case: "
        f"{'yes' if met else 'no'} (worst {worst:.2f}x)"
    )


def machine_line(results: dict, source: str) -> str:
    machine = read_provenance(results, source)
    cap = f", oneDNN capped at `ONEDNN_MAX_CPU_ISA={machine.onednn_max_cpu_isa}` (emulated)"
    flags = ", ".join(machine.cpu_flags) or "none of " + "/".join(("avx2", "avx512f"))
    kernels = "yes" if results["onednn_bf16_kernels"] else "**no**: bf16 convolutions run on PyTorch's reference code"
    return (
        f"**{machine.cpu}** (flags: {flags}{cap if machine.onednn_max_cpu_isa else ''}), "
        f"{machine.threads} threads, torch {machine.versions.get('torch')}, {machine.code}; "
        f"oneDNN bf16 kernels: {kernels}"
    )


def epoch_section(epochs: dict, source: str) -> str:
    """`make bench-epoch`'s whole-command measurements: one quickstart epoch in each precision."""
    auto = next(row for row in epochs["epochs"] if row["precision"] == "auto")
    rows = []
    for row in epochs["epochs"]:
        path = row["compute_path"]
        layout = "channels-last" if path["channels_last"] else "contiguous"
        rows.append(
            {
                "precision asked": row["precision"],
                "computed in": f"{path['precision']}, {layout}",
                "decided by": path["decided_by"],
                "steps": row["steps"],
                "fit s": f"{row['fit_seconds']:.0f}",
                "whole command s": f"{row['wall_seconds']:.0f}",
                "fit ÷ auto's": f"{row['fit_seconds'] / auto['fit_seconds']:.2f}",
            }
        )
    return f"""## One epoch of `make train`

Written by `make bench-epoch` from `{source}`: `src/train.py experiment=quickstart trainer.max_epochs=1` in each
precision, one process after another, on {machine_line(epochs, source)}. *Fit*: Lightning's fitting time (10 training
steps at batch 12, 120x160, the BN-statistics pass and validation); *whole command*: start-up, probe (auto's
cache was empty), fitting and scoring the selected checkpoint.

{markdown(frame(rows))}
"""


def performance_markdown(results: dict, source: str, command: str, epochs: tuple[dict, str] | None = None) -> str:
    sections = []
    for entry in results["inference"]:
        batch, height, width = entry["setting"]
        sections.append(
            f"### Inference, SegNet-Basic, {height}x{width} batch {batch}\n\n{timing_table(entry, results)}\n"
            f"\n{verdict(entry)}. {conv_rows(entry)}\n"
        )
    training = results["training"]
    batch, height, width = training["setting"]
    sections.append(
        f"### Training step, SegNet-Basic, {height}x{width} batch {batch} (forward, backward, SGD)\n\n"
        f"{timing_table(training, results)}\n\n{verdict(training)}. {conv_rows(training)}\n"
    )
    memory = frame(
        {
            "network": row["model"],
            "measure": row["measure"],
            "batch, size": "{}, {}x{}".format(*row["setting"]),
            "before MB": f"{row['before']:.0f}",
            "after MB (path)": f"{row['after']:.0f} ({row['after_path']})",
            # a pass at a tiny size may not grow the peak at all
            "after ÷ before": f"{row['after'] / row['before']:.2f}" if row["before"] > 0 else "—",
        }
        for row in results["peak_memory_mb"]
    )
    stored = frame(
        {"network, indices": name, "bytes kept from encoder to decoder (360x480, first level)": f"{count:,}"}
        for name, count in results["stored_bytes"].items()
    )
    return f"""# Speed and memory of SegNet-Basic on this machine

Written by `{command}` (do not edit by hand) from `{source}` beside this file, one run on
{machine_line(results, source)}. Times are medians of {results["runs"]} repetitions after a warm-up. Absolute times mean
little from one CPU to the next: read the ratios.

- **roofline**: the network's convolution FLOPs at the throughput of one bare 7x7 64->64 convolution (SegNet-Basic's
  own layer) timed at the same batch and size in the same run, in each precision and layout, the fastest taken; a
  training step counts 3x the forward FLOPs. What the network would take if all of it ran as fast as its
  convolutions.
- **paths**: fp32 or bf16 autocast, contiguous or channels-last tensors (the four `precision: auto` chooses from),
  with PyTorch's int64 pooling indices; then, on the path auto picks, the packed 2-bit indices of Sec. 3
  (`model.encoder.indices`; the default in eval mode) and batch norm folded into the convolutions
  (`segbench.models.batchnorm_folding`, inference only); `torch.compile` where shown. A path whose first run takes
  more than {results["stop_factor"]:g}x the naive one is stopped; bf16 is not run at all where oneDNN has no bf16
  kernels (PyTorch's reference convolution then takes minutes at these sizes).

## What `precision: auto` picks

Each network's four paths timed as a benchmark (median ms per training step or forward pass over the runs, the
paths interleaved: one step of each per round), the fastest marked, beside
the path auto's probe picks (a fresh probe: at the same batch and size for training, a batch of 1 for inference)
and the probe's own wall time. Training at the CPU grid's setting, inference at CamVid's native size.

{auto_table(results)}

## SegNet-Basic against the roofline

{chr(10).join(sections)}
{epoch_section(*epochs) if epochs else ""}
## Peak memory

Peak resident memory a fresh process gains over one inference pass or one training step, after building the network
and its input. *Before*: the naive path (fp32 contiguous, int64 indices); *after*: the path auto picks there
(inference with packed indices and BN folded, the leanest; training with int64 indices, which train faster).

{markdown(memory)}

## Storage (Sec. 3, Table 1's "storage" columns)

{markdown(stored)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("json", type=Path, help="written by python -m segbench.benchmarks.performance --json")
    parser.add_argument("--out", type=Path, default=Path("docs/results/performance.md"))
    parser.add_argument("--command", default="make bench-perf", help="the command named in the document")
    parser.add_argument("--epochs", type=Path, help="written by python -m segbench.benchmarks.train_epoch --json")
    args = parser.parse_args()
    results = json.loads(args.json.read_text())
    epochs = (json.loads(args.epochs.read_text()), args.epochs.name) if args.epochs else None
    args.out.write_text(performance_markdown(results, args.json.name, args.command, epochs))
    print(args.out)


if __name__ == "__main__":
    main()
