"""How the test images are predicted, and what that adds to the run's record: one pass of the network (the paper,
Sec. 3.3), or the mean of Monte Carlo dropout samples beside that one pass (Bayesian SegNet, beyond the paper).

A task holds one pass (`SegmentationTask.test_pass`), chosen when testing starts from its `mc_samples`; the pass
logs its scores through the task and returns its additions to the record at the end of the test epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn
from torchmetrics import MeanMetric

from segbench.metrics import Histogram, segmentation_metrics
from segbench.metrics.per_image import PerImageCounts, split_scores
from segbench.models.mc_dropout import mc_softmax, predictive_entropy
from segbench.record.per_image import PerImageRecord

if TYPE_CHECKING:
    from segbench.task import SegmentationTask


@dataclass
class TestOutcome:
    """What testing adds to the run's record beyond the logged scores: the test split's confusion matrix (rows:
    truth), each image's counts (per-sequence scores and any subset's come from them) and what the pass adds."""

    class_names: list[str]
    confusion: list[list[int]]
    images: PerImageRecord
    additions: dict[str, Any] = field(default_factory=dict)

    @property
    def per_sequence(self) -> dict[str, dict[str, float]]:
        return self.images.by_sequence()


class TestPass(Protocol):
    def predict(self, task: SegmentationTask, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The batch's predicted label maps (N, H, W) at the labels' size; the pass logs its scores on `task`."""
        ...

    def finish(self, task: SegmentationTask) -> dict[str, Any]:
        """At the end of the test epoch: the record fields the pass adds (its metric states reset)."""
        ...


class OnePass:
    """The network's single deterministic pass: `test/` G, C, mIoU (Sec. 3.3)."""

    def predict(self, task: SegmentationTask, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return task.scored_step(batch, task.test_metrics, "test")[1]

    def finish(self, task: SegmentationTask) -> dict[str, Any]:
        return {}


class MonteCarloDropoutPass(nn.Module):
    """`test/` scores the mean of `samples` softmax outputs with dropout active, `test_deterministic/` the single
    pass without dropout (its BF from per-image counts, as `test/BF` is), and `test/entropy_right` /
    `test/entropy_wrong` the mean normalised predictive entropy of the correctly and wrongly labelled pixels; their
    20-bin histograms go into the record (`entropy_histogram`). A module: its metrics move and sync with the task.
    """

    def __init__(self, samples: int, num_classes: int, ignore_index: int | None) -> None:
        super().__init__()
        self.samples, self.ignore_index = samples, ignore_index
        self.deterministic_metrics = segmentation_metrics(num_classes, ignore_index, prefix="test_deterministic/")
        self.deterministic_images = PerImageCounts(num_classes, ignore_index)
        self.entropy = nn.ModuleDict({"right": MeanMetric(), "wrong": MeanMetric()})
        self.entropy_histogram = nn.ModuleDict({"right": Histogram(), "wrong": Histogram()})

    def predict(self, task: SegmentationTask, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        _, deterministic = task.scored_step(batch, self.deterministic_metrics, "test_deterministic")
        images, labels = batch[:2]
        self.deterministic_images.update(deterministic, labels, task.test_indices(batch))
        probabilities = mc_softmax(task.net, images, self.samples, size=tuple(labels.shape[-2:]))
        predictions = probabilities.argmax(dim=1)
        # cross entropy of the mean distribution: the loss's logits may be any log-probabilities
        loss = task.criterion(probabilities.clamp_min(1e-12).log(), labels)
        task.log("test/loss", loss, on_epoch=True, batch_size=len(images), sync_dist=True)
        task.test_metrics.update(predictions, labels)
        task.log_dict(task.test_metrics, on_step=False, on_epoch=True)
        entropy, labelled = predictive_entropy(probabilities), labels != self.ignore_index
        for kind, pixels in (
            ("right", labelled & (predictions == labels)),
            ("wrong", labelled & (predictions != labels)),
        ):
            if pixels.any():
                self.entropy[kind].update(entropy[pixels])
                self.entropy_histogram[kind].update(entropy[pixels])
            task.log(f"test/entropy_{kind}", self.entropy[kind], on_step=False, on_epoch=True)
        return predictions

    def finish(self, task: SegmentationTask) -> dict[str, Any]:
        counts = self.deterministic_images.compute()
        self.deterministic_images.reset()
        bf = split_scores(counts["confusion"], counts["boundary"])["BF"]
        task.log("test_deterministic/BF", bf, sync_dist=True)  # equal on every process already (synced states)
        histograms = self.entropy_histogram
        histogram = {
            "edges": histograms["right"].edges,
            **{kind: histogram.compute().tolist() for kind, histogram in histograms.items()},
        }
        for metric in histograms.values():
            metric.reset()
        return {"mc_samples": self.samples, "entropy_histogram": histogram}
