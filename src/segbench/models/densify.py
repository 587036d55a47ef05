"""Densifiers: the second choice of a decoder stage (Sec. 3.1, Fig. 3).

SegNet-Basic convolves the sparse upsampled maps with trainable decoder filters, followed by batch
norm and no ReLU; FCN has no decoder filters. The full SegNet and DeconvNet (Sec. 4, Table 3) densify
with a stack of 3x3 layers mirroring their VGG16 encoder block (`ConvStack`).
"""

from __future__ import annotations

from torch import nn

from segbench.models.layers import conv_bn, deconv_bn


class MultiChannelConv(nn.Sequential):
    """SegNet-Basic's decoder filters: each sees every upsampled map (7x7, BN, no ReLU).

    `dropout` after them: Bayesian SegNet-Basic's central decoders (the release's `decdrop4`, `decdrop3`).
    """

    def __init__(self, channels: int, kernel_size: int = 7, dropout: float = 0.0) -> None:
        super().__init__(*conv_bn(channels, channels, kernel_size), *([nn.Dropout(dropout)] if dropout else []))


class SingleChannelConv(nn.Sequential):
    """SegNet-Basic-SingleChannelDecoder: each filter sees only its own upsampled map (depthwise)."""

    def __init__(self, channels: int, kernel_size: int = 7) -> None:
        super().__init__(*conv_bn(channels, channels, kernel_size, groups=channels))


class NoDensify(nn.Identity):
    """FCN decoders: no trainable decoder filters after upsampling."""

    def __init__(self, channels: int) -> None:
        super().__init__()


class ConvStack(nn.Sequential):
    """A decoder block of SegNet (Sec. 3, Fig. 2) or DeconvNet [4] (Sec. 4): `num_convs` 3x3 layers, BN, ReLU.

    Mirrors the encoder block of the same depth: every layer keeps its width except the last, which
    reduces to `out_channels`, the width of the next (shallower) block, as the release's
    segnet_train.prototxt does (conv4_1_D: 512 -> 256). Unlike SegNet-Basic (Sec. 3.1) the full
    networks keep the ReLU in the decoder. `transposed=True` makes DeconvNet's deconvolution layers;
    stride-1 transposed convs have the same parameters as convs and are He-initialised as well.
    `dropout` after the block: Sec. 4 adds dropout 0.5 "to the end of deeper convolutional layers".
    """

    def __init__(
        self,
        channels: int,
        num_convs: int,
        out_channels: int | None = None,
        kernel_size: int = 3,
        transposed: bool = False,
        dropout: float = 0.0,
    ) -> None:
        out_channels = channels if out_channels is None else out_channels
        layer = deconv_bn if transposed else conv_bn
        layers: list[nn.Module] = []
        for index in range(num_convs):
            width = out_channels if index == num_convs - 1 else channels
            layers += [*layer(channels, width, kernel_size), nn.ReLU(inplace=True)]
        if dropout:
            layers.append(nn.Dropout(dropout))  # element-wise, as Caffe's Dropout layer
        super().__init__(*layers)
