"""A user's own decoder part, outside segbench: a skip whose gate, computed from the decoder's maps, decides how much
of the encoder's pooled map each pixel takes. It honours the Skip contract of `segbench.models.parts`."""

from __future__ import annotations

import torch
from torch import nn


class GatedSkip(nn.Module):
    """x + sigmoid(conv1x1(x)) * encoder_map: built as GatedSkip(encoder_channels=E, channels=C), E == C."""

    def __init__(self, encoder_channels: int, channels: int) -> None:
        super().__init__()
        if encoder_channels != channels:
            raise ValueError(f"GatedSkip adds the encoder map as it is: {encoder_channels} != {channels} channels")
        self.gate = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor, encoder_map: torch.Tensor) -> torch.Tensor:
        return x + torch.sigmoid(self.gate(x)) * encoder_map

    def kept_from_encoder(self, encoder_map: torch.Tensor) -> list[torch.Tensor]:
        return [encoder_map]  # the whole 64-channel map is read at decoding time
