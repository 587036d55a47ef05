from __future__ import annotations

import numpy as np
import pytest
import torch

from segbench.data.balancing import median_frequency_weights


def test_median_frequency_on_a_hand_made_label_set():
    # image 1: class 0 x3, class 1 x1 (4 labelled px); image 2: class 1 x2, class 2 x1, void x1 (3 labelled px)
    labels = [np.array([[0, 0], [0, 1]]), np.array([[1, 1], [11, 2]])]
    # freq0 = 3/4, freq1 = (1+2)/(4+3) = 3/7, freq2 = 1/3 -> median 3/7; class 3 never appears -> 0
    weights = median_frequency_weights(labels, num_classes=4, ignore_index=11)
    assert weights.tolist() == pytest.approx([4 / 7, 1.0, 9 / 7, 0.0])


def test_accepts_tensors_and_a_void_inside_the_class_range():
    labels = [torch.tensor([[0, 1], [1, 2]])]
    # class 2 is void here: freq0 = 1/3, freq1 = 2/3 -> median 1/2
    assert median_frequency_weights(labels, num_classes=2, ignore_index=2).tolist() == pytest.approx([1.5, 0.75])
