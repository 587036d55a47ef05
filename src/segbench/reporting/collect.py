"""Copy the small, committable files of finished runs out of `logs/` into a results folder of the repository.

python -m segbench.reporting.collect logs/table1 --where scale=cpu --out docs/results/table1-camvid-cpu/runs

Each run folder found below the given paths (its `results.json`, any status) is copied as
`<out>/<name>/` with its results.json, resolved config and overrides (`.hydra/`), CSV metrics and
predicted label maps — never checkpoints or W&B folders — so that reports re-create from the
repository alone. `<name>` joins the config choices that differ between the runs
(e.g. `model=fcn_basic,balancing=natural`). Copying again replaces a run's copy (a resumed run
brings its later results); the latest run of each name wins.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from segbench.errors import SegbenchError

# Relative globs of what a run folder keeps that reports read; all of it small text or PNG.
KEPT = (".hydra/config.yaml", ".hydra/overrides.yaml", "csv/version_*/metrics.csv", "predictions/*.png")


def _results(run: Path) -> dict:
    try:
        return json.loads((run / "results.json").read_text())
    except json.JSONDecodeError as error:
        raise SegbenchError(f"{run / 'results.json'} is not JSON ({error})") from None


def run_names(runs: list[Path]) -> dict[Path, str]:
    """A folder name per run from the choices in which the runs differ (`run` when they differ in none)."""
    choices = {run: _results(run).get("choices", {}) for run in runs}
    keys = sorted({key for chosen in choices.values() for key in chosen})
    varying = [key for key in keys if len({str(chosen.get(key)) for chosen in choices.values()}) > 1]
    names = {}
    for run in runs:
        names[run] = ",".join(f"{key}={choices[run].get(key)}" for key in varying).replace("/", "-") or "run"
    return names


def collect(paths: list[Path], out: Path, where: dict[str, str] | None = None) -> list[Path]:
    """Copy every run below `paths` whose config choices match `where` (e.g. {"scale": "cpu"}) into `out`;
    returns the copies, one per name (the newest run wins)."""
    runs = sorted({file.parent for path in paths for file in Path(path).glob("**/results.json")})
    wanted = {key: str(value) for key, value in (where or {}).items()}
    runs = [run for run in runs if all(str(_results(run).get("choices", {}).get(k)) == v for k, v in wanted.items())]
    if not runs:
        condition = f" with {wanted}" if wanted else ""
        raise SegbenchError(f"no results.json{condition} below {', '.join(map(str, paths))}")
    newest: dict[str, Path] = {}
    finished_at = {run: (run / "results.json").stat().st_mtime for run in runs}
    for run, name in run_names(runs).items():
        if name not in newest or finished_at[run] > finished_at[newest[name]]:
            newest[name] = run
    copies = []
    for name, run in sorted(newest.items()):
        copy = out / name
        shutil.rmtree(copy, ignore_errors=True)
        copy.mkdir(parents=True)
        for kept in [Path("results.json"), *(p.relative_to(run) for pattern in KEPT for p in run.glob(pattern))]:
            (copy / kept).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run / kept, copy / kept)
        _forget_local_paths(copy / "results.json")
        copies.append(copy)
    return copies


def _forget_local_paths(results_file: Path) -> None:
    """The selected checkpoint is named by file only: the folder it was in is not part of the repository."""
    results = json.loads(results_file.read_text())
    if results.get("best_checkpoint"):
        results["best_checkpoint"] = Path(results["best_checkpoint"]).name
    results_file.write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run, sweep or task folders under logs/")
    parser.add_argument("--out", type=Path, required=True, help="the results folder to copy into")
    parser.add_argument("--where", action="append", default=[], help="GROUP=CHOICE: only runs with that choice")
    args = parser.parse_args()
    try:
        if bad := [w for w in args.where if "=" not in w]:
            raise SegbenchError(f"--where {bad[0]}: expected GROUP=CHOICE, e.g. --where scale=cpu")
        copies = collect(args.runs, args.out, dict(w.split("=", 1) for w in args.where))
    except SegbenchError as error:
        raise SystemExit(f"error: {error}") from None
    for copy in copies:
        print(copy)


if __name__ == "__main__":
    main()
