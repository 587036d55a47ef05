"""A training loader whose shuffling can be resumed mid-epoch, batch for batch (Sec. 3.2's shuffling).

A killed run that resumes must see the same batches in the same order as the run that was never
stopped. Two things make that hold:

* the order of epoch `e` is a permutation drawn from a generator seeded by `(seed, e)` alone, not
  from the global RNG, so it does not depend on what else consumed random numbers before it;
* the loader is *stateful* in Lightning's sense (`state_dict` / `load_state_dict`): checkpoints
  record the epoch and how many batches of it were served, and a resumed loader starts that
  epoch's permutation after them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class EpochSeededShuffle(Sampler[int]):
    """A fresh random order every epoch, decided by `(seed, epoch)`; `skip` indices are left out once."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed = size, seed
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def order(self, epoch: int) -> list[int]:
        seed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1, np.uint64)[0] >> 1)
        return torch.randperm(self.size, generator=torch.Generator().manual_seed(seed)).tolist()

    def __iter__(self) -> Iterator[int]:
        start, self.skip = self.skip, 0
        return iter(self.order(self.epoch)[start:])

    def __len__(self) -> int:
        return self.size


class ResumableLoader(DataLoader):
    """Shuffled training batches that a checkpoint can stop and restart at any batch boundary."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, **kwargs: Any) -> None:
        kwargs.pop("shuffle", None)
        kwargs.pop("sampler", None)
        # Its own generator for the workers' base seed, which would otherwise be drawn from the global RNG.
        kwargs.setdefault("generator", torch.Generator().manual_seed(seed))
        super().__init__(dataset, batch_size=batch_size, sampler=EpochSeededShuffle(len(dataset), seed), **kwargs)
        self.progress = (0, 0)  # (epoch, batches of it handed out so far)
        self._resume_at: tuple[int, int] | None = None  # (epoch, batches already served in it)

    def __iter__(self) -> Iterator[Any]:
        # Runs at the first batch, after Lightning's set_epoch: a checkpoint taken at the end of an
        # epoch resumes into the next one from its start.
        resume, self._resume_at = self._resume_at, None
        start = resume[1] if resume is not None and resume[0] == self.sampler.epoch else 0
        self.sampler.skip = start * self.batch_size
        epoch = self.sampler.epoch
        self.progress = (epoch, start)
        for served, batch in enumerate(super().__iter__(), start=start + 1):
            self.progress = (epoch, served)
            yield batch

    def state_dict(self) -> dict[str, int]:
        epoch, served = self.progress
        return {"seed": self.sampler.seed, "epoch": epoch, "served": served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["seed"] != self.sampler.seed:
            raise ValueError(f"the checkpoint's shuffling seed is {state['seed']}, this loader's {self.sampler.seed}")
        self._resume_at = (state["epoch"], state["served"])
