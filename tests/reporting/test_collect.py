"""Collecting runs into the repository: the small files only, named by what sets the runs apart."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import recorded

from segbench.errors import SegbenchError
from segbench.reporting.collect import collect


def make_run(folder: Path, model: str, scale: str, status: str = "complete") -> None:
    for name in (".hydra/config.yaml", ".hydra/overrides.yaml", "csv/version_0/metrics.csv", "predictions/a.png",
                 "checkpoints/last.ckpt", "wandb/offline-run-1/run.wandb", "train.log"):  # fmt: skip
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name)
    results = {"status": status, "choices": {"model": model, "balancing": "natural", "scale": scale},
               "best_checkpoint": str(folder / "checkpoints" / "best-epoch003.ckpt"),
               "test": {"test/G": 0.8, "test/C": 0.6, "test/mIoU": 0.4}}  # fmt: skip
    (folder / "results.json").write_text(json.dumps(recorded(results)))


def test_only_small_files_are_copied_under_names_made_of_the_differing_choices(tmp_path):
    sweep = tmp_path / "logs" / "table1" / "multiruns" / "t"
    make_run(sweep / "0", "segnet_basic", "cpu")
    make_run(sweep / "1", "table3/fcn", "cpu", status="failed")
    make_run(tmp_path / "logs" / "table1" / "runs" / "smoke", "segnet_basic", "smoke")

    copies = collect([tmp_path / "logs" / "table1"], tmp_path / "out", where={"scale": "cpu"})

    assert [c.name for c in copies] == ["model=segnet_basic", "model=table3-fcn"]
    kept = sorted(str(p.relative_to(copies[0])) for p in copies[0].rglob("*") if p.is_file())
    assert kept == [".hydra/config.yaml", ".hydra/overrides.yaml", "csv/version_0/metrics.csv",
                    "predictions/a.png", "results.json"]  # fmt: skip
    results = json.loads((copies[0] / "results.json").read_text())
    assert results["best_checkpoint"] == "best-epoch003.ckpt"  # no path outside the repository
    assert json.loads((copies[1] / "results.json").read_text())["status"] == "failed"  # failures are kept, to show


def test_nothing_to_collect_is_one_clear_error(tmp_path):
    make_run(tmp_path / "run", "segnet_basic", "smoke")
    with pytest.raises(SegbenchError, match=r"no results.json with \{'scale': 'cpu'\} below"):
        collect([tmp_path], tmp_path / "out", where={"scale": "cpu"})


def test_a_grid_collected_over_sittings_keeps_earlier_copies_under_names_that_follow_the_grid(tmp_path):
    out = tmp_path / "out"
    first_sitting = tmp_path / "logs" / "table1" / "multiruns" / "first"
    make_run(first_sitting / "0", "segnet_basic", "cpu")
    assert [c.name for c in collect([tmp_path / "logs"], out)] == ["run"]  # one run: nothing sets it apart yet

    shutil.rmtree(first_sitting)  # the logs of the first sitting are gone; its copy in `out` is all that is left
    make_run(tmp_path / "logs" / "table1" / "multiruns" / "second" / "0", "fcn_basic", "cpu")
    copies = collect([tmp_path / "logs"], out)

    assert sorted(p.name for p in out.iterdir()) == ["model=fcn_basic", "model=segnet_basic"]  # "run" renamed
    assert [json.loads((c / "results.json").read_text())["choices"]["model"] for c in copies] == [
        "fcn_basic", "segnet_basic"]  # fmt: skip
    assert (out / "model=segnet_basic" / "csv" / "version_0" / "metrics.csv").is_file()


def test_a_resumed_run_in_logs_replaces_its_older_copy(tmp_path):
    out = tmp_path / "out"
    run = tmp_path / "logs" / "multiruns" / "t" / "0"
    make_run(run, "segnet_basic", "cpu", status="interrupted")
    make_run(tmp_path / "logs" / "multiruns" / "t" / "1", "fcn_basic", "cpu")
    collect([tmp_path / "logs"], out)

    make_run(run, "segnet_basic", "cpu")  # resumed later and finished: the same folder, a newer results.json
    os.utime(run / "results.json", (time.time() + 10, time.time() + 10))
    collect([tmp_path / "logs"], out)

    assert json.loads((out / "model=segnet_basic" / "results.json").read_text())["status"] == "complete"
    assert sorted(p.name for p in out.iterdir()) == ["model=fcn_basic", "model=segnet_basic"]


def test_runs_alike_but_for_their_seed_are_each_kept_under_their_seed(tmp_path):
    for seed in (1, 2):
        make_run(tmp_path / "logs" / "noise" / str(seed), "fcn_basic", "cpu")
        results_file = tmp_path / "logs" / "noise" / str(seed) / "results.json"
        results_file.write_text(json.dumps(json.loads(results_file.read_text()) | {"seed": seed}))
    copies = collect([tmp_path / "logs" / "noise"], tmp_path / "out")
    assert [c.name for c in copies] == ["seed=1", "seed=2"]
