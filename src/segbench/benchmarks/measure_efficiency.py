"""Table 1's efficiency columns, measured: parameters, storage multiplier, stored bytes, inference time."""

from __future__ import annotations

import statistics
import time
from contextlib import nullcontext

import torch
from rich.progress import Progress
from torch import nn

from segbench.models import count_parameters


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
    net: nn.Module, image: torch.Tensor, runs: int, warmup: int, fast: bool, progress: Progress | None = None
) -> float:
    """Median wall time of one forward pass (Table 1: averaged over 50 runs at 360x480, batch 1).

    fast=False: fp32, contiguous (the reference); fast=True: bf16 autocast on channels-last tensors.
    """
    memory_format = torch.channels_last if fast else torch.contiguous_format
    net = net.to(memory_format=memory_format).eval()
    image = image.contiguous(memory_format=memory_format)
    context = torch.autocast(image.device.type, dtype=torch.bfloat16) if fast else nullcontext()
    synchronise = torch.cuda.synchronize if image.is_cuda else (lambda: None)
    task = progress.add_task(f"{'bf16+CL' if fast else 'fp32'} forward", total=warmup + runs) if progress else None
    times = []
    with context:
        for index in range(warmup + runs):
            synchronise()
            start = time.perf_counter()
            net(image)
            synchronise()
            if index >= warmup:
                times.append(time.perf_counter() - start)
            if progress:
                progress.advance(task)
    return 1000 * statistics.median(times)


def measure(
    net: nn.Module,
    height: int = 360,
    width: int = 480,
    runs: int = 50,
    warmup: int = 5,
    device: str = "cpu",
    progress: bool = True,
) -> dict:
    """All of Table 1's left-hand columns for one network."""
    net = net.to(device).eval()
    image = torch.rand(1, 3, height, width, device=device) * 255
    with torch.no_grad():
        kept = net.kept_from_encoder(image)
    with Progress(disable=not progress, transient=True) as bar:
        fp32 = median_forward_ms(net, image, runs, warmup, fast=False, progress=bar)
        fast = median_forward_ms(net, image, runs, warmup, fast=True, progress=bar)
    return {
        "params": count_parameters(net),
        "storage_multiplier": storage_multiplier(kept),
        "stored_bytes": stored_bytes(kept),
        "stored_tensors": [f"{str(t.dtype).removeprefix('torch.')}{list(t.shape)}" for t in kept],
        "infer_ms_fp32": fp32,
        "infer_ms_bf16_channels_last": fast,
        "input": [1, 3, height, width],
        "runs": runs,
        "device": device,
        "threads": torch.get_num_threads(),
    }
