"""The whole network: `head(decoder(encoder(input_norm(x))))` (Sec. 3, Fig. 2)."""

from __future__ import annotations

import torch
from torch import nn


def he_initialise(module: nn.Module) -> None:
    """He et al. initialisation of every conv (Sec. 3.2); transposed convs keep their bilinear init."""
    for layer in module.modules():
        if type(layer) is nn.Conv2d:
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class Segmenter(nn.Module):
    """An encoder, a decoder and a 1x1 classifier to K classes, after input normalisation.

    `input_norm` is the local contrast normalisation of Sec. 3.2 — the paper's release applies
    `LocalResponseNorm(5, 1e-4, 0.75, 1)` to the 0-255 RGB input — or None to skip it.
    """

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, num_classes: int, input_norm: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.input_norm = input_norm if input_norm is not None else nn.Identity()
        self.encoder = encoder
        self.decoder = decoder
        self.head = nn.Conv2d(decoder.out_channels, num_classes, kernel_size=1)
        he_initialise(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(self.encoder(self.input_norm(x))))

    def kept_from_encoder(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Tensors this network stores from encoder to decoder at the first encoder level (Table 1)."""
        return self.decoder.kept_from_encoder(self.encoder(self.input_norm(x)), depth_index=0)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
