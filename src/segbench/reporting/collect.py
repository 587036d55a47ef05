"""Copy the small, committable files of finished runs out of `logs/` into a results folder of the repository.

python -m segbench.reporting.collect logs/table1 --where scale=cpu --out docs/results/table1-camvid-cpu/runs

Each run folder found below the given paths (its `results.json`, any status) is copied as
`<out>/<name>/` with its results.json, resolved config and overrides (`.hydra/`), CSV metrics and
predicted label maps — never checkpoints or W&B folders — so that reports re-create from the
repository alone. `<name>` joins the config choices that differ between the runs, and the seed when it does
(e.g. `model=fcn_basic,balancing=natural`, `seed=1`). Copying again replaces a run's copy (a resumed run
brings its later results); the latest run of each name wins. A copy's results.json is brought up to the current
record (`segbench.record.migrate`: e.g. the paper's name of a run by a job still running older code), so that the
reports read every committed run alike.

A grid collected over several sittings keeps what was copied before: the copies already in `<out>`
take part like runs in `logs/` (a copy keeps its run's time, so the run in `logs/` wins a tie), and all
are renamed together when a new run makes more choices differ (the first job of a grid is `run`, the
second `balancing=natural`, …), so `<out>` never holds a stale name beside the new one.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from segbench.errors import SegbenchError
from segbench.record.migrate import migrate_run
from segbench.record.per_image import PER_IMAGE_FILE
from segbench.record.run import read_record, write_record
from segbench.reporting.grid_runs import Run, chosen, find_runs, parse_where, varying_settings

# Relative globs of what a run folder keeps that reports read; all of it small text, PNG or the compressed per-image
# record (tens of kB).
KEPT = (".hydra/config.yaml", ".hydra/overrides.yaml", "csv/version_*/metrics.csv", "predictions/*.png", PER_IMAGE_FILE)


def collect(paths: list[Path], out: Path, where: dict[str, str] | None = None) -> list[Path]:
    """Copy every run below `paths` whose config choices match `where` (e.g. {"scale": "cpu"}) into `out`;
    returns the copies, one per name (the newest run wins)."""
    wanted = {key: str(value) for key, value in (where or {}).items()}
    found = find_runs(paths)
    runs = [run for run in found if chosen(run, wanted)]
    if not runs:
        condition = f" with {wanted}" if wanted else ""
        raise SegbenchError(f"no results.json{condition} below {', '.join(map(str, paths))}")
    already_copied = [run for run in find_runs([out]) if run.file.resolve() not in {r.file.resolve() for r in found}] \
        if any(out.rglob("results.json")) else []  # fmt: skip
    runs += already_copied
    varying = varying_settings(runs)
    newest: dict[str, Run] = {}
    for run in runs:
        name = ",".join(f"{key}={run.setting(key)}" for key in varying).replace("/", "-") or "run"
        if name not in newest or run.file.stat().st_mtime > newest[name].file.stat().st_mtime:
            newest[name] = run
    # Copied into a fresh folder first: a copy already in `out` may be the source of a renamed one.
    staging = out.with_name(out.name + ".collecting")
    shutil.rmtree(staging, ignore_errors=True)
    for name, run in newest.items():
        copy_run(run, staging / name)
    for stale in {run.folder for run in already_copied}:
        shutil.rmtree(stale)
    for name in newest:
        shutil.rmtree(out / name, ignore_errors=True)
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).rename(out / name)
    shutil.rmtree(staging)
    return [out / name for name in sorted(newest)]


def copy_run(run: Run, copy: Path) -> Path:
    """The run's small files (KEPT and results.json, its checkpoint named by file only) into `copy`, replaced."""
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    small = [path for pattern in KEPT for path in run.folder.glob(pattern)]
    for kept in [Path("results.json"), *(path.relative_to(run.folder) for path in small)]:
        (copy / kept).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(run.folder / kept, copy / kept)
    # Migrated from its raw file, before anything rewrites it as a typed record that would fill the defaults.
    migrate_run(copy / "results.json")
    _forget_local_paths(copy / "results.json")
    source_time = run.file.stat()
    os.utime(copy / "results.json", ns=(source_time.st_atime_ns, source_time.st_mtime_ns))  # the run's time, kept
    return copy


def _forget_local_paths(results_file: Path) -> None:
    """The selected checkpoint is named by file only: the folder it was in is not part of the repository."""
    record = read_record(results_file)
    if record.best_checkpoint:
        write_record(record.model_copy(update={"best_checkpoint": Path(record.best_checkpoint).name}), results_file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run, sweep or task folders under logs/")
    parser.add_argument("--out", type=Path, required=True, help="the results folder to copy into")
    parser.add_argument("--where", action="append", default=[], help="GROUP=CHOICE: only runs with that choice")
    args = parser.parse_args()
    try:
        copies = collect(args.runs, args.out, parse_where(args.where))
    except SegbenchError as error:
        raise SystemExit(f"error: {error}") from None
    for copy in copies:
        print(copy)


if __name__ == "__main__":
    main()
