"""train.py and eval.py through Hydra, as a user runs them, on tiny synthetic road scenes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from segbench.paper import TABLE1

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_SYNTHETIC = [
    "dataset=synthetic",
    "dataset.generator.split_sizes={train:4,val:2,test:2}",
    "dataset.generator.height=48",
    "dataset.generator.width=64",
    "dataset.batch_size=2",
    "dataset.progress=false",
    "logger=csv",
    "callbacks.progress_bar=null",
]
QUIET_TRAINING = ["callbacks.model_summary=null"]


def run(script: str, workdir: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEGBENCH_ROOT": str(workdir), "WANDB_MODE": "disabled"}
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "src" / script), *overrides],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600,
    )


def check(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_train_fast_dev_run_writes_results(tmp_path):
    check(run("train.py", tmp_path, *TINY_SYNTHETIC, *QUIET_TRAINING, "trainer.fast_dev_run=true", f"hydra.run.dir={tmp_path}/run"))
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["choices"]["model"] == "segnet_basic" and results["choices"]["dataset"] == "synthetic"
    assert results["params"] == 1_416_075
    assert set(results["test"]) >= {"test/G", "test/C", "test/mIoU", "test/BF", "test/loss", "test/IoU/Road"}
    assert set(results["train"]) >= {"train/G", "train/C", "train/mIoU"}
    assert all(0.0 <= results[split][f"{split}/G"] <= 1.0 for split in ("train", "val", "test"))
    confusion = results["test_confusion"]
    assert len(confusion) == 11 and all(len(row) == 11 for row in confusion)
    # every labelled test pixel is counted once: 2 images of 48x64 minus void
    assert 0 < sum(map(sum, confusion)) <= 2 * 48 * 64
    assert (tmp_path / "run" / ".hydra" / "config.yaml").is_file()


def test_train_resume_and_eval_agree(tmp_path):
    # Trained at a reduced resolution: eval must score at it without being told. With lr 0 the weights
    # never change, so validation G stays equal and the first epoch remains the best one throughout.
    common = [*TINY_SYNTHETIC, *QUIET_TRAINING, "trainer=cpu_fast", "trainer.limit_val_batches=1", "dataset.resolution=[24,32]", "task.optimizer.lr=0.0"]
    check(run("train.py", tmp_path, *common, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path}/first"))
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    # last.ckpt is the state after the final epoch, whichever epoch scored best
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 4

    # Resuming continues the step count where the first run stopped: 3 epochs x 2 batches.
    check(run("train.py", tmp_path, *common, "trainer.max_epochs=3", f"ckpt_path={last}", f"hydra.run.dir={tmp_path}/resumed"))
    resumed = json.loads((tmp_path / "resumed" / "results.json").read_text())
    assert resumed["global_step"] == 6 and resumed["epochs_trained"] == 3
    # the resumed segment writes beside the first one and keeps its best score: epoch 0 stays selected
    assert Path(resumed["best_checkpoint"]) == tmp_path / "first" / "checkpoints" / "best-epoch000.ckpt"

    best = resumed["best_checkpoint"]
    printed = check(run("eval.py", tmp_path, *TINY_SYNTHETIC, "trainer=cpu_fast", f"ckpt_path={best}", f"hydra.run.dir={tmp_path}/eval")).stdout
    assert "mIoU" in printed and "BF" in printed and "Bicyclist" in printed
    evaluated = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert evaluated["test/BF"] == pytest.approx(resumed["test"]["test/BF"], abs=1e-9)
    assert len(evaluated["confusion"]) == 11
    assert evaluated["test/G"] == pytest.approx(resumed["test"]["test/G"], abs=1e-6)
    assert evaluated["test/mIoU"] == pytest.approx(resumed["test"]["test/mIoU"], abs=1e-6)


def test_missing_data_set_is_a_one_line_error(tmp_path):
    result = run("train.py", tmp_path, "logger=csv", f"dataset.root={tmp_path}/nowhere", f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: CamVid not found: {tmp_path}/nowhere (from dataset.root) is not a folder; "
        "point at your copy with CAMVID_ROOT=/path/to/CamVid or dataset.root=/path/to/CamVid"
    )
    assert "Traceback" not in result.stderr


def test_eval_without_checkpoint_is_a_one_line_error(tmp_path):
    result = run("eval.py", tmp_path, *TINY_SYNTHETIC, f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ckpt_path is required")


def test_every_table1_variant_trains_through_train_py(tmp_path):
    # One Hydra multirun over conf/model/*.yaml: the same glob a user sweeps with.
    result = check(run("train.py", tmp_path, "--multirun", "model=glob(*)", *TINY_SYNTHETIC, *QUIET_TRAINING,
                       "trainer.fast_dev_run=true", "callbacks.bn_statistics=null", f"hydra.sweep.dir={tmp_path}/sweep"))
    trained = sorted(json.loads(p.read_text())["choices"]["model"] for p in (tmp_path / "sweep").glob("*/results.json"))
    assert trained == sorted(TABLE1), result.stdout[-2000:]
