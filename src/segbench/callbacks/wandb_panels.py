"""What a run shows in Weights & Biases beyond its curves: prediction images while it trains, test panels at its end.

Both do nothing without a WandbLogger among the trainer's loggers, and import wandb only when there is one, so
that `logger=csv` runs do not need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import Logger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only
from torch.nn import functional as F

from segbench.inference import evenly_spaced
from segbench.record.run import RunRecord

MEASURES = ("G", "C", "mIoU", "BF")
# The spec wandb.plot.confusion_matrix draws with: fed a table of counts, it gives the same heatmap panel.
CONFUSION_SPEC = "wandb/confusion_matrix/v1"
CONFUSION_COLUMNS = ("actual", "predicted", "count")


class QuietWandbLogger(WandbLogger):
    """Lightning's WandbLogger without the `anonymous` argument: Lightning always passes one (None when unset),
    and wandb >= 0.19 warns on every run that the setting has no effect."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wandb_init.pop("anonymous", None)


def wandb_loggers(loggers: Iterable[Logger]) -> list[WandbLogger]:
    return [logger for logger in loggers if isinstance(logger, WandbLogger)]


def confusion_chart(confusion: Sequence[Sequence[float]], class_names: Sequence[str], title: str) -> Any:
    """The confusion matrix (rows: true class, columns: predicted) as W&B's confusion-matrix panel.

    wandb.plot.confusion_matrix needs one (truth, prediction) pair per pixel, millions per test split; the
    counts already add them up, so the panel is built from a table of (actual, predicted, count) instead.
    Its table is logged beside it as `<key>_table`.
    """
    import wandb

    rows = [
        [class_names[truth], class_names[predicted], int(count)]
        for truth, counts in enumerate(confusion)
        for predicted, count in enumerate(counts)
    ]
    table = wandb.Table(columns=list(CONFUSION_COLUMNS), data=rows)
    fields = dict(zip(("Actual", "Predicted", "nPredictions"), CONFUSION_COLUMNS))
    return wandb.plot_table(CONFUSION_SPEC, table, fields, {"title": title})


def selected_summary(record: RunRecord) -> dict[str, float]:
    """The selected checkpoint's test G, C, mIoU, BF, per video sequence `test/sequence/<name>/<measure>`, and the
    network's cost in the run (`cost/params`, `cost/stored_bytes`, `cost/infer_ms`).

    Flat keys, not nested dicts: each becomes a column of the runs table and an axis for parallel coordinates.
    """
    summary = {f"test/{m}": record.test[f"test/{m}"] for m in MEASURES if f"test/{m}" in record.test}
    costs = {"params": record.params, "stored_bytes": record.stored_bytes, "infer_ms": record.infer_ms}
    summary.update({f"cost/{name}": value for name, value in costs.items() if value is not None})
    for sequence, scores in record.per_sequence.items():
        summary.update({f"test/sequence/{sequence}/{key}": value for key, value in scores.model_dump().items()})
    return summary


@rank_zero_only  # on the other processes WandbLogger.experiment is a dummy without a summary
def log_selected(loggers: Iterable[Logger], record: RunRecord) -> None:
    """The test panels of the selected checkpoint, from a run's record (results.json), on every WandbLogger.

    `test/confusion_matrix` (panel and table), `test/per_class` (class, IoU, accuracy) and the summary
    of `selected_summary`. No-op for other loggers.
    """
    targets = wandb_loggers(loggers)
    if not targets:
        return
    import wandb

    names, test = record.class_names, record.test
    panels = {}
    if record.test_confusion and names:
        panels["test/confusion_matrix"] = confusion_chart(record.test_confusion, names, "test confusion (pixels)")
    if names:
        rows = [[name, test.get(f"test/IoU/{name}"), test.get(f"test/accuracy/{name}")] for name in names]
        panels["test/per_class"] = wandb.Table(columns=["class", "IoU", "accuracy"], data=rows)
    summary = selected_summary(record)
    for logger in targets:
        if panels:
            logger.experiment.log(panels)
        logger.experiment.summary.update(summary)


class PredictionImages(pl.Callback):
    """After each validation: a few fixed validation images with their predicted and true label maps, in W&B.

    `num_images` images spread evenly over the validation split, the same ones every evaluation (and every run
    of the same data), as `wandb.Image`s with "prediction" and "ground_truth" masks under `key`, at the step
    of the validation's metrics. Shown at the size of the labels they are scored on (predictions upsampled as in
    scoring, images resized for display only); void pixels are labelled "void". One forward pass in eval mode
    on rank zero; nothing at all without a WandbLogger.

    Needs a module whose `on_after_batch_transfer` turns a dataset's (image, label) batch into network inputs,
    as SegmentationTask's does, and `class_names`/`ignore_index` in its hparams (class indices otherwise).
    """

    def __init__(self, num_images: int = 4, key: str = "val/predictions") -> None:
        self.num_images, self.key = num_images, key
        self._dataset: object | None = None
        self._samples: tuple[torch.Tensor, torch.Tensor, list[str]] | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.num_images <= 0 or not trainer.is_global_zero:
            return
        targets = wandb_loggers(trainer.loggers)
        if not targets or (samples := self._fixed_samples(trainer)) is None:
            return
        import wandb

        images, labels, captions = samples
        predictions = self._predict(trainer, pl_module, images, labels)
        class_labels, void = self._class_labels(pl_module)
        shown = _display(images, tuple(labels.shape[-2:]))
        ignore = pl_module.hparams.get("ignore_index")
        truths = labels.long() if ignore is None else torch.where(labels.long() == ignore, void, labels.long())
        panel = [
            wandb.Image(
                image,
                caption=caption,
                masks={
                    "prediction": {"mask_data": prediction, "class_labels": class_labels},
                    "ground_truth": {"mask_data": truth, "class_labels": class_labels},
                },
            )
            for image, prediction, truth, caption in zip(
                shown, _masks(predictions), _masks(truths), captions, strict=True
            )
        ]
        for logger in targets:
            # No step: the WandbLogger's step_sync puts the panel at the step of the metrics of this same
            # validation, just logged (at an epoch's end Lightning logs them one step behind trainer.global_step).
            logger.log_metrics({self.key: panel})

    def _fixed_samples(self, trainer: pl.Trainer) -> tuple[torch.Tensor, torch.Tensor, list[str]] | None:
        """(uint8 images N3HW, labels NHW, captions) of the validation split, read once per data set."""
        loader = trainer.val_dataloaders
        if isinstance(loader, (list, tuple)):
            loader = loader[0] if loader else None
        dataset = getattr(loader, "dataset", None)
        if dataset is None or len(dataset) == 0:
            return None
        if dataset is not self._dataset:
            # Spread over the split: consecutive video frames would look alike.
            indices = evenly_spaced(range(len(dataset)), self.num_images)
            pairs = [dataset[i] for i in indices]
            names = getattr(dataset, "names", None)
            captions = [str(names[i]) if names else f"validation image {i}" for i in indices]
            images = torch.stack([torch.as_tensor(image) for image, _ in pairs])
            labels = torch.stack([torch.as_tensor(label) for _, label in pairs])
            self._dataset, self._samples = dataset, (images, labels, captions)
        return self._samples

    @staticmethod
    def _predict(
        trainer: pl.Trainer, pl_module: pl.LightningModule, images: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """Predicted class per pixel (N, H, W) at the labels' size, as validation scores it."""
        was_training = pl_module.training
        pl_module.eval()
        try:
            with torch.no_grad(), trainer.precision_plugin.forward_context():
                batch = (images.to(pl_module.device), labels.to(pl_module.device))
                inputs, _ = pl_module.on_after_batch_transfer(batch, 0)
                logits = pl_module(inputs)
                if logits.shape[-2:] != labels.shape[-2:]:
                    logits = F.interpolate(
                        logits.float(), size=tuple(labels.shape[-2:]), mode="bilinear", align_corners=False
                    )
                return logits.argmax(dim=1).cpu()
        finally:
            pl_module.train(was_training)

    @staticmethod
    def _class_labels(pl_module: pl.LightningModule) -> tuple[dict[int, str], int]:
        """{index: class name} with "void" added, and the mask value void pixels get (masks are 8-bit images)."""
        hparams = pl_module.hparams
        names = list(hparams.get("class_names") or []) or [str(c) for c in range(hparams.get("num_classes", 0))]
        ignore = hparams.get("ignore_index")
        void = ignore if ignore is not None and len(names) <= ignore < 256 else len(names)
        return {**dict(enumerate(names)), void: "void"}, void


def _display(images: torch.Tensor, size: tuple[int, int]) -> list[np.ndarray]:
    """uint8 HWC arrays at `size` (bilinear, when the labels are not at the input size)."""
    if tuple(images.shape[-2:]) != size:
        resized = F.interpolate(images.float(), size=size, mode="bilinear", align_corners=False)
        images = resized.round().clamp(0, 255).to(torch.uint8)
    return list(images.permute(0, 2, 3, 1).numpy())


def _masks(labels: torch.Tensor) -> list[np.ndarray]:
    return list(labels.to(torch.uint8).numpy())
