"""Table 1's efficiency columns, measured: parameters, storage multiplier, stored bytes, inference time."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from rich.progress import Progress
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from segbench.benchmarks.timing import time_calls
from segbench.models import count_parameters
from segbench.models.config import build_network, model_meta, network_yaml
from segbench.precision import BF16, FP32, ComputePath, choose, onednn_bf16_kernels
from segbench.record import provenance
from segbench.utils.config import config_choices
from segbench.utils.hydra_callbacks import write_done_file


def storage_multiplier(kept: list[torch.Tensor]) -> int:
    """Table 1's units: each kept float map counts its channels, pooling indices (any integer tensor) count 1.

    Indices (2 bits per 2x2 window, as inference keeps them: `segbench.models.packed_indices`) are
    negligible beside a float map, which is why Table 1 lists SegNet-Basic-EncoderAddition (indices +
    64 maps) as 64, not 65.
    """
    float_channels = sum(t.shape[1] for t in kept if t.is_floating_point())
    if float_channels:
        return float_channels
    return 1 if kept else 0


def stored_bytes(kept: list[torch.Tensor]) -> int:
    """Bytes PyTorch really holds for the kept tensors.

    Packed indices are uint8, four 2-bit codes to a byte: N x C x h x ceil(w/4) bytes for a pooled map of
    N x C x h x w (int64 indices, kept with `model.encoder.indices.eval=int64`, are 8 bytes per window).
    """
    return sum(t.numel() * t.element_size() for t in kept)


@torch.no_grad()
def median_forward_ms(
    net: nn.Module,
    image: torch.Tensor,
    runs: int,
    warmup: int,
    path: ComputePath,
    progress: Progress | None = None,
    limit_ms: float = math.inf,
) -> float | None:
    """Median wall time of one forward pass on `path` (Table 1: averaged over 50 runs at 360x480, batch 1);
    None if the first warm-up pass runs past `limit_ms`."""
    net = net.to(memory_format=path.memory_format).eval()
    image = image.contiguous(memory_format=path.memory_format)
    with path.autocast(image.device.type):
        timing = time_calls(
            lambda: net(image), runs, warmup, limit_ms=limit_ms, progress=progress, label=f"{path.label} forward"
        )
    return None if timing is None else timing.median_ms


def run_cost(net: nn.Module, height: int, width: int, path: ComputePath, runs: int = 10, warmup: int = 2) -> dict:
    """What a training run records of its network's cost, in its own compute path and at its own input size:
    the bytes kept from encoder to decoder for one image (None for a network that does not say) and the median
    inference ms at batch 1 (`median_forward_ms`). Leaves the network in the mode it was in."""
    device = next(net.parameters()).device
    image = torch.rand(1, 3, height, width, device=device) * 255
    was_training = net.training
    try:
        with torch.no_grad():
            kept = net.eval().kept_from_encoder(image) if hasattr(net, "kept_from_encoder") else None
        milliseconds = median_forward_ms(net, image, runs, warmup, path)
    finally:
        net.train(was_training)
    return {
        "stored_bytes": stored_bytes(kept) if kept is not None else None,
        "infer_ms": milliseconds,
        "infer_input": [1, 3, height, width],
    }


def decoder_flops(net: nn.Module, image: torch.Tensor) -> int:
    """FLOPs of the decoder's forward for `image` (`torch.utils.flop_counter`: convolutions and matrix products, two
    per multiply-add; unpooling, interpolation and additions count none)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(image)
    return int(sum(counter.get_flop_counts().get(f"{type(net).__name__}.decoder", {}).values()))


FP32_PATH, BF16_CHANNELS_LAST = ComputePath(FP32, False), ComputePath(BF16, True)
# A benchmarked path is stopped once its first pass takes this many times fp32's (bf16 on a CPU without bf16 units).
STOP_FACTOR = 4.0


def measure(
    net: nn.Module,
    height: int = 360,
    width: int = 480,
    runs: int = 50,
    warmup: int = 5,
    device: str = "cpu",
    progress: bool = True,
    network: str = "",
    auto_pick: bool = True,
) -> dict:
    """All of Table 1's left-hand columns for one network, in fp32 and bf16 channels-last (both, whatever this
    machine's `precision: auto` picks; with `auto_pick`, its pick is probed and recorded beside them, `network`
    naming the network for the probe's cache)."""
    net = net.to(device).eval()
    image = torch.rand(1, 3, height, width, device=device) * 255
    with torch.no_grad():
        kept = net.kept_from_encoder(image)
    with Progress(disable=not progress, transient=True) as bar:
        fp32 = median_forward_ms(net, image, runs, warmup, FP32_PATH, bar)
        # Where oneDNN has no bf16 kernels a bf16 pass at 360x480 takes minutes: not run (None).
        run_bf16 = device != "cpu" or onednn_bf16_kernels()
        fast = (
            median_forward_ms(net, image, runs, warmup, BF16_CHANNELS_LAST, bar, STOP_FACTOR * fp32)
            if run_bf16
            else None
        )
    pick = choose(net, (height, width), training=False, network=network, device=device) if auto_pick else None
    return {
        "params": count_parameters(net),
        "decoder_params": count_parameters(net.decoder),
        "decoder_flops": decoder_flops(net, image),
        "storage_multiplier": storage_multiplier(kept),
        "stored_bytes": stored_bytes(kept),
        "stored_tensors": [f"{str(t.dtype).removeprefix('torch.')}{list(t.shape)}" for t in kept],
        "infer_ms_fp32": fp32,
        "infer_ms_bf16_channels_last": fast,
        "auto_pick": pick.path.label if pick else "not probed",
        "input": [1, 3, height, width],
        "runs": runs,
        "device": device,
        "provenance": provenance.collect(device=device).model_dump(),
    }


def benchmark(cfg: DictConfig) -> dict[str, Any]:
    """Table 1's efficiency columns for `cfg.model`: print one JSON line, append it to `cfg.jsonl` and write it
    as bench.json beside the job's config (a sweep's closing check counts the job as done by it)."""
    torch.manual_seed(0)
    row = {
        "model": config_choices(cfg).get("model"),
        "paper_name": model_meta(cfg.model).paper_name,
        **measure(
            build_network(cfg.model),
            cfg.height,
            cfg.width,
            cfg.runs,
            cfg.warmup,
            cfg.device,
            cfg.progress,
            network=network_yaml(cfg.model),
            auto_pick=cfg.auto_pick,
        ),
    }
    line = json.dumps(row)
    print(line, flush=True)
    write_done_file(cfg, "bench.json", row)
    if cfg.get("jsonl"):
        path = Path(cfg.jsonl)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(line + "\n")
    return row
