"""A sweep whose one job fails: the others finish, the failure is recorded and the sweep's exit status says so."""

from __future__ import annotations

import json

import pytest
from test_entry_points import QUIET_TRAINING, TINY_SYNTHETIC, run


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
    statuses = {int(p.parent.name): json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/results.json")}
    assert sorted(statuses) == list(range(16))
    assert [job for job, r in statuses.items() if r["status"] != "complete"] == [7]
    assert statuses[7] == {"status": "failed", "error": "this job was told to fail", "global_step": 0,
                           "choices": statuses[7]["choices"]}  # fmt: skip
    assert all("test/G" in statuses[job]["test"] for job in statuses if job != 7)
    lines = result.stderr.strip().splitlines()
    assert f"error: job 7 ({tmp_path}/sweep/7): this job was told to fail" in lines
    assert lines[-1] == "error: 1 of 16 jobs did not complete"
