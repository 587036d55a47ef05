"""Upsamplers: the first of a decoder stage's three choices (Fig. 3, Table 1).

Each restores the exact pre-pooling size of its encoder level and reports, through
`kept_from_encoder`, which encoder tensors it needs at inference — Table 1's storage column.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from segbench.models.encoder import EncoderLevel


class MaxUnpool(nn.Module):
    """SegNet's upsampling (Sec. 3): put each value back at its pooling window's argmax; no learning."""

    def __init__(self, channels: int) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor, level: EncoderLevel) -> torch.Tensor:
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


def bilinear_deconv_weight(channels: int, kernel_size: int = 8) -> torch.Tensor:
    """Weights with which a stride-2 transposed conv computes bilinear 2x interpolation.

    The 2x bilinear taps (1/4, 3/4, 3/4, 1/4) sit in the middle of the `kernel_size` kernel
    (padding kernel_size//2 - 1 aligns them), each channel mapping to itself only [FCN, ref. 2].
    """
    taps = torch.zeros(kernel_size)
    centre = kernel_size // 2
    taps[centre - 2 : centre + 2] = torch.tensor([0.25, 0.75, 0.75, 0.25])
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight[range(channels), range(channels)] = torch.outer(taps, taps)
    return weight


class LearntDeconv(nn.Module):
    """FCN's upsampling (Sec. 3.1): a trainable 8x8 transposed conv, stride 2, bilinear initialisation."""

    def __init__(self, channels: int, kernel_size: int = 8) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(
            channels, channels, kernel_size, stride=2, padding=kernel_size // 2 - 1, bias=False
        )
        with torch.no_grad():
            self.deconv.weight.copy_(bilinear_deconv_weight(channels, kernel_size))

    def forward(self, x: torch.Tensor, level: EncoderLevel) -> torch.Tensor:
        height, width = level.size
        # A stride-2 deconv doubles the size; ceil-mode pooling of an odd size needs one row cut.
        return self.deconv(x)[..., :height, :width]

    def kept_from_encoder(self, level: EncoderLevel) -> list[torch.Tensor]:
        return []
