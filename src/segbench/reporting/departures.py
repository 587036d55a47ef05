"""Where a Table 3 grid's runs differ from Sec. 4's setting, said in the report itself, from the runs' own facts.

Sec. 4 (Table 3's caption): encoders from ImageNet's VGG16, 3,433 road-scene images for training, 360x480 inputs,
a fixed learning rate of 1e-3, scores at 40 K, 80 K and > 80 K iterations. A run's record and its saved config say
what it did instead; a smoke-scale grid says nothing (its numbers mean nothing anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from segbench.data.camvid import SPLIT_SIZES
from segbench.reporting.grid_runs import Run, saved_hydra_file

PAPER_TRAIN_IMAGES = 3_433  # Table 3's caption: "3,433 ... road scene images"
PAPER_RESOLUTION = [360, 480]
PAPER_LR = 1e-3
PAPER_SETTING = (
    "python src/train.py --multirun experiment=table3 scale=paper trainer=gpu trainer.max_steps=120000 "
    "model.encoder.pretrained=/path/to/vgg16_bn.pth"
)


def _config(run: Run) -> dict[str, Any]:
    return saved_hydra_file(run.folder, "config.yaml") or {}


def _size(resolution: list[int] | None) -> str | None:
    return "x".join(map(str, resolution)) if resolution else None


def _values(runs: Sequence[Run], read) -> list[Any]:
    return list(dict.fromkeys(str(value) for run in runs if (value := read(run)) is not None))


def table3_departures(runs: Sequence[Run]) -> list[str]:
    """Markdown lines: a heading-less list of the ways the complete runs depart from Sec. 4 ([] for a smoke grid)."""
    trained = [run for run in runs if run.complete and not run.record.refined_from]
    if not trained or any(run.record.choices.get("scale") == "smoke" for run in trained):
        return []
    items = []
    starts = _values(trained, lambda run: _config(run).get("model", {}).get("encoder", {}).get("pretrained") or "He")
    if starts == ["He"]:
        items.append(
            "**Initialisation**: He initialisation, not ImageNet's VGG16 (Sec. 4's encoders start from it): no weights "
            "can be fetched here. The VGG16 loader is tested; with torchvision's `vgg16_bn` file the paper's setting "
            f"is `{PAPER_SETTING}`."
        )
    if _values(trained, lambda run: run.record.choices.get("dataset")) == ["camvid"]:
        items.append(
            f"**Training set**: CamVid's {SPLIT_SIZES['train']} training images, not the {PAPER_TRAIN_IMAGES:,} road "
            "scenes of Table 3's caption; validation and test are CamVid's."
        )
    steps = sorted({run.global_step for run in trained})
    milestones = sorted({step for run in trained for step in run.milestones()})
    if steps and steps[-1] < 40_000:
        at = f", scored also at steps {', '.join(f'{s:,}' for s in milestones)}" if milestones else ""
        items.append(
            f"**Budget**: {' / '.join(f'{s:,}' for s in steps)} iterations at batch 5{at}: not the paper's 40 K, 80 K "
            "and > 80 K."
        )

    sizes = _values(trained, lambda run: _size(run.record.input_resolution))
    if sizes and sizes != ["x".join(map(str, PAPER_RESOLUTION))]:
        scored = " / ".join(_values(trained, lambda run: _size(run.record.scoring_resolution)))
        items.append(f"**Resolution**: {' / '.join(sizes)} inputs, not 360x480; scored on the {scored} label files.")
    rates = _values(trained, lambda run: _config(run).get("task", {}).get("optimizer", {}).get("lr"))
    schedules = _values(trained, lambda run: run.record.choices.get("schedule"))
    if schedules != ["fixed"] or rates != [str(PAPER_LR)]:
        items.append(
            f"**Learning rate**: {' / '.join(rates) or 'not recorded'} with schedule={' / '.join(schedules)}, not "
            f"the paper's fixed {PAPER_LR:g}."
        )
    refined = [run for run in runs if run.complete and run.record.refined_from and run.record.refine]
    for kernels in _values(refined, lambda run: _kernels(run.record.refine)):
        items.append(
            f"**Dense CRF**: its kernels stated, not grid-searched on training images as Sec. 4's were: {kernels}."
        )
    return ["Where this grid departs from Sec. 4:", "", *(f"- {item}" for item in items)] if items else []


def _kernels(refine: dict[str, Any]) -> str:
    """`iterations 10, bilateral_weight 4.0, ...`: a refinement's settings as its config names them."""
    return ", ".join(f"{name} {value}" for name, value in refine.items() if not name.startswith("_"))
