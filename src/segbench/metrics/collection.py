"""The paper's measures (Sec. 3.3): G, C, mIoU from torchmetrics over the whole split, and BF."""

from __future__ import annotations

from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassJaccardIndex

from segbench.metrics.boundary_f1 import BoundaryF1Score


def segmentation_metrics(
    num_classes: int, ignore_index: int | None, prefix: str, boundary: str | None = None
) -> MetricCollection:
    """One collection per stage: G (global pixel accuracy), C (class-average accuracy), mIoU, optionally BF.

    torchmetrics accumulates per-class counts over every batch and computes once per epoch, so
    the scores are dataset-level, not means of per-batch scores. Void pixels are ignored.
    `boundary`: None, "exact" (the paper's BF, reported on test) or "approximate" (cheap, for logging).
    """
    # Labels were range-checked when the data set was decoded; skipping the per-batch check saves time.
    common = dict(num_classes=num_classes, ignore_index=ignore_index, validate_args=False)
    metrics = {
        "G": MulticlassAccuracy(average="micro", **common),
        "C": MulticlassAccuracy(average="macro", **common),
        "mIoU": MulticlassJaccardIndex(average="macro", **common),
    }
    if boundary is not None:
        metrics["BF" if boundary == "exact" else "BF_approx"] = BoundaryF1Score(
            num_classes, ignore_index, matching=boundary
        )
    return MetricCollection(metrics, prefix=prefix)


def per_class_metrics(num_classes: int, ignore_index: int | None) -> MetricCollection:
    """Per-class accuracy and IoU (Tables 2 and 5) and the confusion matrix (rows: truth, columns: prediction)."""
    common = dict(num_classes=num_classes, ignore_index=ignore_index, validate_args=False)
    return MetricCollection(
        {
            "accuracy": MulticlassAccuracy(average=None, **common),
            "IoU": MulticlassJaccardIndex(average=None, **common),
            "confusion": MulticlassConfusionMatrix(**common),
        }
    )
