"""Loaded by the tests' training subprocesses (PYTHONPATH): a real SIGKILL, or a diverging weight, at a given step."""

from __future__ import annotations

import os
import signal

import pytorch_lightning as pl
import torch

from segbench.errors import SegbenchError


class KillAtStep(pl.Callback):
    """SIGKILL the process in the middle of optimisation step `step` + 1 (after backward, before the update)."""

    def __init__(self, step: int | str) -> None:
        self.step = int(step)  # from ${oc.env:...}, a string

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class PoisonWeightsAtStep(pl.Callback):
    """Set one weight to NaN before optimisation step `step` + 1: a stand-in for a diverging run."""

    def __init__(self, step: int | str) -> None:
        self.step = int(step)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(pl_module.parameters())[0, 0, 0, 0] = float("nan")


class FailWhen(pl.Callback):
    """Raise at the start of training when `value` equals `failing`: one chosen job of a sweep fails."""

    def __init__(self, value, failing) -> None:
        self.fails = str(value) == str(failing)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.fails:
            # A user-facing error: the kind a single run turns into SystemExit, which must not end a sweep.
            raise SegbenchError("this job was told to fail")
