"""The runs of a sweep: every results.json under some folders, checked, and placed in Table 1's or Table 3's cells.

A job writes results.json when it ends (`segbench.pipeline`): complete with its scores, or failed /
interrupted with its error. A job that never ended has none and is simply absent from the reports.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from segbench.errors import SegbenchError, first_line
from segbench.record.per_image import PerImageRecord
from segbench.record.provenance import NOT_RECORDED
from segbench.record.run import RunRecord, read_record

EFFICIENCY_KEYS = ("model", "params", "storage_multiplier", "stored_bytes", "infer_ms_fp32")


@dataclass(frozen=True)
class Run:
    """One job's folder and its record (results.json)."""

    folder: Path
    record: RunRecord

    @property
    def file(self) -> Path:
        return self.folder / "results.json"

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def balancing(self) -> str:
        return self.record.choices.get("balancing") or ""

    @property
    def error(self) -> str:
        """The first line of a failed or interrupted job's error; empty for a complete one."""
        return (str(self.record.error or "").strip().splitlines() or [""])[0]

    @property
    def global_step(self) -> int:
        return self.record.global_step

    @property
    def seed(self) -> int | None:
        return self.record.seed

    @property
    def compute_path(self) -> str | None:
        """The precision and layout the run computed in (`precision: auto` is resolved at the run's start)."""
        return self.record.compute_path.label if self.record.compute_path else None

    def setting(self, key: str) -> Any:
        """A config group's choice, or the seed (key "seed")."""
        return self.seed if key == "seed" else self.record.choices.get(key)

    def score(self, split: str, metric: str) -> float | None:
        """A score (a fraction) of the selected checkpoint, e.g. score("test", "mIoU"); None when not recorded."""
        return getattr(self.record, split).get(f"{split}/{metric}")

    def milestones(self) -> dict[int, dict[str, float]]:
        """Test scores at fixed global steps during training (Table 3's iteration points), by step."""
        return {int(step): scores for step, scores in self.record.milestones.items()}

    def per_image(self) -> PerImageRecord | None:
        """The per-image record of its test split (None for a run that kept none)."""
        return PerImageRecord.load(self.folder / self.record.per_image) if self.record.per_image else None


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
    """A results.json, read as a typed record: a bad file stops the report with one line naming it and the field."""
    return Run(file.parent, read_record(file))


def parse_where(conditions: Sequence[str]) -> dict[str, str]:
    """`--where GROUP=CHOICE` options as {group: choice}; one line naming a malformed one."""
    if bad := [condition for condition in conditions if "=" not in condition]:
        raise SegbenchError(f"--where {bad[0]}: expected GROUP=CHOICE, e.g. --where scale=cpu")
    return dict(condition.split("=", 1) for condition in conditions)


def chosen(run: Run, where: Mapping[str, object]) -> bool:
    """Whether the run's config choices are those of `where` (e.g. {"scale": "cpu"})."""
    return all(str(run.record.choices.get(key)) == str(value) for key, value in where.items())


def varying_choices(runs: Sequence[Run]) -> list[str]:
    """The config groups whose choice differs between the runs (what the comparison is about)."""
    keys = sorted({key for run in runs for key in run.record.choices})
    return [key for key in keys if len({str(run.record.choices.get(key)) for run in runs}) > 1]


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


def _seed_order(run: Run) -> tuple[bool, int]:
    return (run.seed is None, run.seed or 0)


def place(runs: Iterable[Run], description: str) -> dict[tuple[str, str], Run]:
    """The run each (model, balancing) cell shows for its status and steps: of its complete runs (its seeds,
    `seeds`) the one of the lowest seed.

    A complete run beats failed or interrupted attempts at the same cell (a retry that finished); of
    several unfinished attempts the last in path order (Hydra's time-stamped folders: the latest) shows.
    Two complete runs of one cell with the same seed are ambiguous: the report names both rather than pick one.
    """
    runs = list(runs)
    complete = seeds(runs, description)
    cells: dict[tuple[str, str], Run] = {}
    for run in runs:
        key = (run.model, run.balancing)
        other = cells.get(key)
        if other is None or run.complete or not other.complete:
            cells[key] = run
    return cells | {key: by_seed[0] for key, by_seed in complete.items()}


def seeds(runs: Iterable[Run], description: str) -> dict[tuple[str, str], list[Run]]:
    """The complete runs of each (model, balancing) cell by seed (a grid with `seed=0,1,2` holds three), refusing
    two of one seed in one line naming both files."""
    cells: dict[tuple[str, str], list[Run]] = {}
    for run in (run for run in runs if run.complete):
        by_seed = cells.setdefault((run.model, run.balancing), [])
        if other := next((other for other in by_seed if other.seed == run.seed), None):
            seed = "" if run.seed is None else f" seed={run.seed}"
            raise SegbenchError(
                f"two complete runs of {description} cell model={run.model} balancing={run.balancing}{seed}: "
                f"{other.file} and {run.file}; pass only one of them"
            )
        by_seed.append(run)
    return {key: sorted(by_seed, key=_seed_order) for key, by_seed in cells.items()}


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
    """The command that re-creates a run, from the overrides Hydra saved beside it; for a run that was not trained but
    scored with a test-time refinement (segbench.refined_runs), the command that scored it."""
    if run.record.refined_from:
        refine = (run.record.refine or {}).get("_target_", "a refinement")
        return (
            f"python -m segbench.refined_runs <runs> --network {run.record.refined_from} --refine <option> "
            f"--as {run.model} (not trained: the {run.record.refined_from} run's checkpoints scored with {refine})"
        )
    saved = saved_hydra_file(run.folder, "overrides.yaml")
    if saved is None:
        return None
    if not isinstance(saved, list) or not all(isinstance(o, str) for o in saved):
        raise SegbenchError(f"{run.folder / '.hydra' / 'overrides.yaml'} is not a list of overrides")
    given = [o for o in saved if not o.startswith("hydra.")]
    # A run resumed from its own checkpoint is re-created from scratch by the same overrides; where a grid
    # looked for finished jobs does not change what a job trains.
    chosen = [o for o in given if not o.startswith(("ckpt_path=", "finished_runs="))]
    resumed = run.record.resumed or any(o.startswith("ckpt_path=") for o in given)
    note = " (trained in resumed segments)" if resumed else ""
    return "python src/train.py " + " ".join(shlex.quote(o) for o in chosen) + note


def percent(fraction: float | None, decimals: int) -> float | None:
    """A score in percent as the tables show it; NaN (e.g. a class absent from the test set) stays NaN."""
    if fraction is None:
        return None
    return fraction * 100 if math.isnan(fraction) else round(fraction * 100, decimals)


def unlike_runs(runs: Sequence[Run]) -> list[str]:
    """A warning for each thing the runs differ in that a grid does not mean to vary: the precision or layout
    (`precision: auto` decides per machine and network), the machine and the torch release. Their times are then not
    alike, nor, to a lesser degree, their scores: a reuse of runs from elsewhere (a grid's anchors) shows here."""
    paths = sorted({run.compute_path for run in runs if run.compute_path})
    lines = []
    if len(paths) > 1:
        lines.append(
            f"**Mixed precisions:** these runs computed in {len(paths)} different precisions or layouts "
            f"({'; '.join(paths)}; per run in its saved `.hydra/config.yaml`): compare their times with care."
        )
    provenances = [run.record.provenance for run in runs]
    machines = sorted({provenance.machine for provenance in provenances} - {NOT_RECORDED})
    if len(machines) > 1:
        lines.append(
            f"**Mixed machines:** these runs trained on {len(machines)} kinds of machine ({'; '.join(machines)}): "
            "their fit and inference times compare only within one machine."
        )
    torches = sorted({p.versions.get("torch", NOT_RECORDED) for p in provenances} - {NOT_RECORDED})
    if len(torches) > 1:
        lines.append(
            f"**Mixed torch releases:** these runs trained with torch {', '.join(torches)}: kernels, and so times "
            "and low-order digits, differ between releases."
        )
    return lines


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
        return lambda run: "x".join(str(v) for v in getattr(run.record, key) or []) or None

    def choice(key):
        return lambda run: run.record.choices.get(key)

    wanted = [
        ("dataset", choice("dataset")),
        ("scale", choice("scale")),
        ("schedule", choice("schedule")),
        ("augment", choice("augment")),
        ("input resolution", resolution("input_resolution")),
        ("scoring resolution", resolution("scoring_resolution")),
        ("epochs trained", lambda run: run.record.epochs_trained),
        ("steps", lambda run: run.record.global_step),
        ("precision", lambda run: run.compute_path),
        ("trained with", lambda run: run.record.provenance.summary()),
    ]
    return [f"{name}: {text}" for name, get in wanted if (text := values(get))]
