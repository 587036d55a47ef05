"""Encoder pooling and the decoder's parts (upsample, densify, skip), on hand-made tensors."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from segbench.models import Decoder
from segbench.models.densify import NoDensify
from segbench.models.encoder import BasicEncoder, EncoderLevel, max_pool_keeping_indices
from segbench.models.parts import PartContractError
from segbench.models.skip import AddBottleneckEncoderMap, AddEncoderMap, AddReducedEncoderMap, ConcatConv, NoSkip
from segbench.models.upsample import BilinearUpsample, LearntDeconv, MaxUnpool, PixelShuffleUpsample, ResizeConv


def test_pooling_uses_ceil_mode_and_unpool_restores_the_odd_size():
    level = max_pool_keeping_indices(torch.rand(1, 2, 45, 59))
    assert level.pooled.shape[-2:] == (23, 30)
    assert MaxUnpool(2)(level.pooled, level).shape[-2:] == (45, 59)


def test_unpool_puts_each_value_back_at_its_argmax():
    x = torch.tensor([[1.0, 5.0, 2.0], [3.0, 0.0, 9.0], [7.0, 4.0, 6.0]]).view(1, 1, 3, 3)
    level = max_pool_keeping_indices(x)
    assert level.pooled.flatten().tolist() == [5.0, 9.0, 7.0, 6.0]
    restored = MaxUnpool(1)(level.pooled, level)
    expected = torch.tensor([[0.0, 5.0, 0.0], [0.0, 0.0, 9.0], [7.0, 0.0, 6.0]]).view(1, 1, 3, 3)
    assert torch.equal(restored, expected)


def test_encoder_levels_at_360x480():
    levels = BasicEncoder()(torch.rand(1, 3, 360, 480))
    assert [tuple(level.size) for level in levels] == [(360, 480), (180, 240), (90, 120), (45, 60)]
    assert levels[-1].pooled.shape == (1, 64, 23, 30)


def test_learnt_deconvolution_starts_as_exact_bilinear_interpolation():
    # A ramp in both directions: bilinear 2x upsampling of it is known exactly.
    rows, cols = torch.meshgrid(torch.arange(6.0), torch.arange(8.0), indexing="ij")
    ramp = torch.stack([3 * rows + cols, rows - 2 * cols]).unsqueeze(0)
    level = max_pool_keeping_indices(torch.zeros(1, 2, 12, 16))
    upsampled = LearntDeconv(channels=2)(ramp, level)
    expected = F.interpolate(ramp, size=(12, 16), mode="bilinear", align_corners=False)
    assert upsampled.shape == expected.shape
    # The transposed conv pads with zeros where interpolation clamps: compare away from the border.
    assert torch.allclose(upsampled[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1], atol=1e-5)
    # In the interior a ramp stays a ramp: half the slope per output pixel.
    assert torch.allclose(upsampled[0, 0, 5, 2:14].diff(), torch.full((11,), 0.5))


def test_learnt_deconvolution_crops_to_an_odd_size():
    level = max_pool_keeping_indices(torch.zeros(1, 3, 45, 59))
    assert LearntDeconv(channels=3)(torch.rand(1, 3, 23, 30), level).shape == (1, 3, 45, 59)


def test_bilinear_upsample_is_fixed_half_pixel_interpolation():
    """BilinearUpsample: [0, 4] -> [0, 1, 3, 4] (align_corners=False), no parameters, no buffers."""
    upsample = BilinearUpsample(channels=1)
    level = max_pool_keeping_indices(torch.zeros(1, 1, 1, 4))
    assert upsample(torch.tensor([0.0, 4.0]).view(1, 1, 1, 2), level).flatten().tolist() == [0.0, 1.0, 3.0, 4.0]
    assert list(upsample.parameters()) == [] and list(upsample.buffers()) == []


def test_bilinear_upsample_equals_f_interpolate_at_an_odd_size():
    """BilinearUpsample restores the level's exact (odd) size by F.interpolate(bilinear, align_corners=False)."""
    level = max_pool_keeping_indices(torch.zeros(1, 3, 45, 59))
    x = torch.randn(1, 3, 23, 30, generator=torch.Generator().manual_seed(0))
    expected = F.interpolate(x, size=(45, 59), mode="bilinear", align_corners=False)
    assert torch.equal(BilinearUpsample(channels=3)(x, level), expected)


def test_add_encoder_map_adds_the_map_unchanged():
    """AddEncoderMap: output = x + encoder_map, exactly."""
    x = torch.tensor([1.0, -2.0]).view(1, 2, 1, 1)
    encoder_map = torch.tensor([10.0, 100.0]).view(1, 2, 1, 1)
    assert AddEncoderMap(encoder_channels=2, channels=2)(x, encoder_map).flatten().tolist() == [11.0, 98.0]


def test_add_reduced_encoder_map_adds_the_1x1_reduction_of_the_map():
    """AddReducedEncoderMap: output = x + W @ encoder_map per pixel, W the 1x1 conv's (channels x encoder_channels)."""
    skip = AddReducedEncoderMap(encoder_channels=3, channels=2)
    with torch.no_grad():
        skip.reduce.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 1.0]]).view(2, 3, 1, 1))
    x = torch.tensor([1.0, -2.0]).view(1, 2, 1, 1)
    encoder_map = torch.tensor([10.0, 100.0, 1000.0]).view(1, 3, 1, 1)
    assert skip(x, encoder_map).flatten().tolist() == [1.0 + 10.0, -2.0 + 200.0 + 1000.0]


def test_no_skip_ignores_the_encoder_map():
    """NoSkip returns its input unchanged whatever the encoder map."""
    x = torch.tensor([1.0, -2.0]).view(1, 2, 1, 1)
    assert torch.equal(NoSkip(encoder_channels=2, channels=2)(x, torch.full((1, 2, 1, 1), 7.0)), x)


def constant_levels(values: list[float], channels: int = 2, size: int = 16) -> list[EncoderLevel]:
    """Encoder levels of a `size` x `size` input whose pooled map at depth d is the constant values[d]."""
    levels = []
    for value in values:
        level = max_pool_keeping_indices(torch.zeros(1, channels, size, size))
        levels.append(EncoderLevel(pooled=torch.full_like(level.pooled, value), indices=level.indices, size=level.size))
        size //= 2
    return levels


class NearestUpsample(nn.Module):
    """A stand-in upsampler for composition tests: nearest-neighbour to the level's size."""

    def __init__(self, channels: int) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor, level: EncoderLevel) -> torch.Tensor:
        return F.interpolate(x, size=tuple(level.size), mode="nearest")

    def kept_from_encoder(self, level: EncoderLevel) -> list[torch.Tensor]:
        return []


@pytest.mark.parametrize("skip", [NoSkip, AddEncoderMap])
def test_decoder_adds_each_shallower_pooled_map_once_and_nothing_at_full_resolution(skip):
    """Stage d (d > 0) adds encoder level d-1's pooled map; stage 0 adds nothing.

    With constant pooled maps 1, 10, 100 at depths 0..2, the deepest map 1000 as the decoder's input
    and a nearest-neighbour upsampler (which keeps constants exactly), the decoder's output reads
    1000 + 100 + 10 + 1: each level added exactly once, by the stage of its resolution.
    """
    decoder = Decoder(encoder_channels=2, channels=2, depth=4, upsample=NearestUpsample, densify=NoDensify, skip=skip)
    output = decoder(constant_levels([1.0, 10.0, 100.0, 1000.0]))
    assert output.shape == (1, 2, 16, 16)
    assert torch.equal(output, torch.full_like(output, 1111.0 if skip is AddEncoderMap else 1000.0))
    assert isinstance(decoder.stages[0].skip, NoSkip)


def test_decoder_stage_0_output_is_its_upsampled_input_with_nothing_added():
    """Stage 0 (input resolution) adds nothing: with an upsampler writing zeros the decoder's output is zero."""

    class ZeroUpsample(NearestUpsample):
        def forward(self, x: torch.Tensor, level: EncoderLevel) -> torch.Tensor:
            return x.new_zeros(*x.shape[:2], *level.size)

    decoder = Decoder(
        encoder_channels=2, channels=2, depth=4, upsample=ZeroUpsample, densify=NoDensify, skip=AddEncoderMap
    )
    output = decoder(constant_levels([1.0, 10.0, 100.0, 1000.0]))
    assert torch.equal(output, torch.zeros(1, 2, 16, 16))


def test_a_part_breaking_its_contract_is_refused_at_construction_in_one_line():
    """build_part names the stage, the kind, the part and the rule it breaks (segbench.models.parts)."""

    class NoKeptFromEncoder(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()

        def forward(self, x: torch.Tensor, level: EncoderLevel) -> torch.Tensor:
            return x

    class WrongArguments(NearestUpsample):
        def __init__(self, width: int) -> None:
            super().__init__(width)

    class ForwardWithoutLevel(NearestUpsample):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    name = "test_parts.test_a_part_breaking_its_contract_is_refused_at_construction_in_one_line.<locals>"
    cases = [
        (NoKeptFromEncoder, f"decoder stage 0 upsample {name}.NoKeptFromEncoder: the Upsample contract needs "
         "kept_from_encoder()"),
        (WrongArguments, f"decoder stage 0 upsample {name}.WrongArguments: the Upsample contract builds it as "
         "factory(channels=2), which it refused"),
        (ForwardWithoutLevel, f"decoder stage 0 upsample {name}.ForwardWithoutLevel: the Upsample contract's forward "
         "takes (x, level), not (x)"),
        (lambda channels: "not a module", "decoder stage 0 upsample"),
    ]  # fmt: skip
    for upsample, message in cases:
        with pytest.raises(PartContractError) as refused:
            Decoder(encoder_channels=2, channels=2, depth=2, upsample=upsample, densify=NoDensify)
        assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_resize_conv_is_its_conv_applied_to_the_nearest_resized_map():
    level = max_pool_keeping_indices(torch.zeros(1, 3, 45, 59))
    upsample = ResizeConv(channels=3, kernel_size=3).eval()
    x = torch.randn(1, 3, 23, 30, generator=torch.Generator().manual_seed(0))
    expected = upsample.conv(F.interpolate(x, size=(45, 59), mode="nearest"))
    assert torch.equal(upsample(x, level), expected) and upsample.kept_from_encoder(level) == []


def test_pixel_shuffle_puts_each_pixels_four_groups_in_its_2x2_block_and_cuts_to_an_odd_size():
    upsample = PixelShuffleUpsample(channels=1, kernel_size=1).eval()
    conv, batch_norm = upsample.expand[0], upsample.expand[1]
    with torch.no_grad():  # the 1x1 conv copies the input to its four groups times 1, 2, 3, 4; BN the identity
        conv.weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]).view(4, 1, 1, 1))
    batch_norm.running_var.fill_(1 - batch_norm.eps)
    level = max_pool_keeping_indices(torch.zeros(1, 1, 3, 3))
    out = upsample(torch.tensor([[1.0, 10.0], [100.0, 1000.0]]).view(1, 1, 2, 2), level)
    assert out.flatten().tolist() == pytest.approx([1, 2, 10, 3, 4, 30, 100, 200, 1000])


def test_concat_conv_convolves_the_decoder_and_encoder_maps_together():
    skip = ConcatConv(encoder_channels=3, channels=2, kernel_size=1).eval()
    assert tuple(skip.fuse[0].weight.shape) == (2, 5, 1, 1)
    x, encoder_map = torch.randn(1, 2, 4, 5), torch.randn(1, 3, 4, 5)
    assert torch.equal(skip(x, encoder_map), skip.fuse(torch.cat([x, encoder_map], 1)))
    assert skip.kept_from_encoder(encoder_map) == [encoder_map]


def test_bottleneck_skip_keeps_a_k_channel_map_and_adds_its_expansion():
    skip = AddBottleneckEncoderMap(encoder_channels=64, channels=64, bottleneck=11)
    x, encoder_map = torch.randn(1, 64, 4, 5), torch.randn(1, 64, 4, 5)
    (kept,) = skip.kept_from_encoder(encoder_map)
    assert kept.shape == (1, 11, 4, 5)
    assert torch.allclose(skip(x, encoder_map), x + skip.expand(kept))
