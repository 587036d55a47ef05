"""Skips: the third choice of a decoder stage — what, if anything, it adds from the encoder.

The added map is the pooled output of the encoder block one level up, which has the stage's
output resolution (Fig. 3: "the output of the max-pooling layer ... in the corresponding encoder").
"""

from __future__ import annotations

import torch
from torch import nn


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
