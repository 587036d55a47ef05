"""Bad input stops with one line naming the culprit, exit status != 0, and nothing lost (train.py / eval.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import yaml
from conftest import write_camvid_layout
from test_entry_points import QUIET_TRAINING, TINY_SYNTHETIC, check, run


def last_line(result) -> str:
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A finished one-epoch run: (workdir, its run folder)."""
    workdir = tmp_path_factory.mktemp("trained")
    check(
        run(
            "train.py",
            workdir,
            *TINY_SYNTHETIC,
            *QUIET_TRAINING,
            "trainer.max_epochs=1",
            f"hydra.run.dir={workdir}/run",
        )
    )
    return workdir, workdir / "run"


def test_an_empty_split_folder_is_named_before_training(tmp_path):
    root = write_camvid_layout(tmp_path / "camvid", {"train": 2, "val": 1, "test": 0})
    line = last_line(run("train.py", tmp_path, "logger=csv", f"dataset.root={root}", f"hydra.run.dir={tmp_path}/run"))
    assert line == f"error: split folder {root / 'test'} holds no PNG images"
    assert not (tmp_path / "run" / "checkpoints").exists()  # stopped before training


def test_an_unknown_config_choice_lists_the_valid_ones(tmp_path):
    result = run("train.py", tmp_path, "model=segnet_bsic")
    assert result.returncode == 1
    assert "Could not find 'model/segnet_bsic'" in result.stderr and "\tsegnet_basic\n" in result.stderr


def test_an_output_folder_that_cannot_be_written_is_named(tmp_path):
    (tmp_path / "a_file").write_text("")
    line = last_line(run("train.py", tmp_path, *TINY_SYNTHETIC, f"hydra.run.dir={tmp_path}/a_file/run"))
    assert line == f"error: cannot write the output folder {tmp_path}/a_file/run (hydra.run.dir): Not a directory"


@pytest.mark.parametrize("resolution", ["[0,32]", "[24]", "[-24,32]"])
def test_a_resolution_that_is_not_two_positive_integers_is_named(tmp_path, resolution):
    line = last_line(run("train.py", tmp_path, *TINY_SYNTHETIC, f"dataset.resolution={resolution}"))
    assert line.startswith("error: dataset.resolution=[") and line.endswith("must be two positive integers [H, W]")


def test_a_scoring_resolution_that_is_not_native_input_or_a_size_is_named(tmp_path):
    line = last_line(run("train.py", tmp_path, *TINY_SYNTHETIC, "dataset.scoring_resolution=[0,32]"))
    assert line == "error: dataset.scoring_resolution=[0, 32] must be native, input or two positive integers"


@pytest.mark.parametrize("script", ["train.py", "eval.py"])
def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path, script):
    garbage = tmp_path / "notes.ckpt"
    garbage.write_text("12 apples\n")
    line = last_line(run(script, tmp_path, *TINY_SYNTHETIC, f"ckpt_path={garbage}"))
    assert line.startswith(f"error: {garbage} is not a PyTorch checkpoint (")


class RunsCode:
    """Unpickling this calls os.system: what a crafted checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("script", ["train.py", "eval.py"])
def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path, script):
    marker = tmp_path / "payload-ran"
    crafted = tmp_path / "crafted.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"model_config": RunsCode(marker)}}, crafted)
    line = last_line(run(script, tmp_path, *TINY_SYNTHETIC, f"ckpt_path={crafted}"))
    assert line.startswith(
        f"error: refusing {crafted}: loading it would call posix.system, which can run arbitrary code"
    )
    assert not marker.exists()


def test_eval_names_a_checkpoint_of_another_class_count(trained, tmp_path):
    _, run_dir = trained
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    line = last_line(
        run(
            "eval.py",
            tmp_path,
            *TINY_SYNTHETIC,
            f"ckpt_path={checkpoint}",
            "dataset.num_classes=5",
            "dataset.ignore_index=5",
        )
    )
    assert line == f"error: ckpt_path={checkpoint} predicts 11 classes (void 11) but dataset=synthetic has 5 (void 5)"


def test_resuming_a_checkpoint_of_another_network_is_refused(trained, tmp_path):
    _, run_dir = trained
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    line = last_line(run("train.py", tmp_path, *TINY_SYNTHETIC, "model=fcn_basic", f"ckpt_path={checkpoint}"))
    assert line.startswith(f"error: ckpt_path={checkpoint} holds a different network (segbench.models.Segmenter, 11")


def test_a_checkpoint_from_before_a_weightless_option_existed_still_resumes(trained, tmp_path):
    """Runs begun before `model.encoder.indices` existed lack it in their config: same tensors, same network."""
    _, run_dir = trained
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    older = yaml.safe_load(checkpoint["hyper_parameters"]["model_config"])
    del older["encoder"]["indices"]
    checkpoint["hyper_parameters"]["model_config"] = yaml.safe_dump(older)
    torch.save(checkpoint, tmp_path / "older.ckpt")
    check(
        run(
            "train.py",
            tmp_path,
            *TINY_SYNTHETIC,
            *QUIET_TRAINING,
            "trainer.max_epochs=2",
            f"ckpt_path={tmp_path / 'older.ckpt'}",
            f"hydra.run.dir={tmp_path}/run",
        )
    )
    assert json.loads((tmp_path / "run" / "results.json").read_text())["epochs_trained"] == 2


def test_a_completed_run_is_not_overwritten_unless_asked(trained):
    workdir, run_dir = trained
    before = (run_dir / "results.json").read_text()
    line = last_line(run("train.py", workdir, *TINY_SYNTHETIC, *QUIET_TRAINING, f"hydra.run.dir={run_dir}"))
    assert (
        line
        == f"error: {run_dir / 'results.json'} holds a completed run; pass overwrite=true to train into {run_dir} again"
    )
    assert (run_dir / "results.json").read_text() == before


def test_a_diverging_run_stops_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    poison = [
        "+callbacks.poison._target_=kill_switch.PoisonWeightsAtStep",
        "+callbacks.poison.step=3",
        "callbacks.step_checkpoint.every_n_train_steps=1",
        "trainer.max_epochs=3",
        f"hydra.run.dir={tmp_path}/run",
    ]
    line = last_line(run("train.py", tmp_path, *TINY_SYNTHETIC, *QUIET_TRAINING, *poison))
    assert line.startswith("error: training loss is nan at step 4 (epoch 1); training stopped")
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["status"] == "failed" and results["error"] == line.removeprefix("error: ")
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 3 and all(t.isfinite().all() for t in last["state_dict"].values())


def test_eval_scores_each_video_sequence_of_the_test_split(trained, tmp_path):
    """CamVid-style names (`<sequence>_<frame>.png`): eval.json holds the whole split and each sequence."""
    _, run_dir = trained
    root = write_camvid_layout(tmp_path / "camvid", {"train": 2, "val": 1, "test": 5}, height=24, width=32)
    for index, path in enumerate(sorted((root / "test").glob("*.png"))):
        sequence = "0001TP" if index < 2 else "Seq05VD"
        path.rename(root / "test" / f"{sequence}_{index:03d}.png")
        (root / "testannot" / path.name).rename(root / "testannot" / f"{sequence}_{index:03d}.png")
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    check(run("eval.py", tmp_path, f"dataset.root={root}", f"ckpt_path={checkpoint}", f"hydra.run.dir={tmp_path}/eval"))
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    per_sequence = report["per_sequence"]
    assert {name: scores["images"] for name, scores in per_sequence.items()} == {"0001TP": 2, "Seq05VD": 3}
    # the whole split's G is a pixel-weighted mean of the sequences' Gs: it lies between them
    low, high = sorted(scores["G"] for scores in per_sequence.values())
    assert low <= report["test/G"] <= high
    # scored in the same pass as the split, each sequence's scores are those of scoring its images alone
    for path in [*(root / "test").glob("0001TP_*.png"), *(root / "testannot").glob("0001TP_*.png")]:
        path.unlink()
    check(run("eval.py", tmp_path, f"dataset.root={root}", f"ckpt_path={checkpoint}", f"hydra.run.dir={tmp_path}/one"))
    alone = json.loads((tmp_path / "one" / "eval.json").read_text())
    assert alone["per_sequence"] == {}  # one sequence left: nothing to tell apart
    scored_alone = {measure: alone[f"test/{measure}"] for measure in ("G", "C", "mIoU", "BF")}
    assert per_sequence["Seq05VD"] == pytest.approx({"images": 3, **scored_alone})


def test_a_config_that_builds_no_network_is_recorded_with_what_went_wrong(tmp_path):
    result = run("train.py", tmp_path, *TINY_SYNTHETIC, *QUIET_TRAINING, "+model.encoder.bogus=1")
    expected = (
        "Error in call to target 'segbench.models.encoder.BasicEncoder': "
        "TypeError: BasicEncoder.__init__() got an unexpected keyword argument 'bogus'"
    )
    assert last_line(result) == f"error: {expected} (config: model.encoder)"
    (results_file,) = tmp_path.glob("logs/train/runs/*/results.json")
    assert json.loads(results_file.read_text())["error"] == f"{expected} (config: model.encoder)"
