"""Skips: the third choice of a decoder stage — what, if anything, it adds from the encoder.

The added map is the pooled output of the encoder block one level up, which has the stage's
output resolution (Fig. 3: "the output of the max-pooling layer ... in the corresponding encoder").
"""

from __future__ import annotations

import torch
from torch import nn

from segbench.models.layers import conv_bn


class NoSkip(nn.Module):
    def __init__(self, encoder_channels: int, channels: int) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor, encoder_map: torch.Tensor) -> torch.Tensor:
        return x

    def kept_from_encoder(self, encoder_map: torch.Tensor) -> list[torch.Tensor]:
        return []


class AddEncoderMap(nn.Module):
    """SegNet-Basic-EncoderAddition and FCN-Basic-NoDimReduction: add the 64 encoder maps as they are."""

    def __init__(self, encoder_channels: int, channels: int) -> None:
        super().__init__()
        if encoder_channels != channels:
            raise ValueError(
                f"AddEncoderMap needs decoder channels == encoder channels, got {channels} != {encoder_channels}"
            )

    def forward(self, x: torch.Tensor, encoder_map: torch.Tensor) -> torch.Tensor:
        return x + encoder_map

    def kept_from_encoder(self, encoder_map: torch.Tensor) -> list[torch.Tensor]:
        return [encoder_map]


class AddReducedEncoderMap(nn.Module):
    """FCN-Basic: compress the encoder map to the decoder's K channels with a 1x1 conv, then add."""

    def __init__(self, encoder_channels: int, channels: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(encoder_channels, channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor, encoder_map: torch.Tensor) -> torch.Tensor:
        return x + self.reduce(encoder_map)

    def kept_from_encoder(self, encoder_map: torch.Tensor) -> list[torch.Tensor]:
        # At inference FCN stores the compressed map, not the 64-channel one (Sec. 3.1).
        return [self.reduce(encoder_map)]


class ConcatConv(nn.Module):
    """U-Net's skip (Ronneberger, Fischer, Brox, MICCAI 2015; beyond the paper): concatenate the encoder map to
    the decoder's maps, then a conv and batch norm back to the decoder's width. Keeps the whole encoder map."""

    def __init__(self, encoder_channels: int, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.fuse = nn.Sequential(*conv_bn(channels + encoder_channels, channels, kernel_size))

    def forward(self, x: torch.Tensor, encoder_map: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([x, encoder_map], dim=1))

    def kept_from_encoder(self, encoder_map: torch.Tensor) -> list[torch.Tensor]:
        return [encoder_map]


class AddBottleneckEncoderMap(nn.Module):
    """Beyond the paper, a probe of Sec. 3.3's memory argument: store the encoder map reduced by a 1x1 conv to
    `bottleneck` channels (e.g. K, FCN-Basic's storage), expand it back by another 1x1 conv and add it. With
    SegNet's unpooling this keeps the indices plus a K-channel map."""

    def __init__(self, encoder_channels: int, channels: int, bottleneck: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(encoder_channels, bottleneck, kernel_size=1, bias=False)
        self.expand = nn.Conv2d(bottleneck, channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor, encoder_map: torch.Tensor) -> torch.Tensor:
        return x + self.expand(self.reduce(encoder_map))

    def kept_from_encoder(self, encoder_map: torch.Tensor) -> list[torch.Tensor]:
        return [self.reduce(encoder_map)]
