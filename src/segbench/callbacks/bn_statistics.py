"""Recompute batch-norm statistics over the training set before each evaluation (Sec. 3.2's protocol).

The paper's release runs `compute_bn_statistics.py` before testing: one pass over the training
set in fixed order, each BN layer's mean and variance set to the average of the per-batch
statistics. PyTorch's exponential running averages instead trail the weights by many steps,
and at lr 0.1 they can decide which checkpoint gets selected; see docs/protocol.md.
"""

from __future__ import annotations

import contextlib

import pytorch_lightning as pl
import torch
from torch.nn.modules.batchnorm import _BatchNorm


@torch.no_grad()
def recompute_batch_norm_statistics(model: pl.LightningModule, loader, forward_context=None) -> int:
    """Set every BN layer's running mean/var to the average of per-batch statistics over `loader`.

    `momentum=None` makes PyTorch keep a cumulative (equal-weight) average of the batch
    statistics, which is exactly the release's average. Returns the number of batches seen.
    """
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not norms:
        return 0
    was_training = model.training
    saved = [(m, m.momentum) for m in norms]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    batches = 0
    try:
        for batch in loader:
            batch = model.transfer_batch_to_device(batch, model.device, 0)
            images, _ = model.on_after_batch_transfer(batch, 0)
            with forward_context() if forward_context is not None else contextlib.nullcontext():
                model(images)
            batches += 1
    finally:
        for norm, momentum in saved:
            norm.momentum = momentum
        model.train(was_training)
    return batches


class BatchNormStatistics(pl.Callback):
    """Before every validation and test: BN statistics from one ordered pass over the training set.

    Needs a data module with `ordered_train_dataloader()` (training images in fixed order, training batch size).
    Under DDP every process makes the whole pass (correct, not sharded).
    """

    def _recompute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "ordered_train_dataloader"):
            raise RuntimeError("BatchNormStatistics needs a data module with ordered_train_dataloader()")
        recompute_batch_norm_statistics(pl_module, datamodule.ordered_train_dataloader(), trainer.precision_plugin.forward_context)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._recompute(trainer, pl_module)

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._recompute(trainer, pl_module)
