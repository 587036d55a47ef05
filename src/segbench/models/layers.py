"""Layers shared by encoders and decoders."""

from __future__ import annotations

from torch import nn


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, groups: int = 1) -> list[nn.Module]:
    """Convolution without bias followed by batch norm, as every SegNet layer (Sec. 3.1)."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False, groups=groups),
        nn.BatchNorm2d(out_channels),
    ]
