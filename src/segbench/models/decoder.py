"""The decoder as a composition (Sec. 3.1, Fig. 3, Table 1).

Every Table 1 variant is one choice of (upsample, densify, skip) plus a width. A stage computes
`skip(densify(upsample(x, level)), encoder_map)`; the decoder knows no variant names.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from segbench.models.encoder import EncoderLevel
from segbench.models.skip import NoSkip


class DecoderStage(nn.Module):
    def __init__(self, upsample: nn.Module, densify: nn.Module, skip: nn.Module) -> None:
        super().__init__()
        self.upsample = upsample
        self.densify = densify
        self.skip = skip

    def forward(self, x: torch.Tensor, level: EncoderLevel, encoder_map: torch.Tensor | None) -> torch.Tensor:
        x = self.densify(self.upsample(x, level))
        return x if encoder_map is None else self.skip(x, encoder_map)


class Decoder(nn.Module):
    """One stage per encoder level, deepest first.

    Args:
        encoder_channels: channels of the encoder's pooled maps (64 in SegNet-Basic).
        channels: decoder width. SegNet keeps 64; FCN-Basic compresses the deepest encoder map
            to K = number of classes with a 1x1 conv ("dimensionality reduction", Sec. 3.1).
        depth: number of stages (= encoder blocks).
        upsample, densify, skip: factories (Hydra `_partial_`) building each stage's parts.
    """

    def __init__(
        self,
        encoder_channels: int,
        channels: int,
        depth: int,
        upsample: Callable[..., nn.Module],
        densify: Callable[..., nn.Module],
        skip: Callable[..., nn.Module] = NoSkip,
    ) -> None:
        super().__init__()
        self.out_channels = channels
        self.input_projection = (
            nn.Identity() if channels == encoder_channels else nn.Conv2d(encoder_channels, channels, 1, bias=False)
        )
        # Stage 0 outputs at input resolution, where no pooled encoder map exists to add.
        self.stages = nn.ModuleList(
            DecoderStage(
                upsample(channels=channels),
                densify(channels=channels),
                skip(encoder_channels=encoder_channels, channels=channels)
                if depth_index > 0
                else NoSkip(encoder_channels, channels),
            )
            for depth_index in range(depth)
        )

    @staticmethod
    def _encoder_map(levels: list[EncoderLevel], depth_index: int) -> torch.Tensor | None:
        return levels[depth_index - 1].pooled if depth_index > 0 else None

    def forward(self, levels: list[EncoderLevel]) -> torch.Tensor:
        x = self.input_projection(levels[-1].pooled)
        for depth_index in reversed(range(len(self.stages))):
            x = self.stages[depth_index](x, levels[depth_index], self._encoder_map(levels, depth_index))
        return x

    def kept_from_encoder(self, levels: list[EncoderLevel], depth_index: int = 0) -> list[torch.Tensor]:
        """The tensors that must be stored from encoding to decoding for encoder level `depth_index`.

        Level 0 (the highest resolution) gives Table 1's storage column: its indices are used by
        stage 0's upsampler and its pooled map by stage 1's skip.
        """
        kept = self.stages[depth_index].upsample.kept_from_encoder(levels[depth_index])
        if depth_index + 1 < len(self.stages):
            kept = kept + self.stages[depth_index + 1].skip.kept_from_encoder(levels[depth_index].pooled)
        return kept
