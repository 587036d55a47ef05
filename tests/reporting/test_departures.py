"""A Table 3 grid's report says where its runs depart from Sec. 4, from their records and saved configs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import recorded

from segbench.reporting.departures import table3_departures
from segbench.reporting.grid_runs import find_runs

SCORES = {"test/G": 0.8, "test/C": 0.6, "test/mIoU": 0.5, "test/BF": 0.3}


def write_run(folder: Path, model: str, scale: str, lr: float = 1e-3, **record) -> None:
    (folder / ".hydra").mkdir(parents=True)
    config = {"model": {"encoder": {"pretrained": None}}, "task": {"optimizer": {"lr": lr}}}
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    results = {
        "status": "complete",
        "choices": {"model": model, "dataset": "camvid", "scale": scale, "schedule": "poly", "balancing": "natural"},
        "global_step": 1110,
        "input_resolution": [120, 160],
        "scoring_resolution": [360, 480],
        "test": SCORES,
        "milestones": {"370": SCORES, "740": SCORES},
        **record,
    }
    (folder / "results.json").write_text(json.dumps(recorded(results)))


def test_a_cpu_scale_grid_names_each_departure_with_its_own_numbers(tmp_path):
    write_run(tmp_path / "segnet", "table3/segnet", "cpu")
    write_run(tmp_path / "fcn", "table3/fcn", "cpu", lr=0.01)
    crf = {"_target_": "segbench.models.DenseCRF", "iterations": 10, "bilateral_weight": 4.0}
    refined = {"refined_from": "deeplab", "refine": crf}
    write_run(tmp_path / "deeplab+densecrf", "table3/deeplab_largefov_densecrf", "cpu", lr=0.5, **refined)
    lines = table3_departures(find_runs([tmp_path]))
    assert lines[0] == "Where this grid departs from Sec. 4:" and len(lines) == 8
    assert lines[2].startswith("- **Initialisation**: He initialisation") and "model.encoder.pretrained=" in lines[2]
    assert lines[3].startswith("- **Training set**: CamVid's 367 training images, not the 3,433 road scenes")
    assert lines[4] == (
        "- **Budget**: 1,110 iterations at batch 5, scored also at steps 370, 740: not the paper's 40 K, 80 K "
        "and > 80 K."
    )
    assert lines[5] == "- **Resolution**: 120x160 inputs, not 360x480; scored on the 360x480 label files."
    assert lines[6] == "- **Learning rate**: 0.01 / 0.001 with schedule=poly, not the paper's fixed 0.001."
    assert lines[7] == (  # the refined run, not trained, counts only here
        "- **Dense CRF**: its kernels stated, not grid-searched on training images as Sec. 4's were: iterations 10, "
        "bilateral_weight 4.0."
    )


def test_a_smoke_grid_or_an_imagenet_start_says_no_more_than_it_must(tmp_path):
    write_run(tmp_path / "smoke", "table3/segnet", "smoke")
    assert table3_departures(find_runs([tmp_path])) == []
    write_run(tmp_path / "paper" / "segnet", "table3/segnet", "paper", global_step=80_000, input_resolution=[360, 480])
    config = tmp_path / "paper" / "segnet" / ".hydra" / "config.yaml"
    config.write_text(config.read_text().replace("pretrained: null", "pretrained: /data/vgg16_bn.pth"))
    lines = table3_departures(find_runs([tmp_path / "paper"]))
    assert [line.split("**")[1] for line in lines[2:]] == ["Training set", "Learning rate"]
