"""Scores kept per test image, so that G, C, mIoU and BF (Sec. 3.3) of any subset of images can be recomputed
exactly, without the checkpoint: each image's confusion matrix and its per-class boundary counts.

The split's region scores follow torchmetrics' macro averages (`MulticlassAccuracy`, `MulticlassJaccardIndex`
with `ignore_index`): a class absent from both the ground truth and the prediction is left out of C and mIoU,
a class predicted but absent from the ground truth scores 0. The test checks both against torchmetrics.
Hand-written because torchmetrics keeps only the split's total confusion, not one per image.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from segbench.metrics.boundary_f1 import boundary_counts_per_class, image_bf_from_counts
from segbench.paper import BF_TOLERANCE

__all__ = ["PerImageCounts", "class_scores", "split_scores"]


class PerImageCounts(Metric):
    """Each image's confusion matrix (rows: truth, columns: prediction; void pixels left out) and its exact
    per-class boundary counts (`boundary_counts_per_class`), with the image's index in the split.

    `update(preds, target, index)`: (N, H, W) label maps and the images' (N,) indices in the split. Under DDP
    the processes' images are gathered; `compute` returns them ordered by index.
    The split's BF is computed from these counts too, so each image's boundaries are matched once.
    """

    is_differentiable = False
    full_state_update = False

    def __init__(self, num_classes: int, ignore_index: int | None, tolerance: float = BF_TOLERANCE, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes, self.ignore_index, self.tolerance = num_classes, ignore_index, tolerance
        for name in ("index", "confusion", "boundary"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, preds: torch.Tensor, target: torch.Tensor, index: torch.Tensor) -> None:
        k = self.num_classes
        preds, target = preds.detach().long().cpu(), target.detach().long().cpu()
        labelled = (target >= 0) & (target < k)
        if self.ignore_index is not None:
            labelled &= target != self.ignore_index
        codes = torch.where(labelled, target * k + preds, k * k)  # k*k: the void pixels' bin, dropped below
        confusion = torch.stack([torch.bincount(image.flatten(), minlength=k * k + 1)[:-1] for image in codes])
        # kept on the metric's device: under DDP on GPUs the states are gathered through NCCL
        self.confusion.append(confusion.view(-1, k, k).int().to(self.device))
        boundary = [
            boundary_counts_per_class(p.numpy(), t.numpy(), k, self.ignore_index, self.tolerance)
            for p, t in zip(preds, target)
        ]
        self.boundary.append(torch.from_numpy(np.stack(boundary)).int().to(self.device))
        self.index.append(index.detach().long().to(self.device))

    def compute(self) -> dict[str, np.ndarray]:
        """{"index", "confusion" (images, K, K), "boundary" (images, K, 4)}, ordered by index."""
        if isinstance(self.index, list) and not self.index:  # a tensor once synced across processes
            k = self.num_classes
            return {
                "index": np.zeros(0, np.int64),
                "confusion": np.zeros((0, k, k), np.int32),
                "boundary": np.zeros((0, k, 4), np.int32),
            }
        index = dim_zero_cat(self.index).cpu().numpy()
        order = np.argsort(index, kind="stable")
        return {
            "index": index[order],
            "confusion": dim_zero_cat(self.confusion).cpu().numpy()[order],
            "boundary": dim_zero_cat(self.boundary).cpu().numpy()[order],
        }


def class_scores(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class accuracy and IoU of a (K, K) confusion matrix (NaN where a class has no pixel either side)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    true_positive = np.diag(confusion)
    truth, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(truth > 0, true_positive / truth, 0.0)
        union = truth + predicted - true_positive
        iou = np.where(union > 0, true_positive / union, 0.0)
    present = (truth + predicted) > 0
    return {"accuracy": np.where(present, accuracy, np.nan), "IoU": np.where(present, iou, np.nan)}


def split_scores(confusion: np.ndarray, boundary: np.ndarray) -> dict[str, float]:
    """G, C, mIoU and BF of a set of images from their per-image confusions (images, K, K) and boundary counts
    (images, K, 4): the region scores from the summed confusion, BF the mean of the images' BF (Sec. 3.3)."""
    total = np.asarray(confusion, dtype=np.float64).sum(axis=0)
    per_class = class_scores(total)
    image_bf = image_bf_from_counts(boundary)
    scored = image_bf[~np.isnan(image_bf)]
    return {
        "G": float(np.trace(total) / total.sum()) if total.sum() else 0.0,
        "C": float(np.nanmean(per_class["accuracy"])) if (~np.isnan(per_class["accuracy"])).any() else 0.0,
        "mIoU": float(np.nanmean(per_class["IoU"])) if (~np.isnan(per_class["IoU"])).any() else 0.0,
        "BF": float(scored.mean()) if scored.size else 0.0,
    }
