"""SegNet-Basic's encoder (Sec. 3.1): four blocks of 7x7 conv, batch norm, ReLU, 2x2 max-pool.

Every block remembers what a decoder may reuse: the pooled map, the pooling indices and the
size before pooling. Which of these a decoder keeps is the decoder's business (Table 1's
storage column); the encoder just offers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from segbench.models.layers import conv_bn


@dataclass
class EncoderLevel:
    """What one encoder block hands to the decoder stage of the same depth."""

    pooled: torch.Tensor  # output of max-pooling: the "encoder feature map" of Fig. 3
    indices: torch.Tensor  # argmax position of each pooling window (flat index into `size`)
    size: torch.Size  # spatial size before pooling, which the decoder must restore exactly


def max_pool_keeping_indices(x: torch.Tensor, kernel_size: int = 2, stride: int = 2) -> EncoderLevel:
    """2x2 max-pool, stride 2, remembering each window's argmax (Sec. 3).

    Other windows serve DeepLab-LargeFOV (Sec. 4): its 3x3 pooling, padded by 1, with stride 2 or 1.
    """
    padding = kernel_size // 2 if kernel_size % 2 else 0
    # Caffe pools with ceil mode, so 45x60 pools to 23x30 (not 22x30) at 360x480. A padded 3x3 window
    # keeps floor mode: stride 2 then halves 360x480 exactly to 180x240 (ceil mode would give 181x241).
    pooled, indices = F.max_pool2d(x, kernel_size, stride, padding=padding, ceil_mode=padding == 0, return_indices=True)
    return EncoderLevel(pooled=pooled, indices=indices, size=x.shape[-2:])


class EncoderBlock(nn.Module):
    """One encoder block: per width a conv, BN and ReLU, then max-pooling that keeps the indices (Sec. 3).

    SegNet-Basic's blocks are one 7x7 conv (Sec. 3.1); VGG16's are two or three 3x3 convs (Sec. 4), with
    DeepLab-LargeFOV's dilation and pooling windows, and optional dropout after the pooling (Bayesian
    SegNet's placement, to which Sec. 4 points for its dropout).
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
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in widths:
            layers += [*conv_bn(in_channels, width, kernel_size, dilation=dilation), nn.ReLU(inplace=True)]
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.pool_kernel_size, self.pool_stride = pool_kernel_size, pool_stride
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> EncoderLevel:
        level = max_pool_keeping_indices(self.features(x), self.pool_kernel_size, self.pool_stride)
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
    """The encoder shared by every Table 1 variant: `depth` blocks of `channels` 7x7 filters."""

    def __init__(self, in_channels: int = 3, channels: int = 64, depth: int = 4, kernel_size: int = 7) -> None:
        super().__init__()
        self.out_channels = channels
        self.blocks = nn.ModuleList(
            EncoderBlock(in_channels if i == 0 else channels, [channels], kernel_size) for i in range(depth)
        )
