"""A training loader whose shuffling can be resumed mid-epoch, batch for batch (Sec. 3.2's shuffling).

A killed run that resumes must see the same batches in the same order as the run that was never
stopped. Two things make that hold:

* the order of epoch `e` is a permutation drawn from a generator seeded by `(seed, e)` alone, not
  from the global RNG, so it does not depend on what else consumed random numbers before it;
* the loader is *stateful* in Lightning's sense (`state_dict` / `load_state_dict`): checkpoints
  record the epoch and how many batches of it were served, and a resumed loader starts that
  epoch's permutation after them.

Under data parallelism (DDP, `world_size` processes) every epoch still has that one permutation:
it is padded by repeating its first indices to a multiple of `world_size`, as torch's
DistributedSampler does, and rank `r` takes positions `r, r + world_size, ...`. The shards are
disjoint apart from the padding, cover the epoch, and are the same length, so every rank takes the
same number of optimisation steps. After `k` batches of `b` images on each rank the first
`k * b * world_size` positions are consumed, which is what a resumed loader skips, even on another
number of processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler


class EpochSeededShuffle(Sampler[int]):
    """A fresh random order every epoch, decided by `(seed, epoch)`; this rank's shard of it.

    `skip` positions of the epoch's permutation (counted over all ranks together) are left out once.
    """

    def __init__(self, size: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
        self.size, self.seed = size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def order(self, epoch: int) -> list[int]:
        """The whole epoch's permutation, the same on every rank."""
        seed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1, np.uint64)[0] >> 1)
        return torch.randperm(self.size, generator=torch.Generator().manual_seed(seed)).tolist()

    def shard(self, epoch: int, skip: int = 0) -> list[int]:
        """This rank's indices of epoch `epoch` once its first `skip` positions are consumed."""
        order = self.order(epoch)
        remaining = order[skip:]
        # Padding from the epoch's first indices, as DistributedSampler pads: with an unchanged world size
        # a resumed shard is exactly the rest of the uninterrupted one; every rank gets as many indices.
        missing = -len(remaining) % self.world_size
        if missing and order:
            remaining += (order * (missing // len(order) + 1))[:missing]
        return remaining[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        start, self.skip = self.skip, 0
        return iter(self.shard(self.epoch, start))

    def __len__(self) -> int:
        return -(-self.size // self.world_size)


class ResumableLoader(DataLoader):
    """Shuffled training batches that a checkpoint can stop and restart at any batch boundary.

    `rank` / `world_size` select a data-parallel shard. Lightning's DDP rebuilds a training loader
    with a `sampler=DistributedSampler(...)` argument; that sampler's own order would replace the
    epoch-seeded one (and reshuffle it), so only its rank and number of replicas are kept.
    """

    def __init__(
        self, dataset: Dataset, batch_size: int, seed: int, rank: int = 0, world_size: int = 1, **kwargs: Any
    ) -> None:
        kwargs.pop("shuffle", None)
        sampler = kwargs.pop("sampler", None)
        if isinstance(sampler, DistributedSampler):
            rank, world_size = sampler.rank, sampler.num_replicas
        # Its own generator for the workers' base seed, which would otherwise be drawn from the global RNG.
        kwargs.setdefault("generator", torch.Generator().manual_seed(seed))
        order = EpochSeededShuffle(len(dataset), seed, rank, world_size)
        super().__init__(dataset, batch_size=batch_size, sampler=order, **kwargs)
        self.progress = (0, 0)  # (epoch, positions of its permutation consumed so far, by all ranks together)
        self._resume_at: tuple[int, int] | None = None  # (epoch, positions consumed before the checkpoint)

    @property
    def _step(self) -> int:
        """Positions of the permutation that one batch on every rank consumes."""
        return self.batch_size * self.sampler.world_size

    def __iter__(self) -> Iterator[Any]:
        # Runs at the first batch, after Lightning's set_epoch: a checkpoint taken at the end of an
        # epoch resumes into the next one from its start.
        resume, self._resume_at = self._resume_at, None
        consumed = resume[1] if resume is not None and resume[0] == self.sampler.epoch else 0
        self.sampler.skip = consumed
        epoch = self.sampler.epoch
        self.progress = (epoch, consumed)
        for batch in super().__iter__():
            consumed += self._step
            self.progress = (epoch, consumed)
            yield batch

    def state_dict(self) -> dict[str, int]:
        epoch, consumed = self.progress
        # `served`: batches of the epoch each rank was handed (Lightning saves rank 0's state; all ranks
        # serve alike). The other keys appear only where needed, so single-process states keep three keys.
        state = {"seed": self.sampler.seed, "epoch": epoch, "served": consumed // self._step}
        if self.sampler.world_size > 1:
            state["world_size"] = self.sampler.world_size
        if consumed % self._step:  # only after resuming on another number of processes
            state["offset"] = consumed % self._step
        return state

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["seed"] != self.sampler.seed:
            raise ValueError(f"the checkpoint's shuffling seed is {state['seed']}, this loader's {self.sampler.seed}")
        consumed = state["served"] * self.batch_size * state.get("world_size", 1) + state.get("offset", 0)
        self._resume_at = (state["epoch"], consumed)
