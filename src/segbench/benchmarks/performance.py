"""How close SegNet-Basic runs to this CPU's convolution speed, and what it holds in memory (`make bench-perf`).

    python -m segbench.benchmarks.performance --json docs/results/performance.json
    python -m segbench.reporting.performance docs/results/performance.json --out docs/results/performance.md

Absolute times mean little from one CPU to the next (bf16 convolutions run ~4x faster with AMX), so every
time is set beside a reference measured in the same run:

* **roofline**: the network's convolution FLOPs (torch's `FlopCounterMode`) at the throughput of one bare
  7x7 64->64 bf16 channels-last convolution, SegNet-Basic's own layer, timed at the same batch and size: the
  time the network would take if everything in it ran as fast as its convolutions. A training step's
  roofline counts 3x the forward FLOPs (forward, and the two products of the backward pass).
* **naive**: the network as PyTorch runs it by default: fp32, contiguous tensors, int64 pooling indices.

Each path is a configuration of the same network: bf16 autocast and channels-last tensors (the project's
trainer), packed 2-bit indices (`model.encoder.indices`, Sec. 3), BN folded into the convolutions
(`segbench.models.batchnorm_folding`), and `torch.compile` (kept in a result only where it helps).
Peak memory is read in a fresh process per measurement (peak resident memory minus that after building the
network and its input), as `table6_resources` does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.progress import Progress
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from segbench.benchmarks.machine import cpu_name, peak_resident_mb, reset_peak_resident, resident_mb
from segbench.benchmarks.measure_efficiency import stored_bytes
from segbench.data.camvid import NUM_CLASSES
from segbench.errors import first_line
from segbench.models.batchnorm_folding import fold_batchnorm
from segbench.utils.config import compose_model

REFERENCE_MODEL = "segnet_basic"
NAIVE = "naive (fp32, int64 indices)"
PACKED_FOLDED = "bf16 + channels-last, packed indices, BN folded"  # the leanest path: the deployed one
MEMORY_MODELS = ("segnet_basic", "fcn_basic")
Shape = tuple[int, int, int]  # batch, height, width


@dataclass(frozen=True)
class Settings:
    """Batch and size of each measurement: CamVid's 360x480 at batch 1 (Table 1's timing) and the CPU-scale
    grid's training batch, 12 at 180x240."""

    inference: tuple[Shape, ...] = ((1, 360, 480), (12, 180, 240))
    training: Shape = (12, 180, 240)
    inference_memory: Shape = (1, 360, 480)


CAMVID_IMAGE = torch.full((1, 3, 360, 480), 128.0)


def _network(model: str, indices: str) -> nn.Module:
    torch.manual_seed(0)
    return compose_model(model, (f"model.encoder.indices={indices}",))


def _median_ms(step: Callable[[], object], runs: int, warmup: int, progress: Progress, label: str) -> float:
    task = progress.add_task(label, total=warmup + runs)
    times = []
    for index in range(warmup + runs):
        start = time.perf_counter()
        step()
        if index >= warmup:
            times.append(1000 * (time.perf_counter() - start))
        progress.advance(task)
    progress.remove_task(task)
    return statistics.median(times)


def _fast(enabled: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16) if enabled else nullcontext()


def _layout(fast: bool) -> torch.memory_format:
    return torch.channels_last if fast else torch.contiguous_format


def forward_flops(net: nn.Module, image: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net.eval()(image)
    return counter.get_total_flops()


def conv_gflops_per_s(batch: int, height: int, width: int, runs: int, progress: Progress) -> float:
    """Throughput of SegNet-Basic's 7x7 64->64 convolution alone, bf16 channels-last, at this batch and size."""
    conv = nn.Conv2d(64, 64, 7, padding=3, bias=False).to(memory_format=torch.channels_last).eval()
    x = torch.randn(batch, 64, height, width).contiguous(memory_format=torch.channels_last)
    flops = forward_flops(conv, x)
    with torch.no_grad(), _fast(True):
        ms = _median_ms(lambda: conv(x), runs, 2, progress, f"bare conv {batch}x{height}x{width}")
    return flops / ms / 1e6


def inference_paths(model: str) -> dict[str, tuple[nn.Module, bool]]:
    """Each inference path: (network in eval mode, bf16 channels-last?)."""
    naive = _network(model, "int64").eval()
    packed = _network(model, "packed").eval()
    return {
        NAIVE: (naive, False),
        "bf16 + channels-last, int64 indices": (naive, True),
        "bf16 + channels-last, int64 indices, BN folded": (fold_batchnorm(naive), True),
        "bf16 + channels-last, packed indices": (packed, True),
        PACKED_FOLDED: (fold_batchnorm(packed), True),
    }


def time_inference(net: nn.Module, fast: bool, image: torch.Tensor, runs: int, progress: Progress, label: str) -> float:
    net = net.to(memory_format=_layout(fast))
    image = image.contiguous(memory_format=_layout(fast))
    with torch.no_grad(), _fast(fast):
        return _median_ms(lambda: net(image), runs, 2, progress, label)


def _compiled(net: nn.Module) -> nn.Module:
    return torch.compile(net, dynamic=False)


def training_step(net: nn.Module, fast: bool, batch: int, height: int, width: int) -> Callable[[], None]:
    """One SGD step (momentum 0.9, as Sec. 3.3) on a random batch, as the project's trainer runs it."""
    net = net.train().to(memory_format=_layout(fast))
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    images = (torch.rand(batch, 3, height, width) * 255).contiguous(memory_format=_layout(fast))
    labels = torch.randint(0, NUM_CLASSES, (batch, height, width))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with _fast(fast):
            loss = F.cross_entropy(net(images), labels)
        loss.backward()
        optimizer.step()

    return step


def peak_memory_in_this_process(model: str, what: str, path: str, shape: Shape) -> float:
    """MB this process's peak resident memory grows by for one inference pass or one training step of
    `model` at `shape` on `path` ("before": naive; "after": the fast path)."""
    fast = path == "after"
    if what == "inference":
        net = _network(model, "packed" if fast else "int64").eval()
        net = fold_batchnorm(net) if fast else net
        image = (torch.rand(shape[0], 3, *shape[1:]) * 255).contiguous(memory_format=_layout(fast))
        net = net.to(memory_format=_layout(fast))
        reset_peak_resident()
        before = resident_mb()
        with torch.no_grad(), _fast(fast):
            net(image)
    else:
        step = training_step(_network(model, "int64"), fast, *shape)
        reset_peak_resident()
        before = resident_mb()
        step()
    return peak_resident_mb() - before


def _peak_memory(model: str, what: str, path: str, shape: Shape) -> float:
    command = [sys.executable, "-m", "segbench.benchmarks.performance", "--peak-memory", model, what, path]
    command += [str(size) for size in shape]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"peak memory of {model} {what} ({path}) failed: {done.stderr.strip()[-300:]}")
    return float(done.stdout.strip().splitlines()[-1])


def measure(runs: int, compile_paths: bool, settings: Settings = Settings()) -> dict:
    """Every figure of docs/results/performance.md, with its reference, from this one run."""
    results: dict = {"cpu": cpu_name(), "threads": torch.get_num_threads(), "torch": torch.__version__, "runs": runs}
    with Progress(transient=True) as progress:
        paths = inference_paths(REFERENCE_MODEL)
        results["inference"] = []
        for batch, height, width in settings.inference:
            image = torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(0)) * 255
            rate = conv_gflops_per_s(batch, height, width, runs, progress)
            flops = forward_flops(paths[NAIVE][0], image)
            times = {
                name: time_inference(net, fast, image, runs, progress, f"{name} {batch}x{height}x{width}")
                for name, (net, fast) in paths.items()
            }
            if compile_paths:
                net, fast = paths[PACKED_FOLDED]
                label = f"{PACKED_FOLDED}, torch.compile"
                try:
                    times[label] = time_inference(_compiled(net), fast, image, runs, progress, label)
                except Exception as error:  # the compiler raises many types; the other paths still count
                    results.setdefault("compile_failures", []).append(f"{batch}x{height}x{width}: {first_line(error)}")
            results["inference"].append(
                {"setting": [batch, height, width], "gflop": flops / 1e9, "conv_gflops_per_s": rate, "ms": times}
            )
        batch, height, width = settings.training
        rate = conv_gflops_per_s(batch, height, width, runs, progress)
        flops = forward_flops(_network(REFERENCE_MODEL, "int64"), torch.rand(batch, 3, height, width) * 255)
        steps = {
            NAIVE: training_step(_network(REFERENCE_MODEL, "int64"), False, *settings.training),
            "bf16 + channels-last, int64 indices": training_step(
                _network(REFERENCE_MODEL, "int64"), True, *settings.training
            ),
            "bf16 + channels-last, packed indices": training_step(
                _network(REFERENCE_MODEL, "packed"), True, *settings.training
            ),
        }
        results["training"] = {
            "setting": [batch, height, width],
            "gflop": 3 * flops / 1e9,
            "conv_gflops_per_s": rate,
            "ms": {name: _median_ms(step, runs, 1, progress, f"train {name}") for name, step in steps.items()},
        }
        results["peak_memory_mb"] = [
            {
                "model": model,
                "measure": what,
                "setting": list(shape),
                **{path: _peak_memory(model, what, path, shape) for path in ("before", "after")},
            }
            for model in MEMORY_MODELS
            for what, shape in (("inference", settings.inference_memory), ("training", settings.training))
        ]
    with torch.no_grad():  # Sec. 3's storage argument: what each network keeps from encoder to decoder at 360x480
        results["stored_bytes"] = {
            f"{model}, {indices} indices": stored_bytes(_network(model, indices).eval().kept_from_encoder(CAMVID_IMAGE))
            for model in MEMORY_MODELS
            for indices in ("int64", "packed")
        }
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, required=False, help="write the measurements here")
    parser.add_argument("--runs", type=int, default=10, help="timed repetitions of each path (median)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the fastest path")
    parser.add_argument("--peak-memory", nargs=6, help=argparse.SUPPRESS)  # model what path batch height width
    args = parser.parse_args(argv)
    if args.peak_memory:
        model, what, path, *shape = args.peak_memory
        print(peak_memory_in_this_process(model, what, path, tuple(int(size) for size in shape)), flush=True)
        return
    results = measure(args.runs, args.compile)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
