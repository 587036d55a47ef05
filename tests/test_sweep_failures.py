"""The multirun's closing check: a job counts as done when it wrote results.json (train), eval.json (eval),
bench.json (bench), export.json (export) or predict.json (predict)."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from segbench.utils.hydra_callbacks import SweepFailures


@pytest.mark.parametrize("done", ["eval.json", "bench.json", "export.json", "predict.json"])
def test_a_sweep_whose_jobs_finished_passes_and_a_job_that_wrote_nothing_fails(done, tmp_path, capsys):
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    for job in ("0", "1"):
        (tmp_path / job / ".hydra").mkdir(parents=True)
        (tmp_path / job / done).write_text(json.dumps({"test/G": 0.5}))
    SweepFailures().on_multirun_end(config)  # two evaluations: nothing to report
    (tmp_path / "2" / ".hydra").mkdir(parents=True)
    with pytest.raises(SystemExit) as stopped:
        SweepFailures().on_multirun_end(config)
    assert stopped.value.code == 1
    printed = capsys.readouterr().err
    assert f"error: {tmp_path / '2'}: no results.json, eval.json, bench.json, export.json or predict.json" in printed
    assert "error: 1 of 3 jobs did not complete" in printed
