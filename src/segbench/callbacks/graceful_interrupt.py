"""Ctrl-C during training leaves a resumable checkpoint of the last finished step."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import pytorch_lightning as pl

log = logging.getLogger(__name__)


class GracefulInterrupt(pl.Callback):
    """The first SIGINT finishes the current training step, saves `last.ckpt` and stops; a second one
    interrupts at once (the periodic `last.ckpt` then remains, at most N steps old).

    Saving at a batch boundary keeps the checkpoint consistent: the loader's position, the
    optimiser and the loop counters all describe the same finished step.
    """

    def __init__(self, dirpath: str, filename: str = "last") -> None:
        self.path = Path(dirpath) / f"{filename}.ckpt"
        self.requested = False
        self._previous_handler = None

    def _request(self, signum, frame) -> None:
        if self.requested:  # the second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True
        log.warning("interrupt received: saving %s after the current step (Ctrl-C again to stop at once)", self.path)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.requested = False
        self._previous_handler = signal.signal(signal.SIGINT, self._request)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        if self.requested:
            trainer.save_checkpoint(self.path)
            log.warning("saved %s at step %d", self.path, trainer.global_step)
            raise KeyboardInterrupt

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
            self._previous_handler = None
