"""Recompute batch-norm statistics over the training set before each evaluation (Sec. 3.2's protocol).

The paper's release runs `compute_bn_statistics.py` before testing: one pass over the training
set in fixed order, each BN layer's mean and variance set to the average of the per-batch
statistics. PyTorch's exponential running averages instead trail the weights by many steps,
and at lr 0.1 they can decide which checkpoint gets selected; see docs/protocol.md.

Under DDP the pass is shared out: each process runs a disjoint subset of the same batches, and
one all-reduce of (batches seen x their average) per layer gives every process the average over
all of them, the single-process result up to float rounding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import MethodType

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

AllReduce = Callable[[torch.Tensor], torch.Tensor]


@torch.no_grad()
def recompute_batch_norm_statistics(
    model: pl.LightningModule, loader, forward_context=None, all_reduce: AllReduce | None = None
) -> int:
    """Set every BN layer's running mean/var to the average of per-batch statistics over `loader`.

    `momentum=None` makes PyTorch keep a cumulative (equal-weight) average of the batch
    statistics, which is exactly the release's average. Returns the number of batches seen.

    Data parallel: each process passes its own share of the batches as `loader` and a function
    summing a tensor over the processes as `all_reduce` (the same call on every process); the
    statistics, and the returned count, are then those of all the processes' batches together.
    """
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not norms:
        return 0
    was_training = model.training
    saved = [(m, m.momentum) for m in norms]
    model.eval()
    synced = []
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
        if isinstance(norm, nn.SyncBatchNorm):
            # Per-batch statistics of this process's batch, as in a single process: SyncBatchNorm would pool
            # the statistics of every process's batch (and wait for batches that a shorter share lacks).
            norm.forward = MethodType(_BatchNorm.forward, norm)
            synced.append(norm)
    batches = 0
    try:
        for batch in loader:
            batch = model.transfer_batch_to_device(batch, model.device, 0)
            images, _ = model.on_after_batch_transfer(batch, 0)
            with forward_context() if forward_context is not None else contextlib.nullcontext():
                model(images)
            batches += 1
        if all_reduce is not None:
            batches = _average_over_processes(norms, batches, all_reduce)
    finally:
        for norm, momentum in saved:
            norm.momentum = momentum
        for norm in synced:
            del norm.forward  # the class's own (synchronising) forward again
        model.train(was_training)
    return batches


def _average_over_processes(norms: list[_BatchNorm], batches: int, all_reduce: AllReduce) -> int:
    """Average each layer's per-process averages, weighted by the batches each process saw; returns their sum."""
    device = norms[0].running_mean.device
    # One flat float64 tensor, one collective: [batches, n * mean, n * var for each layer].
    local = [torch.tensor([float(batches)], dtype=torch.float64, device=device)]
    for norm in norms:
        local += [norm.running_mean.double() * batches, norm.running_var.double() * batches]
    total = all_reduce(torch.cat(local))
    seen = int(total[0].item())
    if seen == 0:
        return 0
    offset = 1
    for norm in norms:
        size = norm.num_features
        norm.running_mean.copy_(total[offset : offset + size] / seen)
        norm.running_var.copy_(total[offset + size : offset + 2 * size] / seen)
        norm.num_batches_tracked.fill_(seen)
        offset += 2 * size
    return seen


class BatchNormStatistics(pl.Callback):
    """Before every validation and test: BN statistics from one ordered pass over the training set.

    Needs a data module with `ordered_train_dataloader(rank, world_size)` (training images in fixed
    order, training batch size; that process's share of those batches). Under DDP every process
    passes its share and the statistics are all-reduced, so each ends with the single-process ones.
    """

    def _recompute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "ordered_train_dataloader"):
            raise RuntimeError("BatchNormStatistics needs a data module with ordered_train_dataloader()")
        if trainer.world_size == 1:
            loader, all_reduce = datamodule.ordered_train_dataloader(), None
        else:
            loader = datamodule.ordered_train_dataloader(rank=trainer.global_rank, world_size=trainer.world_size)

            def all_reduce(tensor: torch.Tensor) -> torch.Tensor:
                return trainer.strategy.reduce(tensor, reduce_op="sum")

        recompute_batch_norm_statistics(pl_module, loader, trainer.precision_plugin.forward_context, all_reduce)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._recompute(trainer, pl_module)

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._recompute(trainer, pl_module)
