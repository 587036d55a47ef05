"""Layers shared by encoders and decoders."""

from __future__ import annotations

from torch import nn


def conv_bn(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    groups: int = 1,
    dilation: int = 1,
    conv: type[nn.Conv2d] = nn.Conv2d,
) -> list[nn.Module]:
    """Convolution without bias followed by batch norm, as every SegNet layer (Sec. 3.1).

    The padding keeps the spatial size, also for DeepLab's atrous (dilated) convolutions (Sec. 4).
    """
    return [
        conv(
            in_channels,
            out_channels,
            kernel_size,
            padding=dilation * (kernel_size // 2),
            dilation=dilation,
            bias=False,
            groups=groups,
        ),
        nn.BatchNorm2d(out_channels),
    ]


def he_initialised_deconv(in_channels: int, out_channels: int, kernel_size: int) -> nn.ConvTranspose2d:
    """A stride-1, size-keeping transposed convolution without bias, He-initialised (Sec. 3.2).

    `Segmenter`'s He initialisation leaves transposed convs alone (FCN's keep their bilinear start), so
    DeconvNet's layers initialise themselves. A transposed conv's weight is (in, out, k, k): the fan-in of
    its forward pass, in * k * k, is what torch calls the tensor's fan_out.
    """
    deconv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
    nn.init.kaiming_normal_(deconv.weight, mode="fan_out", nonlinearity="relu")
    return deconv


def deconv_bn(in_channels: int, out_channels: int, kernel_size: int) -> list[nn.Module]:
    """DeconvNet's layer [4]: transposed convolution followed by batch norm (Sec. 4 adds BN after every conv)."""
    return [he_initialised_deconv(in_channels, out_channels, kernel_size), nn.BatchNorm2d(out_channels)]


class DeconvBNReLU(nn.Sequential):
    """A transposed conv, BN and ReLU: DeconvNet's `deconv-fc6`, which maps fc7 back to pool5's 512 maps."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 7) -> None:
        super().__init__(*deconv_bn(in_channels, out_channels, kernel_size), nn.ReLU(inplace=True))
