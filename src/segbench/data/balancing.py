"""Class balancing of the loss (Sec. 3.2): median frequency [Eigen & Fergus] or natural (none)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from segbench.data.camvid import NUM_CLASSES, VOID_INDEX


def median_frequency_weights(
    labels: Iterable[np.ndarray | torch.Tensor], num_classes: int = NUM_CLASSES, ignore_index: int | None = VOID_INDEX
) -> torch.Tensor:
    """weight(c) = median(freq) / freq(c), with freq(c) = pixels of c / labelled pixels of the images containing c.

    Void pixels (`ignore_index`) count neither as a class nor toward an image's pixel total, since
    the loss never sees them. A class absent from every image gets weight 0 (it never reaches the loss)
    and is left out of the median.
    """
    class_pixels = np.zeros(num_classes, dtype=np.float64)
    image_pixels = np.zeros(num_classes, dtype=np.float64)
    for label in labels:
        values = np.asarray(label).ravel()
        counts = np.bincount(values, minlength=num_classes + 1).astype(np.float64)
        if ignore_index is not None and ignore_index < counts.size:
            counts[ignore_index] = 0
        counts = counts[:num_classes]
        class_pixels += counts
        image_pixels[counts > 0] += counts.sum()
    present = image_pixels > 0
    frequency = np.divide(class_pixels, image_pixels, out=np.zeros_like(class_pixels), where=present)
    weights = np.zeros(num_classes, dtype=np.float64)
    weights[present] = np.median(frequency[present]) / frequency[present]
    return torch.tensor(weights, dtype=torch.float32)


class MedianFrequencyBalancing:
    """`balancing=median_frequency`: weights from the training labels (the paper's setting)."""

    name = "median_frequency"

    def __call__(self, train_labels: np.ndarray, num_classes: int, ignore_index: int | None) -> torch.Tensor:
        return median_frequency_weights(train_labels, num_classes, ignore_index)


class NaturalBalancing:
    """`balancing=natural`: every class weighs 1 (Table 1's "natural frequency" columns)."""

    name = "natural"

    def __call__(self, train_labels: np.ndarray, num_classes: int, ignore_index: int | None) -> torch.Tensor:
        return torch.ones(num_classes)
