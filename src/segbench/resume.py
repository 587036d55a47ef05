"""Finding the interrupted run that `resume=true` continues: the latest earlier run of the same command."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from segbench.record.run import is_complete

# Overrides that say how to start or how many CPU threads to use, not what to train: two commands differing only
# in these are the same run (a run begun two jobs at a time on one thread each may finish alone on two).
STARTING_KEYS = ("resume", "ckpt_path", "threads", "finished_runs")


def _what_it_trains(overrides: list[str]) -> list[str]:
    def key(override: str) -> str:
        return override.split("=", 1)[0].lstrip("+~")

    return sorted(o for o in overrides if not key(o).startswith("hydra.") and key(o) not in STARTING_KEYS)


def _saved_overrides(run: Path) -> list[str]:
    return yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text()) or []


def find_previous_run(task_dir: Path, current: Path, finished_runs: Sequence[Path] = ()) -> Path | None:
    """The most recent run under `task_dir` (runs and multirun jobs) made with the same overrides as `current`.

    Both sides are the overrides as Hydra saved them in `<run>/.hydra/overrides.yaml`, as typed
    (an interpolation such as `${oc.env:...}` is compared as written, not as resolved).
    Only runs that left something to continue count: a `checkpoints/last.ckpt` or a finished
    `results.json`. Under the folders `finished_runs` (copies made by `segbench.reporting.collect`, e.g.
    a grid's committed runs) only complete runs count: a grid continued on a machine without the
    earlier sittings' logs/ skips the jobs already committed. None when there is none.
    """
    wanted = _what_it_trains(_saved_overrides(current))
    found = []
    searched = [(task_dir, False), *((Path(folder), True) for folder in finished_runs)]
    for folder, finished_only in searched:
        for saved in folder.glob("**/.hydra/overrides.yaml"):
            run = saved.parent.parent
            if run.resolve() == current.resolve() or _what_it_trains(_saved_overrides(run)) != wanted:
                continue
            if finished_only:
                progress = [run / "results.json"] if is_complete(run / "results.json") else []
            else:
                progress = [p for p in (run / "results.json", run / "checkpoints" / "last.ckpt") if p.is_file()]
            if progress:
                found.append((max(p.stat().st_mtime for p in progress), run))
    return max(found)[1] if found else None
