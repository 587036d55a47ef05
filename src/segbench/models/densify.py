"""Densifiers: the second choice of a decoder stage (Sec. 3.1, Fig. 3).

SegNet convolves the sparse upsampled maps with trainable decoder filters, followed by batch
norm and no ReLU; FCN has no decoder filters.
"""

from __future__ import annotations

from torch import nn

from segbench.models.layers import conv_bn


class MultiChannelConv(nn.Sequential):
    """SegNet-Basic's decoder filters: each sees every upsampled map (7x7, BN, no ReLU)."""

    def __init__(self, channels: int, kernel_size: int = 7) -> None:
        super().__init__(*conv_bn(channels, channels, kernel_size))


class SingleChannelConv(nn.Sequential):
    """SegNet-Basic-SingleChannelDecoder: each filter sees only its own upsampled map (depthwise)."""

    def __init__(self, channels: int, kernel_size: int = 7) -> None:
        super().__init__(*conv_bn(channels, channels, kernel_size, groups=channels))


class NoDensify(nn.Identity):
    """FCN decoders: no trainable decoder filters after upsampling."""

    def __init__(self, channels: int) -> None:
        super().__init__()
