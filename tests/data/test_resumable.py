"""The training loader's order depends on (seed, epoch) only and resumes at any batch."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from segbench.data.resumable import ResumableLoader

DATA = TensorDataset(torch.arange(10))


def epoch_batches(loader: ResumableLoader, epoch: int) -> list[list[int]]:
    loader.sampler.set_epoch(epoch)
    return [batch[0].tolist() for batch in loader]


def test_each_epoch_is_a_permutation_set_by_seed_and_epoch_not_by_the_global_rng():
    loader = ResumableLoader(DATA, batch_size=3, seed=7)
    first = epoch_batches(loader, 0)
    assert sorted(sum(first, [])) == list(range(10)) and [len(b) for b in first] == [3, 3, 3, 1]
    torch.manual_seed(123)  # the global RNG plays no part
    assert epoch_batches(ResumableLoader(DATA, batch_size=3, seed=7), 0) == first
    assert epoch_batches(loader, 1) != first
    assert epoch_batches(ResumableLoader(DATA, batch_size=3, seed=8), 0) != first


def test_a_loader_restored_mid_epoch_serves_exactly_the_remaining_batches():
    loader = ResumableLoader(DATA, batch_size=3, seed=7)
    uninterrupted = epoch_batches(loader, 2)
    loader.sampler.set_epoch(2)
    iterator = iter(loader)
    served = [next(iterator)[0].tolist(), next(iterator)[0].tolist()]
    state = loader.state_dict()
    assert state == {"seed": 7, "epoch": 2, "served": 2}
    restored = ResumableLoader(DATA, batch_size=3, seed=7)
    restored.load_state_dict(state)
    assert served + epoch_batches(restored, 2) == uninterrupted
    # the restart applies once: the next epoch starts from its beginning
    assert epoch_batches(restored, 3) == epoch_batches(ResumableLoader(DATA, batch_size=3, seed=7), 3)


def test_a_state_saved_at_the_end_of_an_epoch_starts_the_next_one_whole():
    loader = ResumableLoader(DATA, batch_size=3, seed=7)
    epoch_batches(loader, 4)
    restored = ResumableLoader(DATA, batch_size=3, seed=7)
    restored.load_state_dict(loader.state_dict())
    assert epoch_batches(restored, 5) == epoch_batches(ResumableLoader(DATA, batch_size=3, seed=7), 5)
