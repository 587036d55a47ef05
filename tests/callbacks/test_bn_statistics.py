"""BN statistics recomputed as the release's compute_bn_statistics.py: averages of per-batch statistics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from segbench.callbacks import recompute_batch_norm_statistics
from segbench.task import SegmentationTask


def constant_images(*values: int) -> torch.Tensor:
    return torch.stack([torch.full((3, 2, 2), v, dtype=torch.uint8) for v in values])


def test_statistics_are_the_average_of_per_batch_statistics():
    norm = nn.BatchNorm2d(3)
    task = SegmentationTask(nn.Sequential(norm), optimizer={"_target_": "torch.optim.SGD"}, channels_last=False)
    task.train()
    labels = torch.zeros(2, 2, 2, dtype=torch.uint8)
    # batch 1: images of 0s and 4s -> mean 2, unbiased var 8*4/7; batch 2: one image of 6s -> mean 6, var 0
    loader = [(constant_images(0, 4), labels), (constant_images(6), labels[:1])]
    assert recompute_batch_norm_statistics(task, loader) == 2
    assert norm.running_mean.tolist() == pytest.approx([4.0] * 3)
    assert norm.running_var.tolist() == pytest.approx([16 / 7] * 3)
    # momentum and the module's mode are given back as they were
    assert norm.momentum == 0.1 and task.training and norm.training


def test_running_averages_of_pytorch_differ_from_the_recomputed_ones():
    norm = nn.BatchNorm2d(3)
    task = SegmentationTask(nn.Sequential(norm), optimizer={"_target_": "torch.optim.SGD"}, channels_last=False)
    task.train()
    with torch.no_grad():
        task(constant_images(0, 4).float())
        task(constant_images(6).float())
    # exponential averaging with momentum 0.1 from (0, 1): far from the data's mean of 4
    assert norm.running_mean[0].item() == pytest.approx(0.9 * 0.1 * 2 + 0.1 * 6)


# --------------------------------------------------------------------------------------------
# Data parallel: the pass shared out over 2 gloo processes equals the single-process pass
# --------------------------------------------------------------------------------------------
SIZES = (3, 3, 3, 3, 2)  # five ordered batches, the last one short: rank 0 gets three, rank 1 two


def two_layer_task() -> SegmentationTask:
    """Two BN layers, the second fed by the first's batch-normalised output (as in the networks)."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 5, 1), nn.BatchNorm2d(5)
    )
    return SegmentationTask(net, optimizer={"_target_": "torch.optim.SGD"}, channels_last=False)


def ordered_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [
        (
            torch.randint(0, 256, (n, 3, 6, 8), dtype=torch.uint8, generator=generator),
            torch.zeros(n, 6, 8, dtype=torch.uint8),
        )
        for n in SIZES
    ]


def statistics(task: SegmentationTask) -> list[torch.Tensor]:
    return [
        t.clone()
        for m in task.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for t in (m.running_mean, m.running_var, m.num_batches_tracked)
    ]


def _sharded_pass(rank: int, world_size: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        # SyncBatchNorm, as under trainer=ddp: in training mode on CPU it would raise, and on GPUs pool the
        # ranks' batches; the pass must use each batch's own statistics.
        task = nn.SyncBatchNorm.convert_sync_batchnorm(two_layer_task())
        share = ordered_batches()[rank::world_size]  # the data module's BatchShard rule: batch i on rank i % world

        def all_reduce(tensor: torch.Tensor) -> torch.Tensor:
            dist.all_reduce(tensor)
            return tensor

        seen = recompute_batch_norm_statistics(task, share, all_reduce=all_reduce)
        assert all(
            type(m).forward is nn.SyncBatchNorm.forward and "forward" not in vars(m)
            for m in task.modules()
            if isinstance(m, nn.SyncBatchNorm)
        )  # its own forward given back
        torch.save({"seen": seen, "statistics": statistics(task)}, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_a_pass_shared_by_two_processes_gives_the_single_process_statistics(tmp_path):
    import torch.multiprocessing as mp

    single = two_layer_task()
    assert recompute_batch_norm_statistics(single, ordered_batches()) == len(SIZES)
    expected = statistics(single)
    mp.spawn(_sharded_pass, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert result["seen"] == len(SIZES)
        for got, want in zip(result["statistics"], expected, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, check_dtype=True)
    # a rank's own batches alone give other statistics: the all-reduce did the averaging
    alone = two_layer_task()
    recompute_batch_norm_statistics(alone, ordered_batches()[::2])
    assert not torch.allclose(statistics(alone)[0], expected[0], rtol=1e-3)
