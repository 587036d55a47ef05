from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from segbench.losses import PixelCrossEntropy


def test_weighted_sum_is_divided_by_the_number_of_non_void_pixels():
    # three pixels: class 0 with logits (0, 0), class 1 with logits (0, ln 3), void
    logits = torch.tensor([[0.0, 0.0, 5.0], [0.0, math.log(3.0), -5.0]]).view(1, 2, 1, 3)
    target = torch.tensor([[[0, 1, 11]]])
    weight = torch.tensor([2.0, 0.5])
    expected = (2.0 * math.log(2.0) + 0.5 * math.log(4.0 / 3.0)) / 2  # two non-void pixels
    loss = PixelCrossEntropy(weight, ignore_index=11)(logits, target)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # PyTorch's weighted mean divides by the weight sum 2.5 instead: a different number.
    torch_mean = F.cross_entropy(logits, target, weight=weight, ignore_index=11)
    assert torch_mean.item() == pytest.approx(expected * 2 / 2.5, rel=1e-6)


def test_unweighted_loss_is_the_plain_mean_and_all_void_is_zero():
    logits = torch.randn(2, 4, 3, 3)
    target = torch.randint(0, 4, (2, 3, 3))
    assert PixelCrossEntropy(None, ignore_index=11)(logits, target).item() == pytest.approx(
        F.cross_entropy(logits, target).item(), rel=1e-6
    )
    assert PixelCrossEntropy(None, ignore_index=11)(logits, torch.full((2, 3, 3), 11)).item() == 0.0
