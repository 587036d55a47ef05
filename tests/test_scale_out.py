"""Scale-out on real engines: DDP over CPU processes (gloo) and Hydra's joblib and submitit launchers.

The fast tests pin the sharding rules: each DDP process trains on its own shard of the epoch's
permutation (resumable mid-epoch), evaluates its own images with none repeated, and recomputes BN
statistics on its own share of the same ordered batches. The `slow` ones run train.py and eval.py
as a user does, on tiny synthetic road scenes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from test_entry_points import QUIET_TRAINING, TINY_SYNTHETIC, check, labelled_pixels, run
from torch.utils.data import DistributedSampler, TensorDataset

from segbench.data.datamodule import LabelledImages, SegmentationDataModule
from segbench.data.resumable import EpochSeededShuffle, ResumableLoader

REPO_ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# The training loader under DDP
# --------------------------------------------------------------------------------------------
ODD = TensorDataset(torch.arange(11))  # 11 images on 2 processes: the shards need one padding index


def rank_loaders(dataset=ODD, world_size: int = 2) -> list[ResumableLoader]:
    return [ResumableLoader(dataset, batch_size=2, seed=7, rank=r, world_size=world_size) for r in range(world_size)]


def batches(loader: ResumableLoader, epoch: int) -> list[list[int]]:
    loader.sampler.set_epoch(epoch)
    return [batch[0].tolist() for batch in loader]


def flat(nested: list[list[int]]) -> list[int]:
    return [i for part in nested for i in part]


def test_each_process_trains_on_its_own_shard_of_the_epochs_permutation():
    order = EpochSeededShuffle(11, seed=7).order(3)  # the single-process order of epoch 3
    shards = [flat(batches(loader, 3)) for loader in rank_loaders()]
    # the same number of images, so of optimisation steps, on both processes (DDP would hang otherwise)
    assert len(shards[0]) == len(shards[1]) == 6
    # the epoch's order dealt out in turn; the one index past its end repeats its first, as DistributedSampler pads
    assert [i for pair in zip(*shards, strict=True) for i in pair] == order + order[:1]
    assert set(shards[0]) | set(shards[1]) == set(range(11))
    even = [set(flat(batches(loader, 3))) for loader in rank_loaders(TensorDataset(torch.arange(10)))]
    assert not even[0] & even[1] and even[0] | even[1] == set(range(10))
    # Lightning's DDP rebuilds the loader with its DistributedSampler: only its rank and world size are kept
    rebuilt = ResumableLoader(ODD, batch_size=2, seed=7, sampler=DistributedSampler(ODD, num_replicas=2, rank=1))
    assert flat(batches(rebuilt, 3)) == shards[1]


def test_processes_restored_mid_epoch_serve_exactly_the_rest_of_their_shards():
    uninterrupted = [batches(loader, 2) for loader in rank_loaders()]
    loaders, served = rank_loaders(), []
    for loader in loaders:
        loader.sampler.set_epoch(2)
        iterator = iter(loader)
        served.append([next(iterator)[0].tolist(), next(iterator)[0].tolist()])
    state = loaders[0].state_dict()  # Lightning checkpoints rank 0's; every rank's is the same
    assert state == {"seed": 7, "epoch": 2, "served": 2, "world_size": 2} == loaders[1].state_dict()
    restored = rank_loaders()
    for rank, loader in enumerate(restored):
        loader.load_state_dict(state)
        assert served[rank] + batches(loader, 2) == uninterrupted[rank]


def test_a_checkpoint_resumes_on_another_number_of_processes_with_each_image_once():
    order = EpochSeededShuffle(11, seed=7).order(2)
    two = rank_loaders()
    for loader in two:
        loader.sampler.set_epoch(2)
        next(iter(loader))  # one batch of 2 on each: the first 4 positions of the permutation
    single = ResumableLoader(ODD, batch_size=2, seed=7)
    single.load_state_dict(two[0].state_dict())
    single.sampler.set_epoch(2)
    iterator = iter(single)
    assert next(iterator)[0].tolist() == order[4:6]
    assert single.state_dict() == {"seed": 7, "epoch": 2, "served": 3}
    # and back on 2 processes: the 5 images left, padded to 6, 3 on each
    back, rest, states = rank_loaders(), [], []
    for loader in back:
        loader.load_state_dict(single.state_dict())
        loader.sampler.set_epoch(2)
        rest.append([])
        for batch in loader:
            rest[-1] += batch[0].tolist()
            states.append(loader.state_dict())
    assert sorted(rest[0] + rest[1]) == sorted(order[6:] + order[:1])
    # 6 + 2 x 2 positions after one more batch each: not whole steps of 2 x 2, so the state keeps the remainder
    assert states[0] == {"seed": 7, "epoch": 2, "served": 2, "world_size": 2, "offset": 2}
    assert flat(batches(single, 2)) == order  # a restart applies once: the next pass is whole


# --------------------------------------------------------------------------------------------
# The evaluation loaders and the BN-statistics pass under DDP
# --------------------------------------------------------------------------------------------
def in_memory_datamodule(**sizes: int) -> SegmentationDataModule:
    """Splits of 2x2 images whose pixels all hold the image's index."""
    datamodule = SegmentationDataModule(root="unused", batch_size=2, progress=False, shuffle_seed=0)
    for name, count in sizes.items():
        images = np.broadcast_to(np.arange(count, dtype=np.uint8)[:, None, None, None], (count, 2, 2, 3)).copy()
        labels = np.zeros((count, 2, 2), np.uint8)
        datamodule.splits[name] = LabelledImages(images, labels, [str(i) for i in range(count)])
    return datamodule


def image_ids(loader) -> list[list[int]]:
    return [images[:, 0, 0, 0].tolist() for images, *_ in loader]


def test_evaluation_shares_hold_every_image_once_and_bn_batches_are_split_whole():
    datamodule = in_memory_datamodule(train=7, val=3, test=5)
    single_bn_batches = image_ids(datamodule.ordered_train_dataloader())
    shares, bn_shares = {}, []
    for rank in range(2):
        datamodule.trainer = SimpleNamespace(global_rank=rank, world_size=2)
        shares[rank] = {
            "val": flat(image_ids(datamodule.val_dataloader())),
            "test": flat(image_ids(datamodule.test_dataloader())),
        }
        bn_shares.append(image_ids(datamodule.ordered_train_dataloader(rank=rank, world_size=2)))
    # no padding: an odd split is shared 3 + 2, each image on exactly one process
    for split, size in (("val", 3), ("test", 5)):
        assert sorted(shares[0][split] + shares[1][split]) == list(range(size))
    # BN statistics: the single-process batches [0 1] [2 3] [4 5] [6], dealt out whole and in turn
    assert bn_shares == [single_bn_batches[0::2], single_bn_batches[1::2]] and len(single_bn_batches) == 4


# --------------------------------------------------------------------------------------------
# train.py and eval.py under DDP (2 CPU processes, gloo)
# --------------------------------------------------------------------------------------------
# 3 validation and 3 test images at 1 per batch: rank 0 evaluates 2 batches, rank 1 one (no collective may wait
# on a batch). 4 training images in batches of 2.
DDP_DATA = [*TINY_SYNTHETIC, "dataset.generator.split_sizes={train:4,val:3,test:3}", "dataset.eval_batch_size=1"]


@pytest.fixture(scope="module")
def ddp_training(tmp_path_factory) -> tuple[Path, Path, dict, str]:
    """One epoch of `train.py trainer=ddp_cpu` (2 processes), in the default, timestamped run folder."""
    workdir = tmp_path_factory.mktemp("ddp")
    result = check(run("train.py", workdir, *DDP_DATA, *QUIET_TRAINING, "trainer=ddp_cpu", "trainer.max_epochs=1"))
    runs = list((workdir / "logs" / "train" / "runs").iterdir())
    # Lightning re-launched the command for rank 1 into rank 0's run folder, not into a new timestamped one
    assert len(runs) == 1, runs
    return workdir, runs[0], json.loads((runs[0] / "results.json").read_text()), result.stdout + result.stderr


@pytest.mark.slow
def test_ddp_on_cpu_processes_trains_on_shards_and_writes_results(ddp_training):
    workdir, run_dir, results, output = ddp_training
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in output and "distributed_backend=gloo" in output
    assert results["status"] == "complete" and (run_dir / ".hydra" / "config.yaml").is_file()
    # 4 images, 2 per batch: one step per epoch on 2 shards (2 steps if each process saw the whole set)
    assert results["global_step"] == 1 and results["epochs_trained"] == 1
    # the 3 test images' labelled pixels counted once: no image repeated to even out the processes
    assert np.sum(results["test_confusion"]) == labelled_pixels(workdir, "test")


@pytest.mark.slow
def test_a_checkpoint_scores_the_same_on_two_processes_as_on_one(ddp_training):
    workdir, _, trained, _ = ddp_training
    checkpoint = f"ckpt_path={trained['best_checkpoint']}"
    check(run("eval.py", workdir, *DDP_DATA, checkpoint, f"hydra.run.dir={workdir}/single"))
    output = check(run("eval.py", workdir, *DDP_DATA, checkpoint, "trainer=ddp_cpu", f"hydra.run.dir={workdir}/ddp"))
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in output.stdout + output.stderr
    single = json.loads((workdir / "single" / "eval.json").read_text())
    ddp = json.loads((workdir / "ddp" / "eval.json").read_text())
    assert ddp["confusion"] == single["confusion"] == trained["test_confusion"]
    assert np.sum(single["confusion"]) == labelled_pixels(workdir, "test")
    for measure in ("G", "C", "mIoU", "BF"):
        # BF: the same per-image scores summed in another order
        assert ddp[f"test/{measure}"] == pytest.approx(single[f"test/{measure}"], abs=1e-12)
        assert trained["test"][f"test/{measure}"] == pytest.approx(single[f"test/{measure}"], abs=1e-12)


# --------------------------------------------------------------------------------------------
# Hydra launchers: joblib (parallel jobs here), submitit (local here, SLURM composed only)
# --------------------------------------------------------------------------------------------
class Probe(pl.Callback):
    """Loaded by sweep jobs through PYTHONPATH: logs the job's torch threads when training starts.

    With `rendezvous` (a folder) each job also leaves a file there and waits, at most `patience`
    seconds, until `parties` jobs have: it logs how many it met, so jobs run one after another meet 1.
    """

    def __init__(self, rendezvous: str | None = None, parties: int = 2, patience: float = 60.0) -> None:
        self.rendezvous, self.parties, self.patience = rendezvous, parties, patience

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        log.info("probe: torch threads %d", torch.get_num_threads())
        if self.rendezvous is None:
            return
        folder = Path(self.rendezvous)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / str(os.getpid())).touch()
        deadline = time.monotonic() + self.patience
        while len(list(folder.iterdir())) < self.parties and time.monotonic() < deadline:
            time.sleep(0.05)
        log.info("probe: training alongside %d jobs", len(list(folder.iterdir())))


SWEEP = [
    *TINY_SYNTHETIC,
    *QUIET_TRAINING,
    "trainer.fast_dev_run=true",
    "threads=1",
    "seed=0,1",
    "+callbacks.probe._target_=test_scale_out.Probe",
]
LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]", re.MULTILINE)


def job_span(job_dir: Path) -> tuple[datetime, datetime]:
    """First and last timestamps of a job's log."""
    text = (job_dir / "train.log").read_text()
    stamps = [datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f") for stamp in LOG_TIME.findall(text)]
    return min(stamps), max(stamps)


def finished_jobs(sweep: Path) -> list[Path]:
    jobs = sorted(path.parent for path in sweep.glob("*/results.json"))
    assert [job.name for job in jobs] == ["0", "1"]
    assert [json.loads((job / "results.json").read_text())["status"] for job in jobs] == ["complete"] * 2
    return jobs


@pytest.mark.slow
def test_joblib_runs_two_sweep_jobs_at_once_each_on_one_thread(tmp_path):
    sweep = tmp_path / "sweep"
    output = check(
        run(
            "train.py",
            tmp_path,
            "--multirun",
            "hydra/launcher=parallel",
            *SWEEP,
            f"+callbacks.probe.rendezvous={tmp_path}/rendezvous",
            f"hydra.sweep.dir={sweep}",
        )
    )
    assert "Joblib.Parallel(n_jobs=2" in output.stdout + output.stderr
    jobs = finished_jobs(sweep)
    for job in jobs:
        job_log = (job / "train.log").read_text()
        assert "probe: torch threads 1" in job_log and "probe: training alongside 2 jobs" in job_log
    (start0, end0), (start1, end1) = (job_span(job) for job in jobs)
    assert start0 < end1 and start1 < end0  # the jobs' logs overlap in time


@pytest.mark.slow
def test_submitit_local_runs_a_two_job_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    check(run("train.py", tmp_path, "--multirun", "hydra/launcher=submitit_local", *SWEEP, f"hydra.sweep.dir={sweep}"))
    for job in finished_jobs(sweep):
        assert "probe: torch threads 1" in (job / "train.log").read_text()
    assert any((sweep / ".submitit").iterdir())  # submitit's own job folders: the jobs went through it


def compose_hydra(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(REPO_ROOT / "conf")):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


def test_the_launcher_presets_compose_into_the_plugins_launchers():
    slurm = compose_hydra("hydra/launcher=slurm", "hydra.launcher.partition=gpu").hydra.launcher
    assert slurm._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (slurm.partition, slurm.gpus_per_node, slurm.tasks_per_node) == ("gpu", 1, 1)
    assert (slurm.array_parallelism, slurm.timeout_min, slurm.max_num_timeout) == (8, 720, 0)
    assert type(instantiate(slurm)).__name__ == "SlurmLauncher"  # the plugin takes every key
    parallel = compose_hydra("hydra/launcher=parallel").hydra.launcher
    assert parallel._target_.endswith("JoblibLauncher") and parallel.n_jobs == 2


def test_test_images_come_with_their_index_in_the_split_on_every_process():
    """The per-image record and per-sequence scores name each image by its index: it must survive sharding."""
    datamodule = in_memory_datamodule(test=5)
    names = ["Seq05VD_f0", "0001TP_0", "Seq05VD_f1", "0001TP_1", "Seq05VD_f2"]
    datamodule.splits["test"].names = names
    assert datamodule.image_sequences("test") == ["Seq05VD", "0001TP", "Seq05VD", "0001TP", "Seq05VD"]
    single = [(images[:, 0, 0, 0].tolist(), index.tolist()) for images, _, index in datamodule.test_dataloader()]
    assert single == [([0, 1], [0, 1]), ([2, 3], [2, 3]), ([4], [4])]
    shares = []
    for rank in range(2):  # a process's share carries the indices of its own images
        datamodule.trainer = SimpleNamespace(global_rank=rank, world_size=2)
        for images, _, index in datamodule.test_dataloader():
            assert index.tolist() == images[:, 0, 0, 0].tolist()
            shares += index.tolist()
    assert sorted(shares) == [0, 1, 2, 3, 4]
