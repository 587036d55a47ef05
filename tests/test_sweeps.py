"""A sweep whose one job fails: the others finish, the failure is recorded and the sweep's exit status says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_entry_points import QUIET_TRAINING, TINY_SYNTHETIC, check, run

from segbench.record.run import read_record
from segbench.reporting.collect import collect


@pytest.mark.slow
def test_one_failing_job_of_sixteen_leaves_the_other_fifteen_complete(tmp_path):
    fail_job_7 = [
        "+callbacks.fail._target_=kill_switch.FailWhen",
        "+callbacks.fail.value=${seed}",
        "+callbacks.fail.failing=7",
    ]
    result = run(
        "train.py", tmp_path, "--multirun", "seed=range(16)", *TINY_SYNTHETIC, *QUIET_TRAINING, *fail_job_7,
        "trainer.fast_dev_run=true", "callbacks.bn_statistics=null", f"hydra.sweep.dir={tmp_path}/sweep",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    statuses = {int(p.parent.name): read_record(p) for p in (tmp_path / "sweep").glob("*/results.json")}
    assert sorted(statuses) == list(range(16))
    assert [job for job, r in statuses.items() if r.status != "complete"] == [7]
    failed = statuses[7]
    assert (failed.status, failed.error, failed.global_step, failed.test) == (
        "failed",
        "this job was told to fail",
        0,
        {},
    )
    assert failed.provenance.git_commit != "not recorded"  # what failed is known as well as what succeeded
    assert all("test/G" in statuses[job].test for job in statuses if job != 7)
    lines = result.stderr.strip().splitlines()
    assert f"error: job 7 ({tmp_path}/sweep/7): this job was told to fail" in lines
    assert lines[-1] == "error: 1 of 16 jobs did not complete"


TINY_GRID = ["--multirun", "experiment=table1", *TINY_SYNTHETIC, *QUIET_TRAINING, "trainer.max_epochs=1"]
FAIL_JOB_5 = [
    "+callbacks.fail._target_=kill_switch.FailWhen",
    "+callbacks.fail.value=${hydra:job.num}",
    "+callbacks.fail.failing=5",
]


@pytest.mark.slow
def test_the_table1_grid_runs_end_to_end_skips_finished_jobs_when_rerun_and_reports_its_failure(tmp_path):
    first = run("train.py", tmp_path, *TINY_GRID, *FAIL_JOB_5)
    assert first.returncode == 1, first.stderr[-3000:]
    (sweep,) = (tmp_path / "logs" / "table1" / "multiruns").iterdir()
    jobs = {int(p.parent.name): json.loads(p.read_text()) for p in sweep.glob("*/results.json")}
    assert sorted(jobs) == list(range(16))
    grid = {(r["choices"]["model"], r["choices"]["balancing"]) for r in jobs.values()}
    assert len(grid) == 16 and {b for _, b in grid} == {"median_frequency", "natural"}
    assert [job for job, r in jobs.items() if r["status"] != "complete"] == [5]
    finished = {job: (sweep / str(job) / "results.json").stat().st_mtime_ns for job in jobs if job != 5}
    # every finished job saved its predictions on the test images for the report's Fig. 4 panel
    assert all(len(list((sweep / str(job) / "predictions").glob("*.png"))) == 2 for job in finished)

    again = run("train.py", tmp_path, *TINY_GRID, *FAIL_JOB_5)
    assert again.returncode == 1, again.stderr[-3000:]
    assert (again.stdout + again.stderr).count("already finished") == 15
    assert {job: (sweep / str(job) / "results.json").stat().st_mtime_ns for job in finished} == finished
    assert "error: 1 of 16 jobs did not complete" in again.stderr

    report = run("report.py", tmp_path, str(tmp_path / "logs" / "table1"), "--out", str(tmp_path / "report"))
    check(report)
    table = (tmp_path / "report" / "table1.md").read_text()
    failed = jobs[5]["choices"]
    assert "this job was told to fail" in table and failed["model"] in table
    for job, results in jobs.items():
        if job != 5:
            assert f"{100 * results['test']['test/mIoU']:.1f}" in table

    # Another sitting on another machine: the logs are gone, the collected (committed) copies are what is left.
    collected = tmp_path / "collected"
    assert len(collect([tmp_path / "logs" / "table1"], collected)) == 16
    shutil.rmtree(tmp_path / "logs")
    elsewhere = run("train.py", tmp_path, *TINY_GRID, *FAIL_JOB_5, f"finished_runs=[{collected}]")
    assert elsewhere.returncode == 1, elsewhere.stderr[-3000:]
    assert (elsewhere.stdout + elsewhere.stderr).count("already finished") == 15  # only the failed job runs again
    assert "error: 1 of 16 jobs did not complete" in elsewhere.stderr


@pytest.mark.slow
def test_milestone_checkpoints_are_scored_into_results(tmp_path):
    check(
        run(
            "train.py", tmp_path, *TINY_SYNTHETIC, *QUIET_TRAINING, "trainer.max_epochs=2",
            "+callbacks.milestone_checkpoints._target_=segbench.callbacks.MilestoneCheckpoints",
            "+callbacks.milestone_checkpoints.steps=[1,3]",
            "+callbacks.milestone_checkpoints.dirpath=${paths.checkpoint_dir}",
        )
    )  # fmt: skip
    (results_file,) = (tmp_path / "logs" / "train" / "runs").glob("*/results.json")
    results = json.loads(results_file.read_text())
    # 2 steps an epoch, validation after each: milestone 1 is saved at step 2, milestone 3 at step 4
    assert sorted(results["milestones"], key=int) == ["2", "4"]
    assert results["global_step"] == 4
    assert all(0 <= scores["test/mIoU"] <= 1 and "test/BF" in scores for scores in results["milestones"].values())
    # the last milestone is the last evaluation: its scores equal the selected checkpoint's when that one was selected
    if Path(results["best_checkpoint"]).name == "best-epoch001.ckpt":
        assert results["milestones"]["4"]["test/G"] == pytest.approx(results["test"]["test/G"])
