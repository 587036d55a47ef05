"""Upsamplers: the first of a decoder stage's three choices (Fig. 3, Table 1).

Each restores the exact pre-pooling size of its encoder level and reports, through
`kept_from_encoder`, which encoder tensors it needs at inference — Table 1's storage column.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from segbench.models.encoder import EncoderLevel
from segbench.models.layers import conv_bn
from segbench.models.packed_indices import max_unpool_2x2_packed


class MaxUnpool(nn.Module):
    """SegNet's upsampling (Sec. 3): put each value back at its pooling window's argmax; no learning.

    Reads the indices as the encoder holds them (`segbench.models.encoder`): packed 2-bit codes (uint8)
    or max_pool2d's int64 flat indices; both give the same output and gradient.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor, level: EncoderLevel) -> torch.Tensor:
        if level.indices is None:
            raise ValueError("unpooling needs the pooling indices, but the encoder keeps none (indices: none)")
        if level.indices.dtype == torch.uint8:
            return max_unpool_2x2_packed(x, level.indices, level.size)
        return F.max_unpool2d(x, level.indices, kernel_size=2, stride=2, output_size=level.size)

    def kept_from_encoder(self, level: EncoderLevel) -> list[torch.Tensor]:
        return [level.indices]


class BilinearUpsample(nn.Module):
    """Bilinear-Interpolation variant (Table 1): fixed interpolation, nothing learnt, nothing kept."""

    def __init__(self, channels: int) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor, level: EncoderLevel) -> torch.Tensor:
        return F.interpolate(x, size=tuple(level.size), mode="bilinear", align_corners=False)

    def kept_from_encoder(self, level: EncoderLevel) -> list[torch.Tensor]:
        return []


def bilinear_deconv_weight(channels: int, kernel_size: int = 8, stride: int = 2) -> torch.Tensor:
    """Weights with which a transposed conv of `stride` s computes bilinear s-times interpolation.

    The 2s bilinear taps 1 - |t - (s - 1/2)| / s (for s = 2: 1/4, 3/4, 3/4, 1/4) sit in the middle of the
    `kernel_size` kernel (padding kernel_size//2 - s//2 aligns them), each channel mapping to itself only
    [FCN, ref. 2]. FCN-Basic uses s = 2 in an 8x8 kernel (Sec. 3.1); FCN-8s 4x4 for s = 2, 16x16 for s = 8.
    """
    if stride % 2 or kernel_size < 2 * stride:
        raise ValueError(f"bilinear deconvolution needs an even stride and kernel_size >= 2 * stride, got {stride}")
    offsets = torch.arange(2 * stride, dtype=torch.float32)
    taps_of_stride = 1 - (offsets - (stride - 0.5)).abs() / stride
    taps = torch.zeros(kernel_size)
    centre = kernel_size // 2
    taps[centre - stride : centre + stride] = taps_of_stride
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight[range(channels), range(channels)] = torch.outer(taps, taps)
    return weight


class LearntDeconv(nn.Module):
    """FCN's upsampling (Sec. 3.1): a trainable transposed conv, bilinear initialisation.

    FCN-Basic (Table 1): 8x8 kernel, stride 2. FCN-8s (Table 3, "FCN (learnt deconv)"): 4x4, stride 2 for
    its two 2x steps and 16x16, stride 8 for the last step to the input resolution.
    """

    def __init__(self, channels: int, kernel_size: int = 8, stride: int = 2) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(
            channels, channels, kernel_size, stride=stride, padding=kernel_size // 2 - stride // 2, bias=False
        )
        with torch.no_grad():
            self.deconv.weight.copy_(bilinear_deconv_weight(channels, kernel_size, stride))

    def forward(self, x: torch.Tensor, level: EncoderLevel) -> torch.Tensor:
        height, width = level.size
        # A stride-s deconv multiplies the size by s; ceil-mode pooling of an odd size needs rows cut.
        return self.deconv(x)[..., :height, :width]

    def kept_from_encoder(self, level: EncoderLevel) -> list[torch.Tensor]:
        return []


class ResizeConv(nn.Module):
    """Resize-convolution (Odena, Dumoulin, Olah, "Deconvolution and checkerboard artifacts", Distill 2016; beyond
    the paper): interpolate to the level's size (nearest or bilinear), then a learnt conv and batch norm.

    Nearest resizing followed by a k x k conv is what a stride-2 transposed conv computes without its uneven
    overlap, so it cannot make checkerboard patterns. Nothing is kept from the encoder.
    """

    def __init__(self, channels: int, kernel_size: int = 3, mode: str = "nearest") -> None:
        super().__init__()
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"ResizeConv mode must be nearest or bilinear, got {mode!r}")
        self.mode = mode
        self.conv = nn.Sequential(*conv_bn(channels, channels, kernel_size))

    def forward(self, x: torch.Tensor, level: EncoderLevel) -> torch.Tensor:
        options = {"align_corners": False} if self.mode == "bilinear" else {}
        return self.conv(F.interpolate(x, size=tuple(level.size), mode=self.mode, **options))

    def kept_from_encoder(self, level: EncoderLevel) -> list[torch.Tensor]:
        return []


class PixelShuffleUpsample(nn.Module):
    """Sub-pixel convolution (Shi et al., "Real-time single image and video super-resolution...", CVPR 2016;
    beyond the paper): a conv to 4x the channels at the low resolution, then `PixelShuffle(2)` rearranges each
    pixel's 4 groups into its 2x2 block; rows and columns past an odd level's size are cut.

    The conv is He-initialised like every other (no ICNR). Nothing is kept from the encoder.
    """

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.expand = nn.Sequential(*conv_bn(channels, 4 * channels, kernel_size), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor, level: EncoderLevel) -> torch.Tensor:
        height, width = level.size
        return self.expand(x)[..., :height, :width]

    def kept_from_encoder(self, level: EncoderLevel) -> list[torch.Tensor]:
        return []
