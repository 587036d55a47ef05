"""BN statistics recomputed as the release's compute_bn_statistics.py: averages of per-batch statistics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from segbench.callbacks import recompute_batch_norm_statistics
from segbench.task import SegmentationTask


def constant_images(*values: int) -> torch.Tensor:
    return torch.stack([torch.full((3, 2, 2), v, dtype=torch.uint8) for v in values])


def test_statistics_are_the_average_of_per_batch_statistics():
    norm = nn.BatchNorm2d(3)
    task = SegmentationTask(nn.Sequential(norm), optimizer={"_target_": "torch.optim.SGD"}, channels_last=False)
    task.train()
    labels = torch.zeros(2, 2, 2, dtype=torch.uint8)
    # batch 1: images of 0s and 4s -> mean 2, unbiased var 8*4/7; batch 2: one image of 6s -> mean 6, var 0
    loader = [(constant_images(0, 4), labels), (constant_images(6), labels[:1])]
    assert recompute_batch_norm_statistics(task, loader) == 2
    assert norm.running_mean.tolist() == pytest.approx([4.0] * 3)
    assert norm.running_var.tolist() == pytest.approx([16 / 7] * 3)
    # momentum and the module's mode are given back as they were
    assert norm.momentum == 0.1 and task.training and norm.training


def test_running_averages_of_pytorch_differ_from_the_recomputed_ones():
    norm = nn.BatchNorm2d(3)
    task = SegmentationTask(nn.Sequential(norm), optimizer={"_target_": "torch.optim.SGD"}, channels_last=False)
    task.train()
    with torch.no_grad():
        task(constant_images(0, 4).float())
        task(constant_images(6).float())
    # exponential averaging with momentum 0.1 from (0, 1): far from the data's mean of 4
    assert norm.running_mean[0].item() == pytest.approx(0.9 * 0.1 * 2 + 0.1 * 6)
