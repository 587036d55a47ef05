"""Encoder pooling, the upsamplers and the input normalisation, on hand-made tensors."""

from __future__ import annotations

import torch
from segbench.models.encoder import BasicEncoder, max_pool_keeping_indices
from segbench.models.upsample import MaxUnpool


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
