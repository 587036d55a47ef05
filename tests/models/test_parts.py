"""Encoder pooling, the upsamplers and the input normalisation, on hand-made tensors."""

from __future__ import annotations

import torch
from segbench.models.encoder import BasicEncoder, max_pool_keeping_indices
from torch.nn import functional as F

from segbench.models.upsample import LearntDeconv, MaxUnpool


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
