"""One epoch of `make train` (the quickstart) in each precision, as a user runs it (`make bench-epoch`).

    python -m segbench.benchmarks.train_epoch --json docs/results/train-epoch.json

Each precision is a fresh `src/train.py experiment=quickstart trainer.max_epochs=1` in its own process: `auto`
(with an empty probe cache, so its time includes the probe), and the named ones it chooses between. The fit time
is Lightning's (training, the BN-statistics pass and validation of the epoch); the wall time is the whole command
(start-up, data, fitting, scoring the checkpoint). `segbench.reporting.performance` shows them beside the
network-level measurements of `make bench-perf`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from segbench.errors import SegbenchError
from segbench.precision import onednn_bf16_kernels
from segbench.record import provenance
from segbench.record.run import RunRecord, dump, read_record
from segbench.utils.config import CONF_DIR

TRAIN = CONF_DIR.parent / "src" / "train.py"
PRECISIONS = ("auto", "32-true", "bf16-mixed")


def _quickstart(workdir: Path, name: str, *overrides: str) -> tuple[RunRecord, float]:
    """results.json and wall seconds of `src/train.py experiment=quickstart <overrides>` in workdir/name."""
    run_dir = workdir / name
    command = [sys.executable, str(TRAIN), "experiment=quickstart", "logger=csv", "dataset.progress=false"]
    command += ["saved_predictions=0", f"hydra.run.dir={run_dir}", *overrides]
    env = {**os.environ, "SEGBENCH_CACHE": str(workdir / "cache"), "WANDB_MODE": "disabled"}
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SegbenchError(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    return read_record(run_dir / "results.json"), wall


def one_epoch(precision: str, workdir: Path) -> dict:
    """Train the quickstart for one epoch in `precision`; its results.json's timing and compute path."""
    record, wall = _quickstart(workdir, precision, "trainer.max_epochs=1", f"trainer.precision={precision}")
    return {
        "precision": precision,
        "compute_path": dump(record.compute_path),
        "steps": record.global_step,
        "fit_seconds": record.fit_seconds,
        "wall_seconds": wall,
    }


def measure(precisions: tuple[str, ...] = PRECISIONS) -> dict:
    """Every precision's epoch, one after another on an otherwise idle machine. A first fp32 step generates the
    synthetic data (once, where train.py keeps it) so that no timed run includes that."""
    with tempfile.TemporaryDirectory() as workdir:
        _quickstart(Path(workdir), "data", "trainer.fast_dev_run=true", "trainer.precision=32-true")
        epochs = [one_epoch(precision, Path(workdir)) for precision in precisions]
    return {
        "provenance": provenance.collect().model_dump(),
        "onednn_bf16_kernels": onednn_bf16_kernels(),
        "epochs": epochs,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="write the measurements here")
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS))
    args = parser.parse_args(argv)
    results = measure(tuple(args.precisions))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
