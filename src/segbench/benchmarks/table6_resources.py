"""Table 6, measured on this machine: forward and backward time, training and inference memory, model size.

    python -m segbench.benchmarks.table6_resources --jsonl logs/bench/table6.jsonl [--models ...] [--runs 3]
        [--size H W]   # another input size than the paper's 360x480, e.g. a CPU grid's 120 160

The paper (Table 6) times `caffe time` over 10 iterations at batch 1 and 360x480, reads GPU memory
with nvidia-smi at training batch 4 and inference batch 1, and gives the Caffe model's size on disk.
Here, for each network built from `conf/model/<name>.yaml`:

* **forward / backward ms**: median over about `runs` calls (after one warm-up; `segbench.benchmarks.timing`) of
  the forward pass with the loss, and of `loss.backward()` through one graph, in training mode, batch 1, 360x480
  (or `--size`: a grid trained at a smaller size is costed at its own);
  slow networks get fewer repetitions instead;
* **training / inference memory (MB)**: peak resident memory of a fresh process that builds the
  network and runs one SGD step at batch 4 (inference: one forward pass at batch 1 without
  gradients), minus that process's resident memory after importing torch — weights, activations,
  gradients and momentum, as nvidia-smi counts a network's share of the GPU; on CUDA,
  `torch.cuda.max_memory_allocated` instead;
* **model size (MB)**: the bytes of its saved fp32 state dict.

Every measurement runs in its own process, so one network's freed memory never hides another's peak.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

from segbench.benchmarks.machine import peak_resident_mb, resident_mb
from segbench.benchmarks.timing import time_calls
from segbench.data.camvid import NATIVE_HEIGHT, NATIVE_WIDTH, NUM_CLASSES
from segbench.models import count_parameters
from segbench.record import provenance
from segbench.utils.config import compose_model

# SegNet-Basic is the reference every ratio is taken against (absolute times mean little across CPUs).
NETWORKS = (
    "segnet_basic",
    "table3/segnet",
    "table3/deeplab_largefov",
    "table3/fcn",
    "table3/fcn_learnt_deconv",
    "table3/deconvnet",
)
TRAINING_BATCH, INFERENCE_BATCH = 4, 1


NATIVE = (NATIVE_HEIGHT, NATIVE_WIDTH)


def _batch(size: int, device: str, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.rand(size, 3, *shape, device=device) * 255
    labels = torch.randint(0, NUM_CLASSES, (size, *shape), device=device)
    return images, labels


def measure_in_this_process(name: str, what: str, runs: int, device: str, shape: tuple[int, int] = NATIVE) -> dict:
    """One measurement (`times`, `training_memory`, `inference_memory`) of network `name`."""
    torch.manual_seed(0)
    before = resident_mb()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    net = compose_model(name).to(device)
    row: dict = {"model": name, "measure": what, "input": list(shape)}
    if what == "times":
        net.train()
        images, labels = _batch(1, device, shape)
        net.zero_grad(set_to_none=True)
        forward_timing = time_calls(lambda: F.cross_entropy(net(images), labels), runs)
        loss = F.cross_entropy(net(images), labels)
        # the same graph's backward pass each time (its saved tensors kept), gradients accumulating
        backward_timing = time_calls(lambda: loss.backward(retain_graph=True), runs)
        buffer = io.BytesIO()
        torch.save(net.state_dict(), buffer)
        row.update(
            forward_ms=forward_timing.median_ms,
            backward_ms=backward_timing.median_ms,
            runs=runs,
            params=count_parameters(net),
            model_mb=buffer.tell() / 2**20,
        )
    elif what == "training_memory":
        net.train()
        optimizer = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
        images, labels = _batch(TRAINING_BATCH, device, shape)
        F.cross_entropy(net(images), labels).backward()
        optimizer.step()
        row["training_mb"] = _used_mb(device, before)
    elif what == "inference_memory":
        net.eval()
        images, _ = _batch(INFERENCE_BATCH, device, shape)
        with torch.no_grad():
            net(images)
        row["inference_mb"] = _used_mb(device, before)
    else:
        raise ValueError(f"unknown measurement {what!r}")
    return row


def _used_mb(device: str, before: float) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return peak_resident_mb() - before


def measure(
    name: str, runs: int, device: str, threads: int | None, shape: tuple[int, int] = NATIVE, origin: dict | None = None
) -> dict:
    """Every Table 6 column of one network, each measurement in a fresh process; `origin`: the session's provenance
    (taken once before the first line is written: the file it appends to would count as a change to the checkout)."""
    row = {"model": name}
    for what in ("times", "training_memory", "inference_memory"):
        command = [
            sys.executable,
            "-m",
            "segbench.benchmarks.table6_resources",
            "--one",
            name,
            what,
            "--runs",
            str(runs),
            "--device",
            device,
            "--size",
            *map(str, shape),
        ]
        if threads:
            command += ["--threads", str(threads)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{name} {what} failed: {done.stderr.strip().splitlines()[-1:]}")
        row.update({k: v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items() if k != "measure"})
    row.update(device=device, provenance=origin or provenance.collect(device=device).model_dump())
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(NETWORKS))
    parser.add_argument("--runs", type=int, default=3, help="timed iterations after one warm-up (Caffe: 10)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--size", nargs=2, type=int, default=list(NATIVE), metavar=("H", "W"), help="input size")
    parser.add_argument("--jsonl", type=Path, help="append one JSON line per network here")
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "MEASURE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:
        row = measure_in_this_process(*args.one, runs=args.runs, device=args.device, shape=tuple(args.size))
        print(json.dumps(row), flush=True)
        return
    origin = provenance.collect(device=args.device).model_dump()
    for name in args.models:
        row = measure(name, args.runs, args.device, args.threads, tuple(args.size), origin)
        line = json.dumps(row)
        print(line, flush=True)
        if args.jsonl:
            args.jsonl.parent.mkdir(parents=True, exist_ok=True)
            with args.jsonl.open("a") as handle:
                handle.write(line + "\n")


if __name__ == "__main__":
    main()
