"""Checkpoints at fixed iteration points, for Table 3's scores at 40 K, 80 K and > 80 K iterations (Sec. 4).

Table 3 reports each network at two training milestones beside its best (converged) model. A
milestone checkpoint is written at the end of the first evaluation at or after each milestone step,
so its batch-norm statistics are the ones recomputed over the training set for that evaluation
(callbacks.bn_statistics); the pipeline scores each on the test split into results.json.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytorch_lightning as pl

MILESTONE_FILE = re.compile(r"milestone-(\d+)-step(\d+)\.ckpt")


def milestone_checkpoints(dirpath: str | Path) -> list[tuple[int, int, Path]]:
    """(milestone, step it was saved at, checkpoint) of each milestone checkpoint in a run's folder, in order."""
    found = []
    for path in Path(dirpath).glob("milestone-*.ckpt"):
        if match := MILESTONE_FILE.fullmatch(path.name):
            found.append((int(match[1]), int(match[2]), path))
    return sorted(found)


class MilestoneCheckpoints(pl.Callback):
    """Save `milestone-<milestone>-step<actual step>.ckpt` after the first evaluation at or past each of `steps`.

    What has been saved is read back from `dirpath`, so a resumed run neither repeats nor skips a milestone.
    """

    def __init__(self, steps: list[int], dirpath: str) -> None:
        self.steps = sorted(int(step) for step in steps)
        self.dirpath = Path(dirpath)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        saved = {milestone for milestone, _, _ in milestone_checkpoints(self.dirpath)}
        reached = [step for step in self.steps if step <= trainer.global_step and step not in saved]
        for milestone in reached:  # one evaluation may pass several milestones (a coarse validation interval)
            trainer.save_checkpoint(self.dirpath / f"milestone-{milestone}-step{trainer.global_step}.ckpt")
