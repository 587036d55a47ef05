"""The records a run writes and every report reads: results.json (train.py) and eval.json (eval.py).

One typed schema on both sides, so that the writer and the readers cannot drift: the pipeline builds a
`RunRecord` / `EvalRecord` and writes it; reports read it back with `read_record`, which names the file and
the field at fault in one line. Scores are fractions keyed `<split>/<measure>` (Sec. 3.3's G, C, mIoU, BF);
the per-image record of the test split lies beside the file (`per_image`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from segbench.errors import SegbenchError
from segbench.record.per_image import PerImageRecord
from segbench.record.provenance import Provenance

Status = Literal["complete", "failed", "interrupted"]
Scores = dict[str, float]
# The scores every complete run has; BF is computed by the scoring callbacks and may be switched off.
REQUIRED_TEST = ("test/G", "test/C", "test/mIoU")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComputePathRecord(_Record):
    """The precision and memory layout a run computed in, and how they were chosen (`precision: auto`)."""

    precision: str
    channels_last: bool
    decided_by: str  # "explicit", "probe", "cache", "cuda", "the checkpoint's", ...; "not recorded"
    probe: str | None = None  # what the probe timed
    probe_ms: dict[str, float | None] | None = None  # each candidate's ms per step (None: stopped as too slow)
    note: str | None = None

    @property
    def label(self) -> str:
        return f"{self.precision}, {'channels-last' if self.channels_last else 'contiguous'}"


class SequenceScores(_Record):
    """One video sequence of the test split (CamVid's dusk 0001TP and day Seq05VD), scored in the same pass."""

    model_config = ConfigDict(extra="allow")  # G, C, mIoU, BF (fractions)

    images: int


class RunRecord(_Record):
    """results.json: what one training job produced. A failed or interrupted job records its status, error and
    step; a complete one its selected checkpoint's scores on each split and the rest."""

    status: Status
    choices: dict[str, str | None]  # the option of each config group (model, dataset, balancing, ...)
    provenance: Provenance
    error: str | None = None  # first line, for a job that did not complete
    global_step: int = 0
    seed: int | None = None
    # the model config's meta.paper_name: the row of the paper's tables it is compared with (None: none)
    paper_name: str | None = None
    params: int | None = None
    # the network's cost in the run's compute path at its input size (stored bytes at batch 1, median inference ms)
    stored_bytes: int | None = None
    infer_ms: float | None = None
    infer_input: list[int] | None = None
    best_checkpoint: str | None = None  # the checkpoint selected by validation G (Sec. 3.3); "" when none kept
    epochs_trained: int | None = None
    input_resolution: list[int] | None = None  # the network's input size
    scoring_resolution: list[int] | None = None  # the label size scored at (Sec. 3.3: the native one)
    fit_seconds: float | None = None  # wall time of the fitting loop, across resumed segments
    resumed: bool = False  # trained in segments (resume=true or ckpt_path=)
    compute_path: ComputePathRecord | None = None
    train: Scores = {}
    val: Scores = {}
    test: Scores = {}
    class_names: list[str] = []
    test_confusion: list[list[int]] = []  # rows: truth, columns: prediction
    per_sequence: dict[str, SequenceScores] = {}  # {} when the test split has one sequence
    milestones: dict[str, Scores] = {}  # test scores at fixed global steps (Table 3's iteration points)
    per_image: str | None = None  # the per-image record's file name, beside this file
    # Not trained: the checkpoints of the run in this folder (its name) scored again with a test-time refinement
    # (python -m segbench.refined_runs; Table 3's DeepLab-LargeFOV-denseCRF), and that refinement's config.
    refined_from: str | None = None
    refine: dict[str, Any] | None = None

    @field_validator("choices")
    @classmethod
    def _names_a_model(cls, choices: dict[str, str | None]) -> dict[str, str | None]:
        if not isinstance(choices.get("model"), str):
            raise ValueError("no model: which network is it?")
        return choices

    @field_validator("milestones")
    @classmethod
    def _steps(cls, milestones: dict[str, Scores]) -> dict[str, Scores]:
        for step in milestones:
            if not step.isdigit():
                raise ValueError(f"milestone {step!r} is not a global step")
        return milestones

    @model_validator(mode="after")
    def _complete_runs_have_test_scores(self) -> RunRecord:
        if self.status == "complete" and (missing := [key for key in REQUIRED_TEST if key not in self.test]):
            raise ValueError(f"a complete run without {', '.join(missing)} in its test scores")
        return self

    @property
    def model(self) -> str:
        return str(self.choices["model"])

    @property
    def variant_name(self) -> str:
        """How reports name the variant: its paper name where it has one, else its `model=` option."""
        return self.paper_name or str(self.choices["model"])


class EvalRecord(_Record):
    """eval.json: a checkpoint scored on a data set's test split (eval.py)."""

    model_config = ConfigDict(extra="allow")  # test/<measure>, test/accuracy/<class>, test_deterministic/...

    ckpt_path: str
    dataset: str
    provenance: Provenance
    input_resolution: list[int]
    scoring_resolution: list[int]
    compute_path: ComputePathRecord | None = None  # None: not recorded (an evaluation from before it was)
    class_names: list[str]
    confusion: list[list[int]]
    per_sequence: dict[str, SequenceScores] = {}
    mc_samples: int | None = None
    refine: dict[str, Any] | None = None  # a test-time refinement added to the network for this scoring (refine=)
    entropy_histogram: dict[str, list[float]] | None = None
    per_image: str | None = None

    def scores(self, split: str = "test") -> Scores:
        """The `<split>/<measure>` scores it holds."""
        return {key: value for key, value in (self.model_extra or {}).items() if key.startswith(f"{split}/")}


RecordType = TypeVar("RecordType", RunRecord, EvalRecord)


def read_record(file: Path, kind: type[RecordType] = RunRecord) -> RecordType:
    """The record in `file`; one line naming the file and the first field at fault when it is broken or foreign."""
    try:
        content = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise SegbenchError(f"{file} is not JSON ({error})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SegbenchError(f"cannot read {file}: {error}") from None
    if not isinstance(content, dict):
        raise SegbenchError(f"{file} is not a JSON object")
    try:
        return kind.model_validate(content)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(the record)"
        given = (
            f" (got {first['input']!r})" if first["type"] != "missing" and not isinstance(first["input"], dict) else ""
        )
        count = error.error_count()
        more = f"; {count - 1} more field(s) at fault" if count > 1 else ""
        raise SegbenchError(f"{file}: {field}: {first['msg']}{given}{more}") from None


def write_record(record: BaseModel, file: Path, per_image: PerImageRecord | None = None) -> Path:
    """`record` as JSON in `file`, and its per-image record beside it; atomically, so that a reader never sees half
    a file (the per-image file first: a record names only a file that is there)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    if per_image is not None:
        per_image.save(file.parent / str(record.per_image))
    partial = file.with_name(f"{file.name}.tmp-{os.getpid()}")
    partial.write_text(record.model_dump_json(indent=2) + "\n")
    partial.replace(file)
    return file


def is_complete(file: Path) -> bool:
    """Whether `file` is the results.json of a finished job (a failed or interrupted one records its status)."""
    return file.is_file() and read_record(file).status == "complete"


def dump(record: BaseModel) -> dict[str, Any]:
    """The record as the JSON object it is written as."""
    return json.loads(record.model_dump_json())
