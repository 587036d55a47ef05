"""Boundary F1 (BF) score of the SegNet paper (Badrinarayanan et al., TPAMI 2017, Sec. 3.3).

The BF score (Csurka et al., BMVC 2013) measures how well predicted class contours line up with
the ground-truth contours, the paper's complement to the region measures G, C and mIoU:

* **Boundary pixels.** For a binary mask (``label == c``) a pixel is a boundary pixel when its
  2x2 neighbourhood (itself, right, below, below-right) is not uniform; in the last row / column
  only the neighbours that exist are compared, so the image border itself is never a boundary.
  This is BSDS ``seg2bdry(seg, 'imageSize')``, which the paper's evaluation release uses.
* **One-to-one matching.** Predicted and ground-truth boundary pixels of a class are put in
  one-to-one correspondence when no further apart than ``tolerance`` times the image diagonal
  (Euclidean distance ``<= tol``; the paper's 0.75%, ``segbench.paper.BF_TOLERANCE``, is 4.5 px at
  360x480). The number of matched pixels is the size of a *maximum* bipartite matching of the
  radius graph, computed exactly by :mod:`segbench.metrics.boundary_matching`.
* **Per class:** precision = matched / predicted boundary px, recall = matched / GT boundary px,
  F1 = 2PR / (P + R) (0 when P + R = 0).
* **Per image:** the mean F1 over the counted classes (``class_rule``); **dataset BF** = mean over
  images.

Why hand-written: no torchmetrics release has a boundary F-score; its PR #3388 only takes integer
pixel tolerances and matches many-to-one, not one-to-one.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torchmetrics import Metric

from segbench.metrics.boundary_matching import MATCHINGS, Matching, boundary_match_counts
from segbench.paper import BF_TOLERANCE

__all__ = [
    "BoundaryF1Score",
    "boundary_counts_per_class",
    "boundary_f1_image",
    "boundary_f1_per_class",
    "boundary_map",
    "f1_from_counts",
    "image_bf_from_counts",
]

ClassRule = Literal["gt", "gt_or_pred"]

_CLASS_RULES = ("gt", "gt_or_pred")


# --------------------------------------------------------------------------------------------
# Boundary maps
# --------------------------------------------------------------------------------------------
def boundary_map(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a binary mask, as BSDS ``seg2bdry(mask, 'imageSize')`` (Sec. 3.3).

    ``out[i, j]`` is True when any of the pairs (i,j)-(i,j+1), (i+1,j)-(i+1,j+1), (i,j)-(i+1,j),
    (i,j+1)-(i+1,j+1) differs, i.e. the 2x2 block with top-left corner (i, j) is not uniform;
    pairs that fall outside the image are skipped (last row: right neighbour only; last column:
    lower neighbour only; bottom-right corner: never a boundary).
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"boundary_map expects a 2-D mask, got shape {m.shape}")
    out = np.zeros(m.shape, dtype=bool)
    dh = m[:, :-1] != m[:, 1:]  # (H, W-1): pixel differs from its right neighbour
    dv = m[:-1, :] != m[1:, :]  # (H-1, W): pixel differs from the one below
    out[:, :-1] |= dh
    out[:-1, :-1] |= dh[1:, :]
    out[:-1, :] |= dv
    out[:-1, :-1] |= dv[:, 1:]
    return out


# --------------------------------------------------------------------------------------------
# Per image
# --------------------------------------------------------------------------------------------
def _check_args(num_classes: int, ignore_index: int | None, tolerance: float, class_rule: str, matching: str) -> None:
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if ignore_index is not None and not isinstance(ignore_index, (int, np.integer)):
        raise ValueError(f"ignore_index must be an int or None, got {ignore_index!r}")
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite float >= 0, got {tolerance!r}")
    if class_rule not in _CLASS_RULES:
        raise ValueError(f"class_rule must be one of {_CLASS_RULES}, got {class_rule!r}")
    if matching not in MATCHINGS:
        raise ValueError(f"matching must be one of {MATCHINGS}, got {matching!r}")


def _check_maps(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.ndim != 2 or target.ndim != 2:
        raise ValueError(f"pred and target must be 2-D label maps, got shapes {pred.shape} and {target.shape}")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {pred.shape} vs {target.shape}")
    for name, arr in (("pred", pred), ("target", target)):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise ValueError(f"{name} must be an integer label map, got dtype {arr.dtype}")
    return pred.astype(np.int64, copy=False), target.astype(np.int64, copy=False)


def boundary_counts_per_class(
    pred: np.ndarray,
    target: np.ndarray,
    num_classes: int,
    ignore_index: int | None = None,
    tolerance: float = BF_TOLERANCE,
    class_rule: ClassRule = "gt",
    matching: Matching = "exact",
) -> np.ndarray:
    """What one image's BF is made of (Sec. 3.3): per class, ``(n_pred, n_gt, matched_pred, matched_gt)``
    boundary pixels, or -1 in every column for a class that is not counted. Kept per image in a run's
    per-image record, so that the BF of any subset of images is recomputed exactly (:func:`f1_from_counts`).

    ``pred``/``target``: integer (H, W) label maps. Classes are 0..num_classes-1 except
    ``ignore_index``; void pixels are simply "not c" (they are not masked out of the boundary
    maps), labels outside the class range are never a class.

    ``class_rule="gt"`` (default, the paper's per-image mean): a class counts when it occurs in
    the ground truth. ``"gt_or_pred"`` (the release script's other rule): a class counts when the
    ground truth or the prediction has a boundary of it.
    """
    _check_args(num_classes, ignore_index, tolerance, class_rule, matching)
    pred, target = _check_maps(pred, target)
    h, w = target.shape
    tol_px = tolerance * math.hypot(h, w)
    counts = np.full((num_classes, 4), -1, dtype=np.int64)
    in_range = (target >= 0) & (target < num_classes)
    gt_present = np.bincount(target[in_range], minlength=num_classes) > 0
    pred_in = (pred >= 0) & (pred < num_classes)
    pred_present = np.bincount(pred[pred_in], minlength=num_classes) > 0
    for c in range(num_classes):
        if ignore_index is not None and c == ignore_index:
            continue
        if class_rule == "gt" and not gt_present[c]:
            continue
        if not (gt_present[c] or pred_present[c]):
            continue  # no boundary on either side: not counted under "gt_or_pred"
        gb = boundary_map(target == c)
        pb = boundary_map(pred == c)
        if class_rule == "gt_or_pred" and not (gb.any() or pb.any()):
            continue
        counts[c] = boundary_match_counts(pb, gb, tol_px, matching)
    return counts


def f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """Per-class F1 from ``(..., 4)`` boundary counts (:func:`boundary_counts_per_class`); NaN where a class is
    not counted. No boundary on both sides -> 1; on one side only -> 0."""
    counts = np.asarray(counts, dtype=np.float64)
    n_p, n_g, m_p, m_g = np.moveaxis(counts, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision, recall = m_p / n_p, m_g / n_g
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    f1 = np.where((n_p == 0) & (n_g == 0), 1.0, np.where((n_p == 0) | (n_g == 0), 0.0, f1))
    return np.where(n_p < 0, np.nan, f1)


def image_bf_from_counts(counts: np.ndarray) -> np.ndarray:
    """Each image's BF from its ``(images, classes, 4)`` boundary counts: the mean F1 over its counted classes,
    NaN for an image with none (Sec. 3.3)."""
    f1 = f1_from_counts(counts)
    counted = ~np.isnan(f1)
    with np.errstate(invalid="ignore"):
        return np.where(counted.any(axis=-1), np.nansum(f1, axis=-1) / counted.sum(axis=-1), np.nan)


def boundary_f1_per_class(
    pred: np.ndarray,
    target: np.ndarray,
    num_classes: int,
    ignore_index: int | None = None,
    tolerance: float = BF_TOLERANCE,
    class_rule: ClassRule = "gt",
    matching: Matching = "exact",
) -> np.ndarray:
    """Per-class boundary F1 of one image (Sec. 3.3); NaN for classes that are not counted
    (:func:`boundary_counts_per_class` says which)."""
    return f1_from_counts(
        boundary_counts_per_class(pred, target, num_classes, ignore_index, tolerance, class_rule, matching)
    )


def boundary_f1_image(
    pred: np.ndarray,
    target: np.ndarray,
    num_classes: int,
    ignore_index: int | None = None,
    tolerance: float = BF_TOLERANCE,
    class_rule: ClassRule = "gt",
    matching: Matching = "exact",
) -> float:
    """BF score of one image: mean of :func:`boundary_f1_per_class` over the counted classes
    (Sec. 3.3). NaN when no class is counted (e.g. an all-void ground truth)."""
    per_class = boundary_f1_per_class(pred, target, num_classes, ignore_index, tolerance, class_rule, matching)
    counted = per_class[~np.isnan(per_class)]
    return float(counted.mean()) if counted.size else float("nan")


# --------------------------------------------------------------------------------------------
# torchmetrics Metric
# --------------------------------------------------------------------------------------------
class BoundaryF1Score(Metric):
    """Boundary F1 (BF) score of the SegNet paper (Sec. 3.3, Csurka et al. BMVC 2013).

    Per image and class, boundary pixels (BSDS ``seg2bdry``) of prediction and ground truth are
    matched one-to-one within ``tolerance`` x image diagonal; the image score is the mean F1 over
    the counted classes and the reported BF is the mean over images (images with no counted
    class are skipped). Hand-written because no torchmetrics release has a boundary F-score (its
    PR #3388 only takes integer pixel tolerances and is not one-to-one).

    Args:
        num_classes: number of classes K (labels 0..K-1).
        ignore_index: void label, never a class (its pixels are "not c" for every class c).
        tolerance: matching distance as a fraction of the image diagonal (default: the paper's
            ``segbench.paper.BF_TOLERANCE``).
        class_rule: ``"gt"`` (default): classes present in the image's ground truth;
            ``"gt_or_pred"``: classes with a boundary in the ground truth or the prediction.
        matching: ``"exact"`` (default): one-to-one maximum matching, the paper's measure;
            ``"approximate"``: many-to-one distance-transform counting, faster, for logging —
            it over-counts when several predicted pixels sit near one GT pixel.

    ``update(preds, target)``: ``target`` an integer (N, H, W) label map; ``preds`` the same, or
    scores (N, K, H, W) reduced by argmax over dim 1. Scores are computed on CPU with numpy.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    score_sum: torch.Tensor
    image_count: torch.Tensor

    def __init__(
        self,
        num_classes: int,
        ignore_index: int | None = None,
        tolerance: float = BF_TOLERANCE,
        class_rule: ClassRule = "gt",
        matching: Matching = "exact",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        _check_args(num_classes, ignore_index, tolerance, class_rule, matching)
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.tolerance = float(tolerance)
        self.class_rule = class_rule
        self.matching = matching
        self.add_state("score_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("image_count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def _to_labels(self, preds: torch.Tensor, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(preds, torch.Tensor) or not isinstance(target, torch.Tensor):
            raise ValueError("preds and target must be torch tensors")
        if target.ndim != 3:
            raise ValueError(f"target must be an (N, H, W) label map, got shape {tuple(target.shape)}")
        if target.is_floating_point() or target.is_complex():
            raise ValueError(f"target must be an integer label map, got dtype {target.dtype}")
        if preds.ndim == 4:
            if preds.shape[1] != self.num_classes:
                raise ValueError(f"preds scores must have {self.num_classes} channels, got shape {tuple(preds.shape)}")
            preds = preds.argmax(dim=1)
        elif preds.ndim != 3:
            raise ValueError(f"preds must be (N, H, W) labels or (N, K, H, W) scores, got shape {tuple(preds.shape)}")
        elif preds.is_floating_point() or preds.is_complex():
            raise ValueError(f"(N, H, W) preds must be an integer label map, got dtype {preds.dtype}")
        if preds.shape != target.shape:
            raise ValueError(f"preds and target shapes differ: {tuple(preds.shape)} vs {tuple(target.shape)}")
        return (preds.detach().cpu().to(torch.int64).numpy(), target.detach().cpu().to(torch.int64).numpy())

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        p, t = self._to_labels(preds, target)
        total, count = 0.0, 0
        for i in range(t.shape[0]):
            s = boundary_f1_image(
                p[i], t[i], self.num_classes, self.ignore_index, self.tolerance, self.class_rule, self.matching
            )
            if not math.isnan(s):
                total += s
                count += 1
        self.score_sum += torch.tensor(total, dtype=torch.float64, device=self.score_sum.device)
        self.image_count += count

    def compute(self) -> torch.Tensor:
        if int(self.image_count) == 0:
            return torch.tensor(0.0, dtype=torch.float64)
        return self.score_sum / self.image_count
