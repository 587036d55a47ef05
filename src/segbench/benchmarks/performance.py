"""How close SegNet-Basic runs to this CPU's convolution speed, what `precision: auto` picks, and what the
networks hold in memory (`make bench-perf`).

    python -m segbench.benchmarks.performance --json docs/results/performance.json
    python -m segbench.reporting.performance docs/results/performance.json --out docs/results/performance.md

Absolute times mean little from one CPU to the next (bf16 convolutions run ~4x faster with AMX, and several times
slower than fp32 without bf16 units), so every time is set beside a reference measured in the same run:

* **roofline**: the network's convolution FLOPs (torch's `FlopCounterMode`) at the throughput of one bare
  7x7 64->64 convolution, SegNet-Basic's own layer, timed at the same batch and size in each precision and
  layout, the fastest taken: the time the network would take if everything in it ran as fast as its
  convolutions. A training step's roofline counts 3x the forward FLOPs (forward, and the two products of the
  backward pass).
* **naive**: the network as PyTorch runs it by default: fp32, contiguous tensors, int64 pooling indices.

Each path is a configuration of the same network: fp32 or bf16 autocast, contiguous or channels-last tensors
(the four that `precision: auto` chooses from, `segbench.precision`), and, on the path auto picks, packed 2-bit
indices (`model.encoder.indices`, Sec. 3), BN folded into the convolutions (`segbench.models.batchnorm_folding`)
and `torch.compile` (kept in a result only where it helps). A path whose warm-up runs past STOP_FACTOR times the
naive one is stopped and reported as such, and bf16 is not run where oneDNN has no bf16 kernels (its reference
convolutions take minutes at these sizes). The **auto** section times the four paths of SegNet-Basic and
FCN-Basic, training step and inference, interleaved, beside what auto's probe picks. Peak memory is read in a
fresh process per measurement (peak resident memory minus that after building the network and its input), as
`table6_resources` does.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.progress import Progress
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from segbench.benchmarks.machine import peak_resident_mb, reset_peak_resident, resident_mb
from segbench.benchmarks.measure_efficiency import STOP_FACTOR, stored_bytes
from segbench.benchmarks.timing import time_calls
from segbench.data.camvid import NUM_CLASSES
from segbench.errors import first_line
from segbench.models.batchnorm_folding import fold_batchnorm
from segbench.precision import (
    BF16,
    FP32,
    SLACK_MS,
    Choice,
    ComputePath,
    candidates,
    choose,
    onednn_bf16_kernels,
    probe,
)
from segbench.record import provenance
from segbench.utils.config import compose_model

REFERENCE_MODEL = "segnet_basic"
MODELS = ("segnet_basic", "fcn_basic")  # the auto section and peak memory
FP32_CONTIGUOUS = ComputePath(FP32, False)
NAIVE = f"{FP32_CONTIGUOUS.label}, int64 indices (naive)"
Shape = tuple[int, int, int]  # batch, height, width


@dataclass(frozen=True)
class Settings:
    """Batch and size of each measurement: CamVid's 360x480 at batch 1 (Table 1's timing), a training batch of 12
    at 180x240, and the CPU-scale grid's training step (12 at 120x160) for the auto section."""

    inference: tuple[Shape, ...] = ((1, 360, 480), (12, 180, 240))
    training: Shape = (12, 180, 240)
    inference_memory: Shape = (1, 360, 480)
    auto_inference: Shape = (1, 360, 480)
    auto_training: Shape = (12, 120, 160)


CAMVID_IMAGE = torch.full((1, 3, 360, 480), 128.0)


@functools.cache
def _composed(model: str, indices: str) -> nn.Module:
    torch.manual_seed(0)
    return compose_model(model, (f"model.encoder.indices={indices}",))


def _network(model: str, indices: str) -> nn.Module:
    """A fresh copy of the seeded network (composing the config once per network: Hydra takes a while)."""
    return copy.deepcopy(_composed(model, indices))


def runnable(path: ComputePath) -> bool:
    """Whether a path is worth running here: not bf16 where oneDNN has no bf16 kernels."""
    return path.precision != BF16 or onednn_bf16_kernels()


def _median_ms(
    step: Callable[[], object], runs: int, warmup: int, progress: Progress, label: str, limit_ms: float = math.inf
) -> float | None:
    """Median ms of `runs` calls after `warmup`; None if the first warm-up call runs past `limit_ms` (plus the
    probe's slack: a hiccup of the machine must not stop a path of a few milliseconds)."""
    timing = time_calls(step, runs, warmup, limit_ms=limit_ms + SLACK_MS, progress=progress, label=label)
    return None if timing is None else timing.median_ms


def forward_flops(net: nn.Module, image: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net.eval()(image)
    return counter.get_total_flops()


def conv_gflops_per_s(batch: int, height: int, width: int, runs: int, progress: Progress) -> dict[str, float | None]:
    """Throughput of SegNet-Basic's 7x7 64->64 convolution alone at this batch and size, in each runnable path
    (None: stopped at STOP_FACTOR times the fp32 contiguous one)."""
    conv = nn.Conv2d(64, 64, 7, padding=3, bias=False).eval()
    x = torch.randn(batch, 64, height, width)
    flops = forward_flops(conv, x)
    rates, reference = {}, math.inf
    for path in candidates():
        if not runnable(path):
            continue
        ms = time_inference(conv, path, x, runs, progress, f"bare conv {path.label}", STOP_FACTOR * reference)
        reference = min(reference, ms) if path == FP32_CONTIGUOUS and ms else reference
        rates[path.label] = None if ms is None else flops / ms / 1e6
    return rates


def time_inference(
    net: nn.Module, path: ComputePath, image: torch.Tensor, runs: int, progress: Progress, label: str, limit_ms: float
) -> float | None:
    net = net.to(memory_format=path.memory_format)
    image = image.contiguous(memory_format=path.memory_format)

    def forward() -> None:
        with torch.no_grad(), path.autocast():
            net(image)

    return _median_ms(forward, runs, 2, progress, label, limit_ms)


def _compiled(net: nn.Module) -> nn.Module:
    return torch.compile(net, dynamic=False)


def training_step(net: nn.Module, path: ComputePath, batch: int, height: int, width: int) -> Callable[[], None]:
    """One SGD step (momentum 0.9, as Sec. 3.3) on a random batch, as the project's trainer runs it."""
    net = net.train().to(memory_format=path.memory_format)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    images = (torch.rand(batch, 3, height, width) * 255).contiguous(memory_format=path.memory_format)
    labels = torch.randint(0, NUM_CLASSES, (batch, height, width))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with path.autocast():
            loss = F.cross_entropy(net(images).float(), labels)
        loss.backward()
        optimizer.step()

    return step


def auto_pick(model: str, shape: Shape, training: bool) -> Choice:
    """What `precision: auto` picks for `model` at `shape`, probed afresh (a private cache, so nothing stale)."""
    with tempfile.TemporaryDirectory() as cache, _environment("SEGBENCH_CACHE", cache):
        return choose(_network(model, "int64"), shape[1:], training=training, network=model, batch=shape[0])


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name)
        else:
            os.environ[name] = before


def _four_paths(time_path: Callable[[ComputePath, float], float | None]) -> dict[str, float | None]:
    """ms of each of auto's four paths (int64 indices), fp32 contiguous first: the others stop at STOP_FACTOR
    times it; a path not runnable here is absent."""
    times: dict[str, float | None] = {}
    for path in candidates():
        if runnable(path):
            reference = times.get(NAIVE) or math.inf
            times[NAIVE if path == FP32_CONTIGUOUS else f"{path.label}, int64 indices"] = time_path(
                path, STOP_FACTOR * reference
            )
    return times


def inference_section(shape: Shape, runs: int, compile_paths: bool, progress: Progress) -> dict:
    batch, height, width = shape
    image = torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(0)) * 255
    naive, packed = _network(REFERENCE_MODEL, "int64").eval(), _network(REFERENCE_MODEL, "packed").eval()
    setting = f"{batch}x{height}x{width}"
    times = _four_paths(lambda path, limit: time_inference(naive, path, image, runs, progress, path.label, limit))
    pick = auto_pick(REFERENCE_MODEL, shape, training=False)
    limit = STOP_FACTOR * (times[NAIVE] or math.inf)
    lean = {
        f"{pick.path.label}, int64 indices, BN folded": fold_batchnorm(naive),
        f"{pick.path.label}, packed indices": packed,
        f"{pick.path.label}, packed indices, BN folded": fold_batchnorm(packed),
    }
    for name, net in lean.items():
        times[name] = time_inference(net, pick.path, image, runs, progress, f"{name} {setting}", limit)
    if compile_paths:
        label = f"{pick.path.label}, packed indices, BN folded, torch.compile"
        try:
            times[label] = time_inference(
                _compiled(lean[label.removesuffix(", torch.compile")]), pick.path, image, runs, progress, label, limit
            )
        except Exception as error:  # the compiler raises many types; the other paths still count
            times[label] = None
            progress.console.print(f"torch.compile failed at {setting}: {first_line(error)}")
    return {
        "setting": list(shape),
        "gflop": forward_flops(naive, image) / 1e9,
        "conv_gflops_per_s": conv_gflops_per_s(batch, height, width, runs, progress),
        "auto_pick": pick.path.label,
        "ms": times,
    }


def training_section(shape: Shape, runs: int, progress: Progress) -> dict:
    batch, height, width = shape
    flops = forward_flops(_network(REFERENCE_MODEL, "int64"), torch.rand(batch, 3, height, width) * 255)
    times = _four_paths(
        lambda path, limit: _median_ms(
            training_step(_network(REFERENCE_MODEL, "int64"), path, *shape),
            runs,
            1,
            progress,
            f"train {path.label}",
            limit,
        )
    )
    pick = auto_pick(REFERENCE_MODEL, shape, training=True)
    name = f"{pick.path.label}, packed indices"
    times[name] = _median_ms(
        training_step(_network(REFERENCE_MODEL, "packed"), pick.path, *shape),
        runs,
        1,
        progress,
        f"train {name}",
        STOP_FACTOR * (times[NAIVE] or math.inf),
    )
    return {
        "setting": list(shape),
        "gflop": 3 * flops / 1e9,
        "conv_gflops_per_s": conv_gflops_per_s(batch, height, width, runs, progress),
        "auto_pick": pick.path.label,
        "ms": times,
    }


def auto_section(model: str, measure: str, shape: Shape, runs: int) -> dict:
    """The four paths of `model` timed as a benchmark, beside the path auto's probe picks.

    The benchmark times the paths interleaved, one step of each per round for `runs` rounds (the probe's own
    method, `segbench.precision.probe`, without its time budget): a machine whose speed drifts during the
    measurement slows every path alike, which timing one path after the other would not.
    """
    training = measure == "training"
    paths = [path for path in candidates() if runnable(path)]
    net = _network(model, "int64")
    by_path = probe(net, shape, training, paths, budget_s=math.inf, rounds=runs, extra_rounds_s=0.0)
    started = time.perf_counter()
    pick = auto_pick(model, shape, training)
    probe_seconds = time.perf_counter() - started
    measured = {label: ms for label, ms in by_path.items() if ms is not None}
    best = min(measured, key=measured.__getitem__)
    picked_ms = by_path.get(pick.path.label)
    return {
        "model": model,
        "measure": measure,
        "setting": list(shape),
        "ms": by_path,
        "best": best,
        "auto_pick": pick.path.label,
        "pick_over_best": None if picked_ms is None else picked_ms / measured[best],
        "probe_ms": pick.timings_ms,
        "probe_seconds": probe_seconds,
    }


def peak_memory_in_this_process(model: str, what: str, path: str, shape: Shape) -> float:
    """MB this process's peak resident memory grows by for one inference pass or one training step of
    `model` at `shape` on `path`: "naive", or a compute path's label (inference: with packed indices and BN
    folded, the leanest)."""
    compute = FP32_CONTIGUOUS if path == "naive" else ComputePath.from_label(path)
    lean = path != "naive"
    if what == "inference":
        net = _network(model, "packed" if lean else "int64").eval()
        net = (fold_batchnorm(net) if lean else net).to(memory_format=compute.memory_format)
        image = (torch.rand(shape[0], 3, *shape[1:]) * 255).contiguous(memory_format=compute.memory_format)
        reset_peak_resident()
        before = resident_mb()
        with torch.no_grad(), compute.autocast():
            net(image)
    else:
        step = training_step(_network(model, "int64"), compute, *shape)
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
    results: dict = {
        "provenance": provenance.collect().model_dump(),
        "onednn_bf16_kernels": onednn_bf16_kernels(),
        "runs": runs,
        "stop_factor": STOP_FACTOR,
    }
    with Progress(transient=True) as progress:
        results["inference"] = [inference_section(shape, runs, compile_paths, progress) for shape in settings.inference]
        results["training"] = training_section(settings.training, runs, progress)
        results["auto"] = [
            auto_section(model, measure, shape, runs)
            for model in MODELS
            for measure, shape in (("training", settings.auto_training), ("inference", settings.auto_inference))
        ]
        memory = []
        for model in MODELS:
            for what, shape, training in (
                ("inference", settings.inference_memory, False),
                ("training", settings.training, True),
            ):
                pick = auto_pick(model, shape, training).path.label
                row = {"model": model, "measure": what, "setting": list(shape), "after_path": pick}
                row |= {
                    "before": _peak_memory(model, what, "naive", shape),
                    "after": _peak_memory(model, what, pick, shape),
                }
                memory.append(row)
        results["peak_memory_mb"] = memory
    with torch.no_grad():  # Sec. 3's storage argument: what each network keeps from encoder to decoder at 360x480
        results["stored_bytes"] = {
            f"{model}, {indices} indices": stored_bytes(_network(model, indices).eval().kept_from_encoder(CAMVID_IMAGE))
            for model in MODELS
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
