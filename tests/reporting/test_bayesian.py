"""The Bayesian SegNet study: the trained run and its MC evaluations collected, then one row per pass."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import recorded
from PIL import Image

from segbench.errors import SegbenchError
from segbench.metrics import Histogram
from segbench.reporting.bayesian import collect, main, write_example


def scores(prefix: str, g: float, miou: float) -> dict[str, float]:
    return {f"{prefix}/G": g, f"{prefix}/C": 0.5, f"{prefix}/mIoU": miou, f"{prefix}/BF": 0.25}


def write_training(folder: Path, checkpoint: Path) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["model=bayesian/segnet_basic", "scale=cpu"]))
    results = {
        "status": "complete",
        "choices": {"model": "bayesian/segnet_basic", "scale": "cpu", "dataset": "camvid"},
        "best_checkpoint": str(checkpoint),
        "epochs_trained": 60,
        "global_step": 1860,
        "test": scores("test", 0.7, 0.33),
        "per_sequence": {"0001TP": {"images": 1, "G": 0.6, "C": 0.4, "mIoU": 0.222, "BF": 0.2}},
    }
    (folder / "results.json").write_text(json.dumps(recorded(results)))


def write_evaluation(folder: Path, checkpoint: Path, samples: int, miou: float, right: float, wrong: float) -> None:
    folder.mkdir(parents=True)
    evaluation = {
        "ckpt_path": str(checkpoint),
        "dataset": "/data/somewhere/camvid",
        "input_resolution": [120, 160],
        "scoring_resolution": [360, 480],
        "class_names": ["Sky", "Road"],
        "confusion": [[5, 1], [2, 7]],
        "mc_samples": samples,
        **scores("test", 0.71, miou),
        **scores("test_deterministic", 0.7, 0.33),
        "test/entropy_right": right,
        "test/entropy_wrong": wrong,
        "entropy_histogram": {"edges": [0.0, 0.5, 1.0], "right": [90, 10], "wrong": [30, 70]},
        "per_sequence": {"0001TP": {"images": 1, "G": 0.6, "C": 0.4, "mIoU": miou - 0.1, "BF": 0.2}},
    }
    (folder / "eval.json").write_text(json.dumps(recorded(evaluation)))


def test_collect_then_report_gives_a_row_per_pass_with_the_entropy_of_right_and_wrong_pixels(tmp_path):
    logs = tmp_path / "logs" / "bayesian"
    checkpoint = logs / "runs" / "a" / "checkpoints" / "best-epoch050.ckpt"
    write_training(logs / "runs" / "a", checkpoint)
    write_evaluation(logs / "multiruns" / "x" / "0", checkpoint, 1, 0.30, right=0.1, wrong=0.3)
    write_evaluation(logs / "multiruns" / "x" / "1", checkpoint, 10, 0.345, right=0.2, wrong=0.5)
    # an evaluation of another checkpoint is not part of the study
    write_evaluation(logs / "multiruns" / "y" / "0", logs / "other.ckpt", 40, 0.9, right=0.9, wrong=0.9)
    reference = tmp_path / "reference"
    write_training(reference, tmp_path / "ref.ckpt")

    runs = tmp_path / "results" / "runs"
    copies = collect(logs, runs)
    assert [copy.name for copy in copies] == ["train", "mc1", "mc10"]
    copied = json.loads((runs / "mc10" / "eval.json").read_text())
    assert (copied["ckpt_path"], copied["dataset"]) == ("best-epoch050.ckpt", "camvid")  # no local paths
    assert json.loads((runs / "train" / "results.json").read_text())["best_checkpoint"] == "best-epoch050.ckpt"

    out = tmp_path / "results" / "bayesian"
    main(
        ["report", str(runs), "--out", str(out), "--reference", str(reference / "results.json"), "--command", "make b"]
    )
    with out.with_suffix(".csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["pass"], r["samples"], r["test mIoU"], r["0001TP mIoU"], r["wrong ÷ right"]) for r in rows] == [
        ("dropout off (one pass)", "1", "33.0", "22.2", ""),  # per sequence: the training run's scoring
        ("MC dropout mean", "1", "30.0", "20.0", "3.0"),
        ("MC dropout mean", "10", "34.5", "24.5", "2.5"),
        ("SegNet-Basic, no dropout (same recipe)", "1", "33.0", "22.2", ""),
    ]
    text = out.with_suffix(".md").read_text()
    assert "Written by `make b`" in text
    assert "- training: `python src/train.py model=bayesian/segnet_basic scale=cpu`" in text
    assert "ckpt_path=<run>/checkpoints/best-epoch050.ckpt mc_samples=1,10`" in text
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_a_report_without_mc_evaluations_says_what_is_missing(tmp_path):
    (tmp_path / "runs").mkdir()
    with pytest.raises(SystemExit) as stopped:
        main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "b")])
    assert stopped.value.code == 2
    with pytest.raises(SegbenchError, match="no results.json under"):
        collect(tmp_path / "runs", tmp_path / "out")


def test_the_histogram_counts_each_value_in_its_bin_and_clamps_the_ends():
    histogram = Histogram(bins=4)
    histogram.update(torch.tensor([0.0, 0.1, 0.26, 0.5, 0.74, 0.99, 1.0, 1.0000001, -1e-7]))
    assert histogram.compute().tolist() == [3, 1, 2, 3]
    assert histogram.edges == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_the_example_shows_each_image_beside_its_overlay_and_uncertainty(tmp_path):
    predictions = tmp_path / "predicted"
    predictions.mkdir()
    image = tmp_path / "0001TP_008550.png"
    Image.fromarray(np.full((36, 48, 3), 128, np.uint8)).save(image)
    Image.fromarray(np.zeros((36, 48, 3), np.uint8)).save(predictions / "0001TP_008550_overlay.png")
    with pytest.raises(SegbenchError, match="0001TP_008550_uncertainty.png is missing"):
        write_example([image], predictions, tmp_path / "example.png")
    Image.fromarray(np.arange(36 * 48, dtype=np.uint8).reshape(36, 48)).save(
        predictions / "0001TP_008550_uncertainty.png"
    )
    write_example([image], predictions, tmp_path / "example.png")
    with Image.open(tmp_path / "example.png") as written:
        assert written.size == (13 * 120, round(3.3 * 120))
