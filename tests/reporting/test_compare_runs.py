"""The recipe comparison: one row per run, named by the choices that differ, with per-sequence and per-class scores."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml
from conftest import markdown_rows, recorded

from segbench.reporting.compare_runs import main


def write_run(folder: Path, schedule: str, test_miou: float, dusk_miou: float, road_iou: float) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([f"schedule={schedule}", "scale=cpu", "resume=true"])
    )
    results = {
        "status": "complete",
        "choices": {"model": "segnet_basic", "balancing": "median_frequency", "schedule": schedule, "augment": "none"},
        "best_checkpoint": "/somewhere/checkpoints/best-epoch041.ckpt",
        "epochs_trained": 60,
        "global_step": 1860,
        "fit_seconds": 3180.0,
        "input_resolution": [120, 160],
        "scoring_resolution": [360, 480],
        "train": {"train/G": 0.9, "train/C": 0.8, "train/mIoU": 0.6},
        "val": {"val/G": 0.85, "val/C": 0.7, "val/mIoU": 0.5},
        "test": {"test/G": 0.8, "test/C": 0.6, "test/mIoU": test_miou, "test/BF": 0.3,
                 "test/IoU/Road": road_iou, "test/IoU/Sky": 0.88},
        "class_names": ["Sky", "Road"],
        "per_sequence": {"0001TP": {"images": 62, "G": 0.7, "C": 0.5, "mIoU": dusk_miou, "BF": 0.2},
                         "Seq05VD": {"images": 171, "G": 0.82, "C": 0.62, "mIoU": 0.43, "BF": 0.31}},
    }  # fmt: skip
    (folder / "results.json").write_text(json.dumps(recorded(results)))


def test_runs_differing_in_their_schedule_are_compared_row_by_row(tmp_path):
    write_run(tmp_path / "runs" / "b", "poly", test_miou=0.4123, dusk_miou=0.3049, road_iou=0.9)
    write_run(tmp_path / "runs" / "a", "fixed", test_miou=0.3671, dusk_miou=0.2612, road_iou=0.85)
    (tmp_path / "runs" / "failed").mkdir()
    (tmp_path / "runs" / "failed" / "results.json").write_text(
        json.dumps(
            recorded({"status": "failed", "error": "boom", "global_step": 3, "choices": {"model": "segnet_basic"}})
        )
    )
    main([str(tmp_path / "runs"), "--out", str(tmp_path / "recipe"), "--title", "Recipe", "--command", "make it"])
    text = (tmp_path / "recipe.md").read_text()
    rows = markdown_rows(text)
    # only the schedule differs: it names the rows, fixed before poly; the failed run has no row
    fixed = markdown_rows(text, "fixed")[0]
    assert fixed[1:6] == ["60", "53.0", "best-epoch041", "80.0", "60.0"]
    assert "36.7" in fixed and markdown_rows(text, "poly")[0][:2] == ["poly", "60"]
    assert ["fixed", "70.0", "50.0", "26.1", "20.0", "82.0", "62.0", "43.0", "31.0"] in rows  # per sequence
    assert ["Road", "85.0", "90.0"] in rows  # per class, one column a run
    assert "- schedule=fixed: `python src/train.py schedule=fixed scale=cpu resume=true`" in text
    with (tmp_path / "recipe.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["schedule"], r["test mIoU"], r["0001TP mIoU"]) for r in rows] == [
        ("fixed", "36.7", "26.1"),
        ("poly", "41.2", "30.5"),
    ]


def test_runs_differing_only_in_their_seed_are_rows_and_a_spread(tmp_path):
    for seed, miou in ((0, 0.40), (1, 0.42), (2, 0.47)):
        folder = tmp_path / "runs" / f"seed{seed}"
        write_run(folder, "poly", test_miou=miou, dusk_miou=0.3, road_iou=0.9)
        results = json.loads((folder / "results.json").read_text())
        (folder / "results.json").write_text(json.dumps(results | {"seed": seed}))
    main([str(tmp_path / "runs"), "--out", str(tmp_path / "noise"), "--title", "Noise", "--command", "make it"])
    text = (tmp_path / "noise.md").read_text()
    assert [row[0] for row in markdown_rows(text) if row[1:2] == ["60"]] == ["0", "1", "2"]
    # mIoU 40, 42, 47: mean 43.0, sample standard deviation sqrt(13) = 3.6; G the same 80 in each run
    spread = ["0, 1, 2", "80.0 ± 0.0 (80.0–80.0)", "60.0 ± 0.0 (60.0–60.0)", "43.0 ± 3.6 (40.0–47.0)"]
    assert markdown_rows(text, "0, 1, 2")[0][:4] == spread
    assert "- seed=2: `python src/train.py schedule=poly scale=cpu resume=true`" in text


def test_no_spread_without_two_seeds_of_one_setting(tmp_path):
    write_run(tmp_path / "runs" / "b", "poly", test_miou=0.41, dusk_miou=0.3, road_iou=0.9)
    write_run(tmp_path / "runs" / "a", "fixed", test_miou=0.37, dusk_miou=0.3, road_iou=0.9)
    main([str(tmp_path / "runs"), "--out", str(tmp_path / "recipe"), "--command", "make it"])
    assert "Spread over seeds" not in (tmp_path / "recipe.md").read_text()
