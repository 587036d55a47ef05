"""Hydra callbacks: checks that must happen before Hydra itself touches the disk."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from segbench.record.run import read_record


def _check_writable(folder: str, option: str) -> None:
    """Create `folder` and write a probe file in it, or stop with one line naming the option."""
    path = Path(folder)
    probe = path / f".write-probe-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        print(f"error: cannot write the output folder {path} ({option}): {error.strerror or error}", file=sys.stderr)
        raise SystemExit(2) from None


class OutputFolderCheck(Callback):
    """An output folder that cannot be written is one clear line, not Hydra's traceback from its mkdir."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_writable(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_writable(config.hydra.sweep.dir, "hydra.sweep.dir")


# What the other entry points write once a job has done its work (train.py writes results.json, with a status).
OTHER_DONE_FILES = ("eval.json", "bench.json", "export.json", "predict.json")
NOT_DONE = "no " + ", ".join(("results.json", *OTHER_DONE_FILES[:-1])) + f" or {OTHER_DONE_FILES[-1]}"


class SweepFailures(Callback):
    """At the end of a multirun: one line per job whose results.json is not complete, and exit status 1.

    Jobs run to the end whatever the others do (`segbench.utils.isolating_sweep_jobs`); this makes
    the sweep as a whole report that some failed.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        statuses = {}
        for job in sorted(Path(config.hydra.sweep.dir).glob("*/.hydra")):
            run = continued_run(job.parent)
            results = run / "results.json"
            if results.is_file():
                record = read_record(results)
                statuses[run] = (record.status, record.error)
            else:  # the other entry points write their OTHER_DONE_FILES once done
                done = any((run / name).is_file() for name in OTHER_DONE_FILES)
                statuses[run] = ("complete", None) if done else (NOT_DONE, None)
        failed = {run: status for run, status in statuses.items() if status[0] != "complete"}
        if not failed:
            return
        for run, (status, error) in failed.items():
            print(f"error: {run}: {status}: {error}", file=sys.stderr)
        print(f"error: {len(failed)} of {len(statuses)} jobs did not complete", file=sys.stderr)
        raise SystemExit(1)


def write_done_file(cfg: DictConfig, name: str, record: dict) -> Path:
    """`record` as `name` (one of OTHER_DONE_FILES) in the job's output folder, beside its saved config."""
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / name
    path.write_text(json.dumps(record, indent=2))
    return path


CONTINUED = "continued.json"


def continued_run(job_folder: Path) -> Path:
    """The run folder a job's work went to: an earlier run it resumed or found finished (resume=true), else its own."""
    pointer = job_folder / CONTINUED
    return Path(json.loads(pointer.read_text())["run"]) if pointer.is_file() else job_folder
