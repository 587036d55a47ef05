"""The runs of a sweep: every results.json under some folders, checked, and placed in Table 1's or Table 3's cells.

A job writes results.json when it ends (`segbench.pipeline`): complete with its scores, or failed /
interrupted with its error. A job that never ended has none and is simply absent from the reports.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from segbench.errors import SegbenchError, first_line
from segbench.precision import ComputePath

STATUSES = ("complete", "failed", "interrupted")
SPLITS = ("train", "val", "test")
# The scores every complete run has; BF is computed by the scoring callbacks and may be switched off.
REQUIRED_TEST = ("test/G", "test/C", "test/mIoU")
EFFICIENCY_KEYS = ("model", "params", "storage_multiplier", "stored_bytes", "infer_ms_fp32")


@dataclass(frozen=True)
class Run:
    """One job's folder and its results.json."""

    folder: Path
    results: dict[str, Any]

    @property
    def file(self) -> Path:
        return self.folder / "results.json"

    @property
    def status(self) -> str:
        return self.results.get("status", "complete")

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def model(self) -> str:
        return self.results["choices"]["model"]

    @property
    def balancing(self) -> str:
        return self.results["choices"].get("balancing") or ""

    @property
    def error(self) -> str:
        """The first line of a failed or interrupted job's error; empty for a complete one."""
        return (str(self.results.get("error") or "").strip().splitlines() or [""])[0]

    @property
    def global_step(self) -> int | None:
        return self.results.get("global_step")

    @cached_property  # read once: grouping and naming runs by seed asks for it many times
    def seed(self) -> int | None:
        """The run's seed: its results.json's, else its saved config's (results.json did not always record it)."""
        if "seed" in self.results:
            return self.results["seed"]
        saved = saved_hydra_file(self.folder, "config.yaml")
        return saved.get("seed") if isinstance(saved, dict) else None

    @cached_property
    def compute_path(self) -> str | None:
        """The precision and layout the run computed in, from its saved config (`precision: auto` is resolved
        there at the run's start); None when the run has no saved config."""
        saved = saved_hydra_file(self.folder, "config.yaml")
        precision = (saved.get("trainer") or {}).get("precision") if isinstance(saved, dict) else None
        if precision is None:
            return None
        return ComputePath(str(precision), bool((saved.get("task") or {}).get("channels_last", True))).label

    def setting(self, key: str) -> Any:
        """A config group's choice, or the seed (key "seed")."""
        return self.seed if key == "seed" else self.results.get("choices", {}).get(key)

    def score(self, split: str, metric: str) -> float | None:
        """A score (a fraction) of the selected checkpoint, e.g. score("test", "mIoU"); None when not recorded."""
        return self.results.get(split, {}).get(f"{split}/{metric}")

    def milestones(self) -> dict[int, dict[str, float]]:
        """Test scores at fixed global steps during training (Table 3's iteration points), by step."""
        return {int(step): scores for step, scores in self.results.get("milestones", {}).items()}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_scores(file: Path, where: str, scores: Any) -> None:
    if not isinstance(scores, dict):
        raise SegbenchError(f"{file}: {where} is not a JSON object of scores")
    for key, value in scores.items():
        if not _is_number(value):
            raise SegbenchError(f"{file}: {where}[{key!r}] is {value!r}, not a number")


def read_json_object(file: Path) -> dict[str, Any]:
    """The JSON object in `file`; one line naming the file when it cannot be read or is not a JSON object."""
    try:
        content = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise SegbenchError(f"{file} is not JSON ({error})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SegbenchError(f"cannot read {file}: {error}") from None
    if not isinstance(content, dict):
        raise SegbenchError(f"{file} is not a JSON object")
    return content


def load_run(file: Path) -> Run:
    """A results.json, checked for what the reports read: a bad file stops the report with one line naming it."""
    results = read_json_object(file)
    status = results.get("status", "complete")
    if status not in STATUSES:
        raise SegbenchError(f"{file}: status {status!r} is none of {', '.join(STATUSES)}")
    choices = results.get("choices")
    if not isinstance(choices, dict) or not isinstance(choices.get("model"), str):
        raise SegbenchError(f"{file} has no choices.model (the config choices a job records): which network is it?")
    if "global_step" in results and not isinstance(results["global_step"], int):
        raise SegbenchError(f"{file}: global_step is {results['global_step']!r}, not an integer")
    if status == "complete":
        for split in SPLITS:
            if split in results:
                _check_scores(file, split, results[split])
        missing = [key for key in REQUIRED_TEST if key not in results.get("test", {})]
        if missing:
            raise SegbenchError(f"{file} is a complete run without {', '.join(missing)} in its test scores")
    milestones = results.get("milestones", {})
    if not isinstance(milestones, dict):
        raise SegbenchError(f"{file}: milestones is not a JSON object of {{global step: test scores}}")
    for step, scores in milestones.items():
        if not step.isdigit():
            raise SegbenchError(f"{file}: milestone {step!r} is not a global step")
        _check_scores(file, f"milestones[{step!r}]", scores)
    return Run(file.parent, results)


def varying_choices(runs: Sequence[Run]) -> list[str]:
    """The config groups whose choice differs between the runs (what the comparison is about)."""
    keys = sorted({key for run in runs for key in run.results.get("choices", {})})
    return [key for key in keys if len({str(run.results.get("choices", {}).get(key)) for run in runs}) > 1]


def varying_settings(runs: Sequence[Run]) -> list[str]:
    """What sets the runs apart: the config groups whose choice differs, and "seed" when the seeds do."""
    return varying_choices(runs) + (["seed"] if len({run.seed for run in runs}) > 1 else [])


def find_runs(paths: Sequence[Path]) -> list[Run]:
    """Every results.json under `paths` (folders searched recursively, or results.json files), each read once."""
    runs: dict[Path, Run] = {}
    for path in paths:
        if path.is_file():
            files = [path]
        elif path.is_dir():
            files = sorted(path.rglob("results.json"))
            if not files:
                raise SegbenchError(f"no results.json under {path}")
        else:
            raise SegbenchError(f"{path} does not exist")
        for file in files:
            runs.setdefault(file.resolve(), load_run(file))
    return list(runs.values())


def place(runs: Iterable[Run], description: str) -> dict[tuple[str, str], Run]:
    """The run of each (model, balancing) cell.

    A complete run beats failed or interrupted attempts at the same cell (a retry that finished); of
    several unfinished attempts the last in path order (Hydra's time-stamped folders: the latest) shows.
    Two complete runs of one cell are ambiguous: the report names both rather than pick one.
    """
    cells: dict[tuple[str, str], Run] = {}
    for run in runs:
        key = (run.model, run.balancing)
        other = cells.get(key)
        if other is not None and other.complete and run.complete:
            raise SegbenchError(
                f"two complete runs of {description} cell model={run.model} balancing={run.balancing}: "
                f"{other.file} and {run.file}; pass only one of them"
            )
        if other is None or run.complete or not other.complete:
            cells[key] = run
    return cells


def read_efficiency(path: Path) -> dict[str, dict[str, Any]]:
    """The JSON lines of `src/bench.py jsonl=...` (`make bench`), by model: Table 1's efficiency columns measured."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise SegbenchError(f"cannot read {path}: {error}") from None
    lines: dict[str, dict[str, Any]] = {}
    where: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise SegbenchError(f"{path}:{number} is not JSON ({error})") from None
        if not isinstance(record, dict) or (missing := [key for key in EFFICIENCY_KEYS if key not in record]):
            raise SegbenchError(f"{path}:{number} lacks {', '.join(missing) if isinstance(record, dict) else 'keys'}")
        if (model := record["model"]) in lines:
            raise SegbenchError(
                f"{path}: {model} is measured twice (lines {where[model]} and {number}); keep one session"
            )
        lines[model], where[model] = record, number
    if not lines:
        raise SegbenchError(f"{path} holds no measurements")
    return lines


def saved_hydra_file(folder: Path, name: str) -> Any:
    """A file Hydra saved in `<folder>/.hydra/`, parsed; None when the run has none."""
    path = folder / ".hydra" / name
    if not path.is_file():
        return None
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SegbenchError(f"{path} is not YAML ({first_line(error)})") from None


def train_command(run: Run) -> str | None:
    """The command that re-creates a run, from the overrides Hydra saved beside it."""
    saved = saved_hydra_file(run.folder, "overrides.yaml")
    if saved is None:
        return None
    if not isinstance(saved, list) or not all(isinstance(o, str) for o in saved):
        raise SegbenchError(f"{run.folder / '.hydra' / 'overrides.yaml'} is not a list of overrides")
    given = [o for o in saved if not o.startswith("hydra.")]
    # A run resumed from its own checkpoint is re-created from scratch by the same overrides; where a grid
    # looked for finished jobs does not change what a job trains.
    chosen = [o for o in given if not o.startswith(("ckpt_path=", "finished_runs="))]
    resumed = run.results.get("resumed") or any(o.startswith("ckpt_path=") for o in given)
    note = " (trained in resumed segments)" if resumed else ""
    return "python src/train.py " + " ".join(shlex.quote(o) for o in chosen) + note


def percent(fraction: float | None, decimals: int) -> float | None:
    """A score in percent as the tables show it; NaN (e.g. a class absent from the test set) stays NaN."""
    if fraction is None:
        return None
    return fraction * 100 if math.isnan(fraction) else round(fraction * 100, decimals)


def mixed_precisions(runs: Sequence[Run]) -> list[str]:
    """A warning when the runs computed in more than one precision or layout (`precision: auto` decides per machine
    and network): their times, and to a lesser degree their scores, are then not alike."""
    paths = sorted({run.compute_path for run in runs if run.compute_path})
    if len(paths) < 2:
        return []
    return [
        f"**Mixed precisions:** these runs computed in {len(paths)} different precisions or layouts "
        f"({'; '.join(paths)}; per run in its saved `.hydra/config.yaml`): compare their times with care."
    ]


def settings(runs: Sequence[Run]) -> list[str]:
    """What the runs were trained with, one `name: values` line each: the context a reader needs for the numbers."""

    def values(get) -> str:
        found = sorted({get(run) for run in runs if get(run) not in (None, "")}, key=str)
        if not found:
            return ""
        if len(found) > 2 and all(isinstance(v, int) for v in found):
            return f"{found[0]}–{found[-1]} (per run below)"
        separator = "; " if any("," in str(v) for v in found) else ", "  # values such as "32-true, contiguous"
        return separator.join(str(v) for v in found)

    def resolution(key):
        return lambda run: "x".join(str(v) for v in run.results[key]) if run.results.get(key) else None

    wanted = [
        ("dataset", lambda run: run.results["choices"].get("dataset")),
        ("scale", lambda run: run.results["choices"].get("scale")),
        ("schedule", lambda run: run.results["choices"].get("schedule")),
        ("augment", lambda run: run.results["choices"].get("augment")),
        ("input resolution", resolution("input_resolution")),
        ("scoring resolution", resolution("scoring_resolution")),
        ("epochs trained", lambda run: run.results.get("epochs_trained")),
        ("steps", lambda run: run.results.get("global_step")),
        ("precision", lambda run: run.compute_path),
    ]
    return [f"{name}: {text}" for name, get in wanted if (text := values(get))]
