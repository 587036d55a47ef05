"""G, C and mIoU (Sec. 3.3) from torchmetrics, over the whole split (dataset-level confusion)."""

from __future__ import annotations

from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex


def segmentation_metrics(num_classes: int, ignore_index: int | None, prefix: str) -> MetricCollection:
    """One collection per stage: G (global pixel accuracy), C (class-average accuracy), mIoU.

    torchmetrics accumulates per-class counts over every batch and computes once per epoch, so
    the scores are dataset-level, not means of per-batch scores. Void pixels are ignored.
    """
    # Labels were range-checked when the data set was decoded; skipping the per-batch check saves time.
    common = dict(num_classes=num_classes, ignore_index=ignore_index, validate_args=False)
    return MetricCollection(
        {
            "G": MulticlassAccuracy(average="micro", **common),
            "C": MulticlassAccuracy(average="macro", **common),
            "mIoU": MulticlassJaccardIndex(average="macro", **common),
        },
        prefix=prefix,
    )
