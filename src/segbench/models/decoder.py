"""The decoder as a composition (Sec. 3.1, Fig. 3, Table 1; Sec. 4, Table 3).

Every Table 1 variant is one choice of (upsample, densify, skip) plus a width. A stage computes
`skip(densify(upsample(x, level)), encoder_map)`; the decoder knows no variant names.

The Table 3 networks are more choices of the same parts: a width per encoder level (VGG16's 64 ... 512),
a part per stage where stages differ (FCN-8s' 2x and 8x deconvolutions), stages at only some levels
(FCN-8s upsamples from pool3 to the input in one step, DeepLab-LargeFOV from its 45x60 output), and an
input projection that may be VGG16's fully connected layers run as convolutions (FCN, DeepLab, DeconvNet).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from segbench.models.encoder import EncoderLevel
from segbench.models.parts import build_part
from segbench.models.skip import NoSkip

Factory = Callable[..., nn.Module]


def _per_level(value: int | Sequence[int], depth: int, name: str) -> list[int]:
    if isinstance(value, int):
        return [value] * depth
    values = [int(v) for v in value]
    if len(values) != depth:
        raise ValueError(f"{name} needs one width per encoder level ({depth}), got {values}")
    return values


def _per_stage(factory: Factory | Sequence[Factory], count: int, name: str) -> list[Factory]:
    """One factory for every stage, or a list of them, stage 0 (full resolution) first."""
    if callable(factory):
        return [factory] * count
    factories = list(factory)
    if len(factories) != count:
        raise ValueError(f"{name} needs one part per decoder stage ({count}), got {len(factories)}")
    return factories


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
    """One stage per encoder level (or per level in `stage_depths`), deepest first.

    Args:
        encoder_channels: channels of the encoder's pooled maps, one number (64 in SegNet-Basic) or one
            per level (VGG16: 64, 128, 256, 512, 512).
        channels: decoder width, one number or one per level. SegNet-Basic keeps 64; FCN-Basic compresses
            the deepest encoder map to K = number of classes with a 1x1 conv ("dimensionality
            reduction", Sec. 3.1). Per level (SegNet, DeconvNet): the stage at depth d takes
            `channels[d]` maps and hands the next shallower stage its width (Sec. 3: each decoder
            produces maps with the channels of its encoder's input); the shallowest keeps its width.
        depth: number of encoder levels (= encoder blocks).
        upsample, densify, skip: factories (Hydra `_partial_`) building each stage's parts, or a list
            of factories, one per stage, stage 0 (full resolution) first; each part honours the contract
            of its kind in `segbench.models.parts`.
        stage_depths: the levels that get a stage (default: all). Stage d upsamples to level d's size
            and adds (its skip permitting) level d-1's pooled map; level 0 must have one, so that the
            output has the input's size. FCN-8s: [0, 3, 4]; DeepLab-LargeFOV: [0].
        input_projection: factory for what maps the deepest pooled map to the deepest stage's width,
            an `InputProjection` (`segbench.models.parts`): VGG16's fc6/fc7 for FCN, DeepLab, DeconvNet (Sec. 4).
            Default: nothing when the widths agree, else a 1x1 conv without bias (FCN-Basic's reduction).
    """

    def __init__(
        self,
        encoder_channels: int | Sequence[int],
        channels: int | Sequence[int],
        depth: int,
        upsample: Factory | Sequence[Factory],
        densify: Factory | Sequence[Factory],
        skip: Factory | Sequence[Factory] = NoSkip,
        stage_depths: Sequence[int] | None = None,
        input_projection: Factory | None = None,
    ) -> None:
        super().__init__()
        encoder_widths = _per_level(encoder_channels, depth, "encoder_channels")
        widths = _per_level(channels, depth, "channels")
        self.stage_depths = list(range(depth)) if stage_depths is None else sorted(int(d) for d in stage_depths)
        if (
            self.stage_depths[0] != 0
            or self.stage_depths[-1] >= depth
            or len(set(self.stage_depths)) < len(self.stage_depths)
        ):
            raise ValueError(f"stage_depths must be distinct levels in 0..{depth - 1} including 0, got {stage_depths}")
        count = len(self.stage_depths)
        upsamples, densifiers, skips = (
            _per_stage(f, count, n) for f, n in ((upsample, "upsample"), (densify, "densify"), (skip, "skip"))
        )
        in_widths = [widths[d] for d in self.stage_depths]
        # A stage hands the next shallower one its width; the shallowest keeps its own.
        out_widths = in_widths[:1] + in_widths[:-1]
        self.out_channels = out_widths[0]
        if input_projection is not None:
            self.input_projection = build_part(
                "input_projection",
                input_projection,
                "decoder",
                in_channels=encoder_widths[-1],
                out_channels=in_widths[-1],
            )
        elif in_widths[-1] == encoder_widths[-1]:
            self.input_projection = nn.Identity()
        else:
            self.input_projection = nn.Conv2d(encoder_widths[-1], in_widths[-1], 1, bias=False)
        self.stages = nn.ModuleList()
        for i, depth_index in enumerate(self.stage_depths):
            where = f"decoder stage {depth_index}"
            widths_of_densify = dict(channels=in_widths[i])
            if in_widths[i] != out_widths[i]:
                widths_of_densify["out_channels"] = out_widths[i]
            # Built in this order (upsample, densify, skip) so that seeded weights stay as they were.
            upsample_part = build_part("upsample", upsamples[i], where, channels=in_widths[i])
            densify_part = build_part("densify", densifiers[i], where, **widths_of_densify)
            # Stage 0 outputs at input resolution, where no pooled encoder map exists to add.
            skip_part = (
                build_part(
                    "skip", skips[i], where, encoder_channels=encoder_widths[depth_index - 1], channels=out_widths[i]
                )
                if depth_index > 0
                else NoSkip(encoder_widths[0], out_widths[i])
            )
            self.stages.append(DecoderStage(upsample_part, densify_part, skip_part))

    @staticmethod
    def _encoder_map(levels: list[EncoderLevel], depth_index: int) -> torch.Tensor | None:
        return levels[depth_index - 1].pooled if depth_index > 0 else None

    def stage_at(self, depth_index: int) -> DecoderStage | None:
        """The stage of encoder level `depth_index`, or None where that level has none."""
        if depth_index not in self.stage_depths:
            return None
        return self.stages[self.stage_depths.index(depth_index)]

    def forward(self, levels: list[EncoderLevel]) -> torch.Tensor:
        x = self.input_projection(levels[-1].pooled)
        for stage, depth_index in zip(reversed(self.stages), reversed(self.stage_depths)):
            x = stage(x, levels[depth_index], self._encoder_map(levels, depth_index))
        return x

    def kept_from_encoder(self, levels: list[EncoderLevel], depth_index: int = 0) -> list[torch.Tensor]:
        """The tensors that must be stored from encoding to decoding for encoder level `depth_index`.

        Level 0 (the highest resolution) gives Table 1's storage column: its indices are used by
        stage 0's upsampler and its pooled map by stage 1's skip.
        """
        kept = []
        if (stage := self.stage_at(depth_index)) is not None:
            kept = kept + stage.upsample.kept_from_encoder(levels[depth_index])
        if (above := self.stage_at(depth_index + 1)) is not None:
            kept = kept + above.skip.kept_from_encoder(levels[depth_index].pooled)
        return kept
