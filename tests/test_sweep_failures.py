"""The multirun's closing check: a job counts as done when it wrote results.json (train) or eval.json (eval)."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from segbench.utils.hydra_callbacks import SweepFailures


def test_an_eval_sweep_whose_jobs_scored_passes_and_a_job_that_wrote_nothing_fails(tmp_path, capsys):
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    for job in ("0", "1"):
        (tmp_path / job / ".hydra").mkdir(parents=True)
        (tmp_path / job / "eval.json").write_text(json.dumps({"test/G": 0.5}))
    SweepFailures().on_multirun_end(config)  # two evaluations: nothing to report
    (tmp_path / "2" / ".hydra").mkdir(parents=True)
    with pytest.raises(SystemExit) as stopped:
        SweepFailures().on_multirun_end(config)
    assert stopped.value.code == 1
    assert "error: 1 of 3 jobs did not complete" in capsys.readouterr().err
