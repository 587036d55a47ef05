"""Loaded by training subprocesses of the tests (PYTHONPATH): a real SIGKILL at a chosen training step."""

from __future__ import annotations

import os
import signal

import pytorch_lightning as pl


class KillAtStep(pl.Callback):
    """SIGKILL the process in the middle of optimisation step `step` + 1 (after backward, before the update)."""

    def __init__(self, step: int | str) -> None:
        self.step = int(step)  # from ${oc.env:...}, a string

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)
