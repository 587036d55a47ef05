"""Which earlier run `resume=true` continues (`segbench.resume.find_previous_run`), on hand-made run folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from conftest import recorded

from segbench.resume import find_previous_run


def make_run(folder: Path, overrides: list[str], leftover: str | None = "checkpoints/last.ckpt", age: int = 0) -> Path:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if leftover:
        (folder / leftover).parent.mkdir(parents=True, exist_ok=True)
        (folder / leftover).write_text("")
        os.utime(folder / leftover, (1_000_000 + age, 1_000_000 + age))
    return folder


def test_the_latest_run_of_the_same_training_is_continued_whatever_its_threads(tmp_path):
    task = tmp_path / "logs" / "cpu_recipe"
    older = make_run(task / "multiruns" / "a" / "3", ["augment=flip_scale_crop", "threads=1", "resume=true"], age=0)
    newer = make_run(task / "multiruns" / "b" / "1", ["augment=flip_scale_crop", "threads=1"], age=10)
    make_run(task / "multiruns" / "b" / "0", ["augment=none", "threads=1"], age=20)  # another training
    make_run(task / "multiruns" / "b" / "2", ["augment=flip_scale_crop"], leftover=None, age=30)  # nothing to continue
    current = make_run(task / "runs" / "now", ["augment=flip_scale_crop", "threads=2", "resume=true"], leftover=None)
    assert find_previous_run(task, current) == newer
    os.utime(older / "checkpoints" / "last.ckpt", (1_000_100, 1_000_100))
    assert find_previous_run(task, current) == older


def test_a_run_of_another_training_is_not_continued(tmp_path):
    task = tmp_path / "logs" / "train"
    make_run(task / "runs" / "old", ["model=fcn_basic", "threads=1"])
    current = make_run(task / "runs" / "now", ["model=segnet_basic", "threads=1", "resume=true"], leftover=None)
    assert find_previous_run(task, current) is None


def test_a_complete_collected_copy_counts_as_finished_an_incomplete_one_does_not(tmp_path):
    task = tmp_path / "logs" / "table1"
    current = make_run(task / "multiruns" / "now" / "3", ["model=fcn_basic", "threads=1", "resume=true"], leftover=None)
    collected = tmp_path / "docs" / "runs"
    failed = make_run(collected / "model=fcn_basic,attempt=1", ["model=fcn_basic", "threads=1"], "results.json", age=5)
    failed.joinpath("results.json").write_text(json.dumps(recorded({"status": "failed", "choices": {"model": "x"}})))
    assert find_previous_run(task, current, [collected]) is None  # a failed copy has nothing to continue

    finished = make_run(collected / "model=fcn_basic", ["model=fcn_basic", "threads=1"], "results.json", age=1)
    test = {"test/G": 0.8, "test/C": 0.6, "test/mIoU": 0.4}
    finished.joinpath("results.json").write_text(json.dumps(recorded({"choices": {"model": "x"}, "test": test})))
    assert find_previous_run(task, current, [collected]) == finished
    assert find_previous_run(task, current) is None  # only where it is told to look
