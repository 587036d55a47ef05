"""train.py and eval.py through Hydra, as a user runs them, on tiny synthetic road scenes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from segbench.data.camvid import CLASS_NAMES, VOID_INDEX
from segbench.pretrained import load_weights, shipped_weights
from segbench.record.run import EvalRecord, read_record
from segbench.refined_runs import main as refined_main
from segbench.refined_runs import refine_run, refined_network
from segbench.reporting.grid_runs import load_run
from segbench.study import variants

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
# eval.py and predict.py default to precision=auto; the tests pin fp32, so that no test run probes the machine
# (the probe and its choice are tested in tests/test_precision.py), unless the test sets the option itself.
PINNED_PRECISION = {"eval.py": ["trainer.precision=32-true"], "predict.py": ["precision=32-true"]}


KILL_SWITCH = [  # a SIGKILL at the step in $SEGBENCH_TEST_KILL_AT_STEP; the override text is the same either way
    "+callbacks.kill._target_=kill_switch.KillAtStep",
    "+callbacks.kill.step=${oc.env:SEGBENCH_TEST_KILL_AT_STEP,-1}",
]


def pinned_precision(script: str, overrides: tuple[str, ...]) -> list[str]:
    given = {override.split("=", 1)[0] for override in overrides}
    return [pin for pin in PINNED_PRECISION.get(script, []) if pin.split("=", 1)[0] not in given]


def run(
    script: str, workdir: Path, *overrides: str, kill_at_step: int | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEGBENCH_ROOT": str(workdir), "WANDB_MODE": "disabled", **(env or {})}
    # The test callbacks given to the run on its command line are importable there: tests/helpers and tests/.
    helpers = [str(REPO_ROOT / "tests" / "helpers"), str(REPO_ROOT / "tests")]
    env["PYTHONPATH"] = os.pathsep.join([*helpers, env.get("PYTHONPATH", "")])
    env.pop("SEGBENCH_TEST_KILL_AT_STEP", None)
    if kill_at_step is not None:
        env["SEGBENCH_TEST_KILL_AT_STEP"] = str(kill_at_step)
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "src" / script), *overrides, *pinned_precision(script, overrides)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def check(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def labelled_pixels(workdir: Path, split: str) -> int:
    """Non-void pixels of the synthetic split train.py generated under SEGBENCH_ROOT."""
    labels = [np.array(Image.open(f)) for f in sorted((workdir / "data" / "synthetic" / f"{split}annot").glob("*.png"))]
    return int(sum((label != VOID_INDEX).sum() for label in labels))


def test_train_fast_dev_run_writes_results(tmp_path):
    check(
        run(
            "train.py",
            tmp_path,
            *TINY_SYNTHETIC,
            *QUIET_TRAINING,
            "trainer.fast_dev_run=true",
            f"hydra.run.dir={tmp_path}/run",
        )
    )
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["choices"]["model"] == "segnet_basic" and results["choices"]["dataset"] == "synthetic"
    assert results["params"] == 1_416_075
    assert set(results["test"]) >= {"test/G", "test/C", "test/mIoU", "test/BF", "test/loss", "test/IoU/Road"}
    assert set(results["train"]) >= {"train/G", "train/C", "train/mIoU"}
    assert results["class_names"] == list(CLASS_NAMES)
    # The scores are those of the confusion matrix, computed by hand: every labelled test pixel counted once,
    # G = trace / total, C = mean per-class recall, mIoU = mean per-class IoU over the classes that occur
    # (in the truth for C, in the truth or the prediction for mIoU).
    confusion = np.array(results["test_confusion"], dtype=np.float64)
    assert confusion.shape == (11, 11) and confusion.sum() == labelled_pixels(tmp_path, "test")
    diagonal, truth, predicted = np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)
    union = truth + predicted - diagonal
    test = results["test"]
    assert test["test/G"] == pytest.approx(diagonal.sum() / confusion.sum(), abs=1e-6)
    assert test["test/C"] == pytest.approx((diagonal[truth > 0] / truth[truth > 0]).mean(), abs=1e-6)
    assert test["test/mIoU"] == pytest.approx((diagonal[union > 0] / union[union > 0]).mean(), abs=1e-6)
    for index, name in enumerate(CLASS_NAMES):
        if truth[index] > 0:
            assert test[f"test/accuracy/{name}"] == pytest.approx(diagonal[index] / truth[index], abs=1e-6)
    assert (tmp_path / "run" / ".hydra" / "config.yaml").is_file()


# 6 training images in batches of 2: 3 steps per epoch; a checkpoint every 2 steps and after every evaluation.
RESUMABLE = [
    *TINY_SYNTHETIC,
    *QUIET_TRAINING,
    *KILL_SWITCH,
    "dataset.generator.split_sizes={train:6,val:2,test:2}",
    "dataset.resolution=[24,32]",
    "callbacks.step_checkpoint.every_n_train_steps=2",
    "trainer.max_epochs=4",
    "resume=true",
]
RUN_FACTS = ("params", "epochs_trained", "global_step", "train", "val", "test", "test_confusion")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[Path, dict]:
    workdir = tmp_path_factory.mktemp("uninterrupted")
    check(run("train.py", workdir, *RESUMABLE))
    (results_file,) = workdir.glob("logs/train/runs/*/results.json")
    return workdir, json.loads(results_file.read_text())


def killed_mid_epoch(workdir: Path, *overrides: str) -> Path:
    """Run RESUMABLE killed during step 6; returns the run folder, whose last checkpoint is mid-epoch."""
    result = run("train.py", workdir, *RESUMABLE, *overrides, kill_at_step=5)
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    (last,) = workdir.glob("logs/train/runs/*/checkpoints/last.ckpt")
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    # step 4 = the first batch of the second epoch: the loader records one batch of epoch 1 served
    assert checkpoint["global_step"] == 4 and checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"seed": 0, "epoch": 1, "served": 1}
    ]
    return last.parent.parent


def same_run(resumed: dict, uninterrupted: dict) -> None:
    assert {k: resumed[k] for k in RUN_FACTS} == {k: uninterrupted[k] for k in RUN_FACTS}
    assert Path(resumed["best_checkpoint"]).name == Path(uninterrupted["best_checkpoint"]).name


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_to_the_same_result_with_resume_true(tmp_path, uninterrupted):
    first = killed_mid_epoch(tmp_path)
    check(run("train.py", tmp_path, *RESUMABLE))  # the same command again
    resumed = json.loads((first / "results.json").read_text())  # finished in the folder it started in
    same_run(resumed, uninterrupted[1])
    assert resumed["resumed"] is True and uninterrupted[1]["resumed"] is False
    # once finished, the same command does not train again
    again = check(run("train.py", tmp_path, *RESUMABLE))
    assert "already finished" in again.stdout + again.stderr
    assert len(list(tmp_path.glob("logs/train/runs/*/results.json"))) == 1


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_to_the_same_result_from_its_checkpoint(tmp_path, uninterrupted):
    first = killed_mid_epoch(tmp_path, f"hydra.run.dir={tmp_path}/logs/train/runs/first")
    last = first / "checkpoints" / "last.ckpt"
    check(run("train.py", tmp_path, *RESUMABLE, f"ckpt_path={last}", f"hydra.run.dir={tmp_path}/resumed"))
    resumed = json.loads((tmp_path / "resumed" / "results.json").read_text())
    same_run(resumed, uninterrupted[1])
    # the resumed segment wrote beside the checkpoint it resumed from: the selection spans the whole run
    assert Path(resumed["best_checkpoint"]).parent == first / "checkpoints"


@pytest.mark.slow
def test_ctrl_c_saves_a_resumable_checkpoint_and_the_rerun_ends_as_the_uninterrupted_run(tmp_path, uninterrupted):
    env = {**os.environ, "SEGBENCH_ROOT": str(tmp_path), "WANDB_MODE": "disabled"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "tests" / "helpers"), env.get("PYTHONPATH", "")])
    env.pop("SEGBENCH_TEST_KILL_AT_STEP", None)
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "src" / "train.py"), *RESUMABLE],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob("logs/train/runs/*/checkpoints/last.ckpt")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # after the first periodic checkpoint (step 2 of 12)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 2, stderr[-3000:]
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("error: interrupted at step ") and "resume=true" in line
    (run_dir,) = tmp_path.glob("logs/train/runs/*")
    status = json.loads((run_dir / "results.json").read_text())
    assert status["status"] == "interrupted" and 2 <= status["global_step"] < 12
    saved = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["global_step"] == status["global_step"]  # saved at the step it stopped at, not an older one
    check(run("train.py", tmp_path, *RESUMABLE))
    same_run(json.loads((run_dir / "results.json").read_text()), uninterrupted[1])


def test_eval_scores_a_checkpoint_as_training_did_at_its_training_resolution(uninterrupted):
    workdir, results = uninterrupted
    best = results["best_checkpoint"]
    printed = check(
        run("eval.py", workdir, *TINY_SYNTHETIC, f"ckpt_path={best}", f"hydra.run.dir={workdir}/eval")
    ).stdout
    assert "mIoU" in printed and "BF" in printed and "Bicyclist" in printed
    evaluated = json.loads((workdir / "eval" / "eval.json").read_text())
    assert evaluated["confusion"] == results["test_confusion"]
    # trained and fed at 24x32, scored on the native 48x64 label files: every labelled native pixel once
    assert results["input_resolution"] == evaluated["input_resolution"] == [24, 32]
    assert results["scoring_resolution"] == evaluated["scoring_resolution"] == [48, 64]
    assert sum(map(sum, results["test_confusion"])) == labelled_pixels(workdir, "test")
    for measure in ("G", "C", "mIoU", "BF"):
        assert evaluated[f"test/{measure}"] == pytest.approx(results["test"][f"test/{measure}"], abs=1e-9)


def test_eval_scores_the_shipped_weights_file(uninterrupted):
    """The demo's model (a weights-only file, no checkpoint) scored as any checkpoint, at the size it was trained at."""
    workdir, _ = uninterrupted
    shipped = shipped_weights()
    out = workdir / "eval-shipped"
    check(
        run(
            "eval.py",
            workdir,
            *TINY_SYNTHETIC,
            *PINNED_PRECISION["eval.py"],
            f"ckpt_path={shipped}",
            f"hydra.run.dir={out}",
        )
    )
    evaluated = json.loads((out / "eval.json").read_text())
    assert evaluated["ckpt_path"] == str(shipped) and evaluated["input_resolution"] == [120, 160]
    assert sum(map(sum, evaluated["confusion"])) == labelled_pixels(workdir, "test") and "test/BF" in evaluated


@pytest.mark.slow
def test_a_run_starts_from_the_weights_init_from_names_and_refuses_another_networks(tmp_path):
    """Fine-tuning the shipped SegNet-Basic: at learning rate 0 its parameters come out as they went in; FCN-Basic
    cannot start from them."""
    shipped = shipped_weights()
    frozen = ("task.optimizer.lr=0", "trainer.max_epochs=1", "trainer.precision=32-true", f"init_from={shipped}")
    check(run("train.py", tmp_path, *TINY_SYNTHETIC, *QUIET_TRAINING, *frozen, f"hydra.run.dir={tmp_path}/run"))
    trained = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    started = dict(load_weights(shipped).net.named_parameters())
    assert len(started) == 26  # 8 conv + BN layers (weight, BN scale, BN shift), the 1x1 head (weight, bias)
    for name, parameter in started.items():
        assert torch.equal(trained["state_dict"][f"net.{name}"], parameter), name
    other = ("model=fcn_basic", f"init_from={shipped}", f"hydra.run.dir={tmp_path}/fcn")
    result = run("train.py", tmp_path, *TINY_SYNTHETIC, *other)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"error: init_from={shipped}: its network is not this run's model (")


def test_a_runs_checkpoints_scored_with_a_crf_become_a_run_of_the_refined_network(tmp_path, monkeypatch, uninterrupted):
    """Table 3's DeepLab-LargeFOV-denseCRF is its DeepLab-LargeFOV run scored with the CRF (segbench.refined_runs);
    shown here on the tiny SegNet-Basic run, under a made-up model name, with one milestone (a copy of the selected
    checkpoint, so the two must score alike)."""
    workdir, results = uninterrupted
    source = tmp_path / "sweep" / "0"
    shutil.copytree(Path(results["best_checkpoint"]).parent.parent, source)
    checkpoints = source / "checkpoints"
    shutil.copy(checkpoints / Path(results["best_checkpoint"]).name, checkpoints / "milestone-4-step4.ckpt")
    monkeypatch.setenv("SEGBENCH_ROOT", str(workdir))  # the synthetic data the run was trained on
    monkeypatch.setenv("WANDB_MODE", "disabled")
    config, _ = refined_network("table3/deeplab_largefov", "densecrf", "table3/deeplab_largefov_densecrf")
    arguments = [*TINY_SYNTHETIC, *PINNED_PRECISION["eval.py"]]
    folder = refine_run(load_run(source / "results.json"), "densecrf", "segnet_basic_crf", config, "A + CRF", arguments)

    assert folder == tmp_path / "sweep" / "0+densecrf"
    refined = read_record(folder / "results.json")
    scored = read_record(folder / "scored" / "selected" / "eval.json", EvalRecord)
    assert scored.refine == config and config["_target_"] == "segbench.models.DenseCRF"
    assert refined.model == "segnet_basic_crf" and refined.paper_name == "A + CRF"
    assert refined.refined_from == "segnet_basic" and refined.refine == config
    assert refined.test == scored.scores("test") and refined.test_confusion == scored.confusion
    assert refined.milestones == {"4": refined.test}
    assert (refined.val, refined.params) == (results["val"], results["params"])  # the trained run's
    assert (folder / refined.per_image).is_file() and len(list(folder.glob("predictions/*.png"))) == 2
    # done: not scored again
    before = (folder / "results.json").stat().st_mtime_ns
    refine_run(load_run(source / "results.json"), "densecrf", "segnet_basic_crf", config, "A + CRF", arguments)
    assert (folder / "results.json").stat().st_mtime_ns == before


def test_a_refined_network_must_be_the_trained_one_with_the_refinement():
    crf = "table3/deeplab_largefov_densecrf"
    with pytest.raises(SystemExit) as stop:
        refined_main(["logs", "--network", "table3/fcn", "--refine", "densecrf", "--as", crf])
    assert str(stop.value) == f"error: model={crf} is not model=table3/fcn with a refinement added"
    with pytest.raises(SystemExit) as stop:
        refined_main(["logs", "--network", "table3/deeplab_largefov", "--refine", "none", "--as", "table3/fcn"])
    assert str(stop.value) == "error: refine=none: In 'eval': Could not find 'refine/none'"


def test_missing_data_set_is_a_one_line_error(tmp_path):
    result = run(
        "train.py", tmp_path, "logger=csv", f"dataset.root={tmp_path}/nowhere", f"hydra.run.dir={tmp_path}/run"
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: CamVid not found: {tmp_path}/nowhere (from dataset.root) is not a folder; "
        "point at your copy with CAMVID_ROOT=/path/to/CamVid or dataset.root=/path/to/CamVid, "
        "or download it with `make data` (python -m segbench.data.fetch camvid --dest data/camvid)"
    )
    assert "Traceback" not in result.stderr


def test_eval_without_checkpoint_is_a_one_line_error(tmp_path):
    result = run("eval.py", tmp_path, *TINY_SYNTHETIC, f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ckpt_path is required")


@pytest.mark.slow
def test_every_table1_variant_trains_through_train_py(tmp_path):
    # One Hydra multirun over the Table 1 grid's variants, as its experiment lists them.
    result = check(
        run(
            "train.py",
            tmp_path,
            "--multirun",
            f"model={','.join(variants('table1'))}",
            *TINY_SYNTHETIC,
            *QUIET_TRAINING,
            "trainer.fast_dev_run=true",
            "callbacks.bn_statistics=null",
            f"hydra.sweep.dir={tmp_path}/sweep",
        )
    )
    trained = sorted(json.loads(p.read_text())["choices"]["model"] for p in (tmp_path / "sweep").glob("*/results.json"))
    assert trained == sorted(variants("table1")), result.stdout[-2000:]
