"""SegNet-Basic's encoder (Sec. 3.1): four blocks of 7x7 conv, batch norm, ReLU, 2x2 max-pool.

Every block remembers what a decoder may reuse: the pooled map, the pooling indices and the
size before pooling. Which of these a decoder keeps is the decoder's business (Table 1's
storage column); the encoder just offers them.

How the indices are held is the `indices` option of a block (and of the encoders, which pass it on),
one choice for training and one for inference, as both give the same outputs and gradients bit for bit:

- `packed`: each 2x2 window's argmax as a 2-bit code, four to a byte (Sec. 3's "2 bits for each 2x2
  pooling window"; `segbench.models.packed_indices`): 1/16 of the fp32 pooled map's bytes.
- `int64`: `max_pool2d`'s flat index per window, 8 bytes (twice the fp32 pooled map).
- `none`: no indices, for networks that never unpool (DeepLab-LargeFOV's padded 3x3 windows).

The default stores packed codes in inference (eval mode) and trains with int64 indices, whose native
`max_pool2d` / `max_unpool2d` kernels make a CPU training step faster: forward and backward of SegNet-Basic
at 180x240, batch 12, bf16 channels-last, one thread, took 1.13 times as long with packed codes. (Packing
costs inference time too: SegNet-Basic's 360x480 forward, batch 1, one thread, 1.09x in fp32 and 1.16x in
bf16 channels-last.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from segbench.models.layers import conv_bn
from segbench.models.packed_indices import max_pool_2x2_packed

INDEX_KINDS = ("packed", "int64", "none")
# Packed codes where they are stored (inference), native kernels where they are fast (training).
DEFAULT_INDICES = {"train": "int64", "eval": "packed"}


@dataclass
class EncoderLevel:
    """What one encoder block hands to the decoder stage of the same depth."""

    pooled: torch.Tensor  # output of max-pooling: the "encoder feature map" of Fig. 3
    # Argmax of each pooling window: packed 2-bit codes (uint8, N x C x h x ceil(w/4)), a flat index into
    # `size` per window (int64, N x C x h x w), or None when the encoder keeps none.
    indices: torch.Tensor | None
    size: torch.Size  # spatial size before pooling, which the decoder must restore exactly


def max_pool_keeping_indices(
    x: torch.Tensor, kernel_size: int = 2, stride: int = 2, indices: str = "packed"
) -> EncoderLevel:
    """2x2 max-pool, stride 2, remembering each window's argmax (Sec. 3) as `indices` says (see above).

    Other windows serve DeepLab-LargeFOV (Sec. 4): its 3x3 pooling, padded by 1, with stride 2 or 1.
    """
    if indices == "packed":
        if (kernel_size, stride) != (2, 2):
            raise ValueError(f"packed 2-bit indices need 2x2 windows of stride 2, not {kernel_size}x{kernel_size}")
        pooled, packed = max_pool_2x2_packed(x)  # ceil mode, as below
        return EncoderLevel(pooled=pooled, indices=packed, size=x.shape[-2:])
    padding = kernel_size // 2 if kernel_size % 2 else 0
    # Caffe pools with ceil mode, so 45x60 pools to 23x30 (not 22x30) at 360x480. A padded 3x3 window
    # keeps floor mode: stride 2 then halves 360x480 exactly to 180x240 (ceil mode would give 181x241).
    options = {"padding": padding, "ceil_mode": padding == 0}
    if indices == "none":
        return EncoderLevel(pooled=F.max_pool2d(x, kernel_size, stride, **options), indices=None, size=x.shape[-2:])
    pooled, flat = F.max_pool2d(x, kernel_size, stride, **options, return_indices=True)
    return EncoderLevel(pooled=pooled, indices=flat, size=x.shape[-2:])


def indices_by_mode(indices: str | Mapping[str, str]) -> dict[str, str]:
    """`indices` as {"train": kind, "eval": kind}: a mapping with both keys, or one kind for both modes."""
    by_mode = {"train": indices, "eval": indices} if isinstance(indices, str) else dict(indices)
    if sorted(by_mode) != ["eval", "train"] or not set(by_mode.values()) <= set(INDEX_KINDS):
        raise ValueError(
            f"indices must be one of {INDEX_KINDS}, or a mapping {{train: ..., eval: ...}} of them: {indices}"
        )
    return by_mode


class EncoderBlock(nn.Module):
    """One encoder block: per width a conv, BN and ReLU, then max-pooling that keeps the indices (Sec. 3).

    SegNet-Basic's blocks are one 7x7 conv (Sec. 3.1); VGG16's are two or three 3x3 convs (Sec. 4), with
    DeepLab-LargeFOV's dilation and pooling windows, and optional dropout after the pooling (Bayesian
    SegNet's placement, to which Sec. 4 points for its dropout). `indices`: how the pooling indices are
    held in training and in eval mode (the module docstring).
    """

    def __init__(
        self,
        in_channels: int,
        widths: Sequence[int],
        kernel_size: int = 3,
        dilation: int = 1,
        pool_kernel_size: int = 2,
        pool_stride: int = 2,
        dropout: float = 0.0,
        indices: str | Mapping[str, str] = DEFAULT_INDICES,
    ) -> None:
        super().__init__()
        self.indices = indices_by_mode(indices)
        if "packed" in self.indices.values() and (pool_kernel_size, pool_stride) != (2, 2):
            raise ValueError(
                f"indices={self.indices}: packed 2-bit indices need 2x2 windows of stride 2, not "
                f"{pool_kernel_size}x{pool_kernel_size} of stride {pool_stride} (set indices: none or int64)"
            )
        layers: list[nn.Module] = []
        for width in widths:
            layers += [*conv_bn(in_channels, width, kernel_size, dilation=dilation), nn.ReLU(inplace=True)]
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.pool_kernel_size, self.pool_stride = pool_kernel_size, pool_stride
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> EncoderLevel:
        indices = self.indices["train" if self.training else "eval"]
        level = max_pool_keeping_indices(self.features(x), self.pool_kernel_size, self.pool_stride, indices)
        level.pooled = self.dropout(level.pooled)
        return level


class LevelEncoder(nn.Module):
    """An encoder as a list of `blocks`, each pooling its input and handing its pooled map to the next."""

    blocks: nn.ModuleList

    def forward(self, x: torch.Tensor) -> list[EncoderLevel]:
        levels = []
        for block in self.blocks:
            level = block(x)
            levels.append(level)
            x = level.pooled
        return levels


class BasicEncoder(LevelEncoder):
    """The encoder shared by every Table 1 variant: `depth` blocks of `channels` 7x7 filters.

    `dropout` after the pooling of the blocks in `dropout_after` (none in Table 1): Bayesian SegNet-Basic's
    central encoders are blocks 2 and 3 (the release's `encdrop3`, `encdrop4`, p = 0.5).
    """

    def __init__(
        self,
        in_channels: int = 3,
        channels: int = 64,
        depth: int = 4,
        kernel_size: int = 7,
        indices: str | Mapping[str, str] = DEFAULT_INDICES,
        dropout: float = 0.0,
        dropout_after: Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.out_channels = channels
        self.blocks = nn.ModuleList(
            EncoderBlock(
                in_channels if i == 0 else channels,
                [channels],
                kernel_size,
                indices=indices,
                dropout=dropout if i in dropout_after else 0.0,
            )
            for i in range(depth)
        )
