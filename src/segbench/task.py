"""The LightningModule: one network, its loss, its optimiser and G/C/mIoU per stage (Sec. 3.2-3.3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch import nn

from segbench.data.camvid import NUM_CLASSES, VOID_INDEX
from segbench.errors import NonFiniteLossError
from segbench.inference import logits_at
from segbench.losses import PixelCrossEntropy
from segbench.metrics import per_class_metrics, segmentation_metrics
from segbench.metrics.per_image import PerImageCounts
from segbench.record.per_image import PerImageRecord
from segbench.test_time import MonteCarloDropoutPass, OnePass, TestOutcome, TestPass


class SegmentationTask(pl.LightningModule):
    """Trains a ready network (injected, as in lightning-hydra-template) with SGD by default.

    Args:
        net: the segmentation network, logits (N, K, H, W) from images (N, 3, H, W).
        optimizer: the optimiser's config, `_target_` and its arguments (the paper: SGD lr 0.1, momentum 0.9);
            a plain dict, instantiated in `configure_optimizers`, so that checkpoints hold no code
            and load with `torch.load(weights_only=True)`.
        scheduler: optional LR scheduler config of the same kind (`optimizer` is passed to it), plus
            `interval` ("step" or "epoch") and `over_the_run: true` to set its `total_iters` to the run's
            length; the paper keeps the rate fixed.
        class_weights: loss weight per class (median frequency or natural balancing).
        channels_last: run convolutions in channels-last memory format (`segbench.precision` chooses it with
            `precision: auto`).
        precision: the trainer's precision the run computes in, kept in its checkpoints so that a resumed run
            (and eval) knows it; recorded only, the Trainer applies it.
        model_config: the network's resolved config as YAML, stored in checkpoints so eval can rebuild it.
        val_boundary: BF on validation too: None, "approximate" (cheap) or "exact". Test always reports exact BF.
        data_resolution: the [H, W] the images were resized to in training (None: native); eval uses it.
        augment: optional training-time augmentation config (`_target_` and arguments, e.g. FlipScaleCrop).
        mc_samples: test with this many Monte Carlo dropout samples (Bayesian SegNet, beyond the paper;
            `segbench.test_time.MonteCarloDropoutPass`); 0: the deterministic pass only (`OnePass`).
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None = None,
        class_weights: torch.Tensor | Sequence[float] | None = None,
        num_classes: int = NUM_CLASSES,
        ignore_index: int = VOID_INDEX,
        channels_last: bool = True,
        precision: str | None = None,
        class_names: Sequence[str] = (),
        model_config: str | None = None,
        val_boundary: str | None = None,
        data_resolution: Sequence[int] | None = None,
        augment: Mapping[str, Any] | None = None,
        mc_samples: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net"])
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.net = net.to(memory_format=self.memory_format)
        self.criterion = PixelCrossEntropy(class_weights, ignore_index)
        self.train_metrics = segmentation_metrics(num_classes, ignore_index, prefix="train/")
        self.val_metrics = segmentation_metrics(num_classes, ignore_index, prefix="val/", boundary=val_boundary)
        # BF of the test split comes from the per-image counts below
        self.test_metrics = segmentation_metrics(num_classes, ignore_index, prefix="test/")
        self.test_per_class = per_class_metrics(num_classes, ignore_index)
        # Each test image's confusion and boundary counts: the split's BF, the per-sequence scores and the run's
        # per-image record are computed from them (each image's boundaries are matched once).
        self.test_per_image = PerImageCounts(num_classes, ignore_index)
        self.test_pass: TestPass = OnePass()  # chosen again from mc_samples when testing starts
        self.test_outcome: TestOutcome | None = None  # what the last test epoch adds to the run's record
        self._test_images_seen = 0
        # Training batches only (not evaluation, not the BN-statistics pass, which run in eval mode).
        self.augment = instantiate(dict(augment), ignore_index=ignore_index) if augment else None

    def use_memory_format(self, memory_format: torch.memory_format) -> None:
        """Compute in `memory_format` from now on (eval.py runs a checkpoint in the layout measured fastest)."""
        self.memory_format = memory_format
        self.net = self.net.to(memory_format=memory_format)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def on_after_batch_transfer(self, batch: tuple[torch.Tensor, ...], dataloader_idx: int) -> tuple[torch.Tensor, ...]:
        # Batches travel as uint8 (4x less to copy); the float image is made on the device.
        if isinstance(batch, torch.Tensor):  # the model summary's example input (a uint8-valued image batch)
            return batch.float().contiguous(memory_format=self.memory_format)
        images, labels, *indices = batch
        images, labels = images.float(), labels.long()
        if self.augment is not None and self.training:
            images, labels = self.augment(images, labels)
        return images.contiguous(memory_format=self.memory_format), labels, *indices

    def scored_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], metrics, stage: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss and metric update for one batch; returns the loss and the predicted label map."""
        images, labels = batch[:2]
        # Scored on labels of another size than the input (the native label files, Sec. 3.3's protocol).
        logits = logits_at(self(images), labels.shape[-2:])
        loss = self.criterion(logits, labels)
        predictions = logits.argmax(dim=1)
        metrics.update(predictions, labels)
        self.log(
            f"{stage}/loss",
            loss,
            on_step=stage == "train",
            on_epoch=True,
            prog_bar=stage == "train",
            batch_size=len(images),
            # Under DDP an evaluation's loss is the mean over every process's images, as in one process.
            sync_dist=stage != "train",
        )
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage != "train")
        return loss, predictions

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss = self.scored_step(batch, self.train_metrics, "train")[0]
        # Decided by all processes together: under DDP a rank stopping alone would leave the others waiting.
        if self.trainer.strategy.reduce_boolean_decision(not torch.isfinite(loss), all=False):
            # Stop before the optimiser writes NaN into the weights: the last checkpoint stays the last good one.
            raise NonFiniteLossError(
                f"training loss is {loss.item()} at step {self.global_step + 1} (epoch {self.current_epoch}); "
                "training stopped, the last checkpoint is from before it "
                "(try a lower task.optimizer.lr, or trainer.gradient_clip_val=1.0)"
            )
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        self.scored_step(batch, self.val_metrics, "val")

    def on_test_start(self) -> None:
        samples, classes, ignore = self.hparams.get("mc_samples"), self.hparams.num_classes, self.hparams.ignore_index
        self.test_pass = MonteCarloDropoutPass(samples, classes, ignore).to(self.device) if samples else OnePass()
        self._metric_attributes = None  # Lightning's map of the module's metrics, by which it logs them: anew

    def on_test_epoch_start(self) -> None:
        self._test_images_seen = 0

    def test_step(self, batch, batch_idx: int) -> None:
        indices, labels = self.test_indices(batch), batch[1]
        predictions = self.test_pass.predict(self, batch)
        self.test_per_class.update(predictions, labels)
        self.test_per_image.update(predictions, labels, indices)
        self._test_images_seen += len(indices)

    def test_indices(self, batch) -> torch.Tensor:
        """The test images' indices in their split: the test loader's (image, label, index), else their order."""
        if len(batch) > 2:
            return batch[2]
        return torch.arange(self._test_images_seen, self._test_images_seen + len(batch[1]))

    def on_test_epoch_end(self) -> None:
        """BF from the per-image counts; per-class accuracy and IoU (Table 2 style) logged by class name; the
        confusion matrix, the per-image record and the pass's additions kept as `test_outcome`."""
        scores = self.test_per_class.compute()
        self.test_per_class.reset()
        names = list(self.hparams.class_names) or [str(c) for c in range(self.hparams.num_classes)]
        per_class = {
            f"test/{kind}/{name}": float(value)
            for kind in ("accuracy", "IoU")
            for name, value in zip(names, scores[kind])
        }
        images = self._per_image_record(names)
        # equal on every process already (synced metric states)
        self.log("test/BF", images.scores()["BF"], sync_dist=True)
        self.log_dict(per_class, sync_dist=True)
        self.test_outcome = TestOutcome(
            class_names=names,
            confusion=scores["confusion"].tolist(),
            images=images,
            additions=self.test_pass.finish(self),
        )

    def _per_image_record(self, class_names: list[str]) -> PerImageRecord:
        """The test images' counts, named after the images of the data module's test split when there is one."""
        counts = self.test_per_image.compute()
        self.test_per_image.reset()
        datamodule = getattr(self.trainer, "datamodule", None)
        index = counts["index"]
        if datamodule is not None and hasattr(datamodule, "image_sequences"):
            image_names = np.asarray(datamodule.split("test").names)[index]
            sequences = np.asarray(datamodule.image_sequences("test"))[index]
        else:
            image_names, sequences = index.astype(str), np.full(len(index), "")
        return PerImageRecord(
            names=image_names,
            sequences=sequences,
            class_names=np.asarray(class_names),
            confusion=counts["confusion"],
            boundary=counts["boundary"],
        )

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        # A finite loss can still leave non-finite weights behind; stop before a checkpoint saves them.
        finite = bool(torch.stack([p.isfinite().all() for p in self.parameters()]).all())
        if self.trainer.strategy.reduce_boolean_decision(not finite, all=False):
            raise NonFiniteLossError(
                f"the weights became NaN or infinite at step {self.global_step} (epoch {self.current_epoch}); "
                "training stopped, the last checkpoint is from before it "
                "(try a lower task.optimizer.lr, or trainer.gradient_clip_val=1.0)"
            )

    def configure_optimizers(self) -> dict:
        optimizer = instantiate(dict(self.hparams.optimizer), params=self.parameters())
        if not self.hparams.scheduler:  # None or the empty `schedule=fixed`
            return {"optimizer": optimizer}
        config = dict(self.hparams.scheduler)
        interval = config.pop("interval", "epoch")
        if config.pop("over_the_run", False):
            # Decay over the whole budget: Lightning knows it from max_steps or max_epochs x batches.
            total = self.trainer.estimated_stepping_batches if interval == "step" else self.trainer.max_epochs
            config["total_iters"] = int(total)
        scheduler = instantiate(config, optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}
