"""src/report.py on a hand-made sweep: Tables 1 and 3 beside the paper, plots, Fig. 4, failures, bad input."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import markdown_rows, measured_provenance, recorded, write_camvid_layout
from PIL import Image

from report import main as report_main
from segbench.conformance import Variant
from segbench.data.camvid import COLOURS
from segbench.paper import TABLE1, TABLE3, table3_row
from segbench.reporting.curves import read_curve
from segbench.reporting.grid_plots import CURVES, curve_panels, network_colour
from segbench.reporting.grid_runs import find_runs
from segbench.study import model_configs

ROAD, CAR, SKY = 3, 8, 0


def complete(model: str, balancing: str, test: dict, train: dict, **extra) -> dict:
    """A results.json as the pipeline writes it for a finished job (scores are fractions)."""
    return {
        "status": "complete",
        "choices": {"model": model, "balancing": balancing, "dataset": "camvid", "scale": "cpu"},
        "params": 1_416_075 if model.startswith("segnet") else 645_956,
        "best_checkpoint": "/x/best.ckpt",
        "epochs_trained": 30,
        "global_step": 930,
        "input_resolution": [120, 160],
        "scoring_resolution": [360, 480],
        "fit_seconds": 5400.0,
        "train": {f"train/{k}": v for k, v in train.items()} | {"train/loss": 0.3},
        "val": {"val/G": 0.8, "val/C": 0.6, "val/mIoU": 0.5, "val/loss": 0.4},
        "test": {f"test/{k}": v for k, v in test.items()} | {"test/loss": 0.5, "test/IoU/Sky": 0.9},
        **extra,
    }


# What the pipeline records as a run's paper_name: its model config's meta.paper_name.
PAPER_NAMES = {model: entry["paper_name"] for model, entry in (TABLE1 | TABLE3).items()}


def write_run(folder: Path, results: dict) -> Path:
    folder.mkdir(parents=True)
    model = (results.get("choices") or {}).get("model")
    results = {"paper_name": PAPER_NAMES.get(model), **results}
    (folder / "results.json").write_text(json.dumps(recorded(results)))
    return folder


def write_predictions(folder: Path, stems: list[str], label: int, size: tuple[int, int] = (12, 16)) -> None:
    """Label maps as the pipeline writes them: one class index per pixel (palette PNG)."""
    (folder / "predictions").mkdir()
    for stem in stems:
        image = Image.fromarray(np.full(size, label, dtype=np.uint8), mode="L").convert("P")
        image.save(folder / "predictions" / f"{stem}.png")


def write_csv_log(folder: Path) -> None:
    """A Lightning CSV log: two validations during training, each followed by training rows."""
    log = folder / "csv" / "version_0"
    log.mkdir(parents=True)
    rows = [
        ("0", "9", "1.0", "", ""),
        ("0", "9", "", "0.5", "0.2"),
        ("1", "19", "0.9", "", ""),
        ("1", "19", "", "0.6", "0.3"),
        ("2", "29", "0.8", "", ""),
    ]
    with (log / "metrics.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "step", "train/loss_step", "val/G", "val/mIoU"])
        writer.writerows(rows)


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """Two Table 1 variants x two balancings (FCN-Basic's natural job failed) and one Table 3 network."""
    root = tmp_path / "sweep"
    # Folder order is not Table 1's order: the report puts SegNet-Basic before FCN-Basic.
    fcn = write_run(
        root / "0",
        complete(
            "fcn_basic",
            "median_frequency",
            {"G": 0.80, "C": 0.60, "mIoU": 0.45, "BF": 0.35},
            {"G": 0.90, "C": 0.91, "mIoU": 0.85},
        ),
    )
    write_run(
        root / "1",
        {
            "status": "failed",
            "error": "CUDA out of memory in cuda_malloc\nTraceback (most recent call last): ...",
            "global_step": 120,
            "choices": {"model": "fcn_basic", "balancing": "natural"},
        },
    )
    segnet = write_run(
        root / "2",
        complete(
            "segnet_basic",
            "median_frequency",
            {"G": 0.714, "C": 0.55, "mIoU": 0.402, "BF": 0.3012},
            {"G": 0.95, "C": 0.90, "mIoU": 0.80},
        ),
    )
    write_csv_log(segnet)
    (segnet / ".hydra").mkdir()
    (segnet / ".hydra" / "overrides.yaml").write_text("- experiment=table1\n- model=segnet_basic\n")
    segnet_nf = write_run(
        root / "3",
        complete(
            "segnet_basic",
            "natural",
            {"G": 0.851, "C": 0.50, "mIoU": 0.463, "BF": 0.3},
            {"G": 0.97, "C": 0.80, "mIoU": 0.70},
        ),
    )
    table3 = write_run(
        root / "4",
        complete(
            "table3/segnet",
            "natural",
            {"G": 0.901, "C": 0.70, "mIoU": 0.59, "BF": 0.45},
            {"G": 0.95, "C": 0.90, "mIoU": 0.80},
            milestones={
                "40000": {"test/G": 0.85, "test/C": 0.58, "test/mIoU": 0.49, "test/BF": 0.30},
                "1000": {"test/G": 0.52, "test/C": 0.41, "test/mIoU": 0.33, "test/BF": 0.21},
            },
        )
        | {"global_step": 41_000},
    )
    stems = ["test_000", "test_001", "test_002"]
    write_predictions(segnet, stems, CAR)
    write_predictions(segnet_nf, stems, CAR)
    write_predictions(fcn, stems, CAR)
    write_predictions(table3, stems, SKY, size=(6, 8))  # a lower resolution: resized to the ground truth's
    return root


@pytest.fixture
def efficiency(tmp_path: Path) -> Path:
    lines = [
        {"model": "segnet_basic", "paper_name": "SegNet-Basic", "params": 1_416_075, "storage_multiplier": 1,
         "stored_bytes": 22_118_400,
         "infer_ms_fp32": 745.71, "infer_ms_bf16_channels_last": 342.2, "device": "cpu"},
        {"model": "fcn_basic", "params": 645_956, "storage_multiplier": 11, "stored_bytes": 1_900_800,
         "infer_ms_fp32": 268.4, "infer_ms_bf16_channels_last": None, "device": "cpu"},  # bf16 not run
    ]  # fmt: skip
    for line in lines:
        line["provenance"] = measured_provenance()
    path = tmp_path / "table1-efficiency.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture
def camvid(tmp_path: Path) -> Path:
    root = write_camvid_layout(tmp_path / "camvid", {"test": 3}, height=12, width=16)
    # test_000's ground truth is all road, so its tile has one known colour.
    Image.fromarray(np.full((12, 16), ROAD, dtype=np.uint8), mode="L").save(root / "testannot" / "test_000.png")
    return root


def run_report(*args: str | Path) -> None:
    report_main([str(arg) for arg in args])


def test_an_interrupted_job_is_pending_with_its_step_and_no_machine_path(sweep, tmp_path):
    interrupted = {
        "status": "interrupted",
        "error": "interrupted at step 217; resume with the same command and resume=true, "
        "or ckpt_path=/home/someone/logs/table1/4/checkpoints/last.ckpt",
        "global_step": 217,
        "choices": {"model": "bilinear_interpolation", "balancing": "median_frequency"},
    }
    write_run(sweep / "5", interrupted)
    out = tmp_path / "report"
    run_report(sweep, "--out", out)
    text = (out / "table1.md").read_text()
    pending = next(line for line in text.splitlines() if line.startswith("Not finished yet"))
    # The report knows the variants its runs have: Bilinear-Interpolation's, FCN-Basic's and SegNet-Basic's 6 jobs.
    assert pending == (
        "Not finished yet (2 of the 6 jobs of the variants with a run, in both balancings): "
        "Bilinear-Interpolation (MF interrupted at step 217, NF)."
    )
    (bilinear,) = markdown_rows(text, "Bilinear-Interpolation")
    assert bilinear[4] == "INTERRUPTED at step 217 (the grid's command resumes it)"
    assert "/home/someone" not in text


def test_a_grid_of_one_balancing_awaits_only_its_own_jobs(tmp_path):
    """The decoder zoo trains median-frequency jobs only: its unfinished jobs are counted in that balancing alone."""
    scores = {"G": 0.8, "C": 0.6, "mIoU": 0.5, "BF": 0.4}
    sweep = tmp_path / "sweep"
    write_run(sweep / "0", complete("segnet_basic", "median_frequency", scores, scores))
    write_run(sweep / "1", complete("fcn_basic", "median_frequency", scores, scores))
    interrupted = {"status": "interrupted", "error": "interrupted at step 300", "global_step": 300}
    write_run(sweep / "2", interrupted | {"choices": {"model": "zoo/resize_conv", "balancing": "median_frequency"}})
    run_report(sweep, "--out", tmp_path / "report")
    text = (tmp_path / "report" / "table1.md").read_text()
    pending = next(line for line in text.splitlines() if line.startswith("Not finished yet"))
    assert pending == (
        "Not finished yet (1 of the 3 jobs of the variants with a run, in balancing MF): "
        "zoo/resize_conv (MF interrupted at step 300)."
    )


def test_a_study_without_segnet_basic_runs_times_against_its_measured_line_in_its_balancing(efficiency, tmp_path):
    """A summary of median-frequency runs that reuse no SegNet-Basic run: its time ratio comes from SegNet-Basic's
    efficiency line, and the natural-balancing columns, which no run has, are left out."""
    scores = {"G": 0.8, "C": 0.6, "mIoU": 0.5, "BF": 0.4}
    sweep = tmp_path / "sweep"
    write_run(sweep / "0", complete("fcn_basic", "median_frequency", scores, scores))
    summary = tmp_path / "summary.md"
    run_report(sweep, "--out", tmp_path / "report", "--efficiency", efficiency, "--summary", summary)
    header, fcn = markdown_rows(summary.read_text())[:2]
    assert header == ["Variant", "Stored bytes", "Time ÷ SegNet-Basic (paper)", "MF test G", "MF test C",
                      "MF test mIoU", "MF test BF"]  # fmt: skip
    assert fcn[:3] == ["FCN-Basic", "1,900,800", "0.36 (0.46)"]  # 268.4 / 745.71 ms; the paper's 0.46


def test_table1_puts_the_paper_and_the_difference_beside_ours(sweep, efficiency, tmp_path, capsys):
    out = tmp_path / "report"
    run_report(sweep, "--out", out, "--efficiency", efficiency, "--command", "make report")
    text = (out / "table1.md").read_text()
    assert "Written by `make report` (do not edit by hand)" in text
    found = next(line for line in text.splitlines() if line.startswith("Found in the runs:"))
    assert "input resolution: 120x160" in found and "scoring resolution: 360x480" in found
    assert "epochs trained: 30" in found and "steps: 930" in found
    # Every job of the runs' variants has a results.json (FCN-Basic's NF one failed, which finishes it): none pending.
    assert "Not finished yet" not in text
    rows = markdown_rows(text)
    (header,) = markdown_rows(text, "Variant")
    assert header[:6] == ["Variant", "Params (M)", "Storage multiplier", "Infer time (ms)", "MF run", "MF test G"]
    body = rows[rows.index(header) + 1 :]
    assert [cells[0] for cells in body[:2]] == ["SegNet-Basic", "FCN-Basic"]  # Table 1's order
    (segnet,) = markdown_rows(text, "SegNet-Basic")
    cell = dict(zip(header, segnet))
    assert cell["Params (M)"] == "1.416 / 1.425"
    assert cell["Storage multiplier"] == "1 / 1"
    assert cell["Infer time (ms)"] == "745.7 / 52.6"
    assert cell["MF run"] == "930 steps (30 ep.)"
    assert cell["MF test G"] == "71.4 / 82.7 (-11.3)"
    assert cell["MF test C"] == "55.0 / 62.0 (-7.0)"
    assert cell["MF test mIoU"] == "40.2 / 47.7 (-7.5)"
    assert cell["MF test BF"] == "30.12 / 35.78 (-5.66)"
    assert cell["MF train G"] == "95.0 / 94.7 (+0.3)"
    assert cell["NF test G"] == "85.1 / 84.0 (+1.1)"
    assert cell["NF test mIoU"] == "46.3 / 46.3 (+0.0)"
    assert cell["NF train mIoU"] == "70.0 / 73.3 (-3.3)"
    # The failed job shows in the cells it would fill; the same variant's other balancing keeps its numbers.
    (fcn,) = markdown_rows(text, "FCN-Basic")
    cell = dict(zip(header, fcn))
    assert cell["NF run"] == "FAILED at step 120: CUDA out of memory in cuda_malloc"
    assert [cell[f"NF test {m}"] for m in ("G", "C", "mIoU", "BF")] == ["– / 83.9", "– / 55.6", "– / 45.0", "– / 37.33"]
    assert cell["MF test G"] == "80.0 / 81.7 (-1.7)"
    assert cell["Storage multiplier"] == "11 / 11"
    # The runs section: every job's status, and the command that re-creates a run from its saved overrides.
    (failed,) = markdown_rows(text, str(sweep / "1"))
    assert failed[3] == "FAILED at step 120: CUDA out of memory in cuda_malloc"
    assert f"- `{sweep / '2'}`: `python src/train.py experiment=table1 model=segnet_basic`" in text
    assert markdown_rows(text, str(sweep / "2"))[0][6] == "1 h 30 min"
    assert "table3/segnet" not in text
    printed = capsys.readouterr().out
    assert "note: skipped fig4.png: no --data-root" in printed


def test_table1_csv_holds_the_numbers_the_markdown_shows(sweep, efficiency, tmp_path):
    out = tmp_path / "report"
    run_report(sweep, "--out", out, "--efficiency", efficiency)
    with (out / "table1.csv").open() as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    assert list(rows) == ["segnet_basic", "fcn_basic"]
    segnet, fcn = rows["segnet_basic"], rows["fcn_basic"]
    assert (float(segnet["median_frequency_test_G"]), float(segnet["median_frequency_test_G_paper"])) == (71.4, 82.7)
    assert float(segnet["median_frequency_test_G_diff"]) == -11.3
    assert float(segnet["median_frequency_test_BF"]) == 30.12
    assert (fcn["natural_status"], fcn["natural_test_G"], fcn["natural_steps"]) == ("failed", "", "120")
    assert fcn["natural_error"] == "CUDA out of memory in cuda_malloc"
    # bf16 not run on the benchmark's CPU (no oneDNN bf16 kernels): an empty cell, not a failed report
    assert (segnet["infer_ms_bf16_channels_last"], fcn["infer_ms_bf16_channels_last"]) == ("342.2", "")
    assert (int(segnet["params"]), int(segnet["stored_bytes"]), float(segnet["infer_ms_fp32"])) == (
        1_416_075,
        22_118_400,
        745.7,
    )
    # Every score cell of the markdown, rebuilt from the CSV.
    text = (out / "table1.md").read_text()
    (header,) = markdown_rows(text, "Variant")
    for model, row in rows.items():
        (cells,) = markdown_rows(text, TABLE1[model]["paper_name"])
        shown = dict(zip(header, cells))
        for balancing, short in (("median_frequency", "MF"), ("natural", "NF")):
            for split, metrics in (("test", "G C mIoU BF"), ("train", "G C mIoU")):
                for metric in metrics.split():
                    key = f"{balancing}_{split}_{metric}"
                    decimals = 2 if metric == "BF" else 1
                    paper = float(row[f"{key}_paper"])
                    assert paper == TABLE1[model][balancing][split][metric]
                    if row[key]:
                        expected = f"{float(row[key]):.{decimals}f} / {paper:.{decimals}f} "
                        expected += f"({float(row[f'{key}_diff']):+.{decimals}f})"
                    else:
                        expected = f"– / {paper:.{decimals}f}"
                    assert shown[f"{short} {split} {metric}"] == expected


def test_table1_tex_has_one_row_per_variant(sweep, efficiency, tmp_path):
    out = tmp_path / "report"
    run_report(sweep, "--out", out, "--efficiency", efficiency, "--command", "make report")
    lines = (out / "table1.tex").read_text().splitlines()
    assert lines[0].startswith("% Written by `make report` (do not edit by hand)")
    body = lines[lines.index(r"\midrule") + 1 : lines.index(r"\bottomrule")]
    assert [line.split(" & ")[0] for line in body] == ["SegNet-Basic", "FCN-Basic"]
    columns = lines[2][len(r"\begin{tabular}{") : -1]
    assert all(len(line[: -len(r" \\")].split(" & ")) == len(columns) for line in body)
    assert "71.4 / 82.7 (-11.3)" in body[0]
    assert "FAILED at step 120: CUDA out of memory in cuda\\_malloc" in body[1]
    assert "-- / 83.9" in body[1]  # TeX's en dash


def test_table3_pairs_milestones_and_the_selected_checkpoint_with_the_paper(sweep, tmp_path):
    out = tmp_path / "report"
    run_report(sweep, "--out", out)
    rows = markdown_rows((out / "table3.md").read_text(), "SegNet")
    assert rows == [
        ["SegNet", "step 1,000", "", "52.00", "41.00", "33.00", "21.00"],
        ["SegNet", "step 40,000", "40 K", "85.00 / 88.81 (-3.81)", "58.00 / 59.93 (-1.93)", "49.00 / 50.02 (-1.02)",
         "30.00 / 35.78 (-5.78)"],
        ["SegNet", "—", "80 K", "– / 89.68", "– / 69.82", "– / 57.18", "– / 42.08"],
        ["SegNet", "step 41,000 (selected)", "> 80 K (max 140 K)", "90.10 / 90.40 (-0.30)", "70.00 / 71.20 (-1.20)",
         "59.00 / 60.10 (-1.10)", "45.00 / 46.84 (-1.84)"],
    ]  # fmt: skip
    with (out / "table3.csv").open() as handle:
        selected = [row for row in csv.DictReader(handle) if row["point"] == "selected"]
    assert [(row["step"], row["mIoU"], row["paper_mIoU"], row["diff_mIoU"]) for row in selected] == [
        ("41000", "59.0", "60.1", "-1.1")
    ]
    tex = (out / "table3.tex").read_text().splitlines()
    assert len(tex[tex.index(r"\midrule") + 1 : tex.index(r"\bottomrule")]) == 4


def test_table3s_cost_claims_are_judged_on_the_costs_given_with_the_grid(sweep, tmp_path):
    costs = tmp_path / "table6.jsonl"
    common = {"params": 1, "inference_mb": 100.0, "runs": 3, "input": [120, 160], "device": "cpu"}
    lines = [
        {"model": "table3/segnet", "model_mb": 112.5, "forward_ms": 270.0, "backward_ms": 530.0, "training_mb": 670.0},
        {"model": "table3/deeplab_largefov", "model_mb": 78.3, "forward_ms": 170.0, "backward_ms": 320.0,
         "training_mb": 530.0},
    ]  # fmt: skip
    costs.write_text(
        "".join(json.dumps({**line, **common, "provenance": measured_provenance()}) + "\n" for line in lines)
    )
    out = tmp_path / "report"
    run_report(sweep, "--out", out, "--costs", costs)
    text = (out / "table3.md").read_text()
    claim = "DeepLab-LargeFOV is the smallest model and the fastest to train (Table 6: model size, forward + backward)"
    assert markdown_rows(text, claim) == [
        [
            claim,
            "holds (6/6), 2 comparisons not in the paper's tables",
            "holds (2/2), 6 comparisons await measurements",
            "",
        ]
    ]
    assert "## Cost: Table 6's columns at 120x160" in text


def test_no_table3_report_without_table3_runs(sweep, tmp_path, capsys):
    out = tmp_path / "report"
    run_report(sweep, "--out", out)
    assert (out / "table3.md").is_file()
    run_report(*(sweep / name for name in "0123"), "--out", out)
    assert not any((out / f"table3.{suffix}").exists() for suffix in ("md", "csv", "tex"))
    assert f"removed {out / 'table3.md'}" in capsys.readouterr().out


def test_the_curves_have_a_panel_per_metric_and_balancing_and_a_line_per_network(sweep):
    write_csv_log(sweep / "3")  # SegNet-Basic NF; run 2 (SegNet-Basic MF) has one already
    runs = [run for run in find_runs([sweep]) if run.folder.name in ("2", "3")]
    curves = [(run, {metric: read_curve(run.folder, metric) for metric in CURVES}) for run in runs]
    x_label, panels = curve_panels(curves)
    assert x_label == "epoch"  # one validation an epoch
    assert list(panels) == [(m, b) for m in ("val/G", "val/mIoU") for b in ("median_frequency", "natural")]
    ((name, status, epochs, scores),) = panels["val/mIoU", "natural"]
    assert (name, status, epochs) == ("SegNet-Basic", "", [1, 2]) and scores == pytest.approx([20.0, 30.0])
    assert panels["val/G", "median_frequency"][0][3] == pytest.approx([50.0, 60.0])
    # Table 3's recipe validates every so many iterations: two validations in one epoch put iterations on x.
    twice = [(epoch, step, value) for epoch, step, value in curves[0][1]["val/G"]] + [(1, 25, 0.7)]
    x_label, panels = curve_panels([(curves[0][0], {"val/G": twice, "val/mIoU": []})])
    assert x_label == "iteration" and panels["val/G", "median_frequency"][0][2] == [10, 20, 26]
    assert {network_colour(run) for run in runs} == {"C1"}  # Table 1's second row, in both balancings


def test_plots_and_fig4_panel(sweep, efficiency, camvid, tmp_path, capsys):
    out = tmp_path / "report"
    run_report(sweep, "--out", out, "--efficiency", efficiency, "--data-root", camvid, "--fig4-images", "2")
    printed = capsys.readouterr().out
    for name in ("table1-vs-stored-bytes.png", "table1-vs-infer-time.png", "table1-val-curves.png"):
        with Image.open(out / name) as image:
            image.verify()
            assert image.format == "PNG" and min(image.size) > 100
    # Only run 2 has a CSV log: the others are named in a note, and Table 3's curve plot is skipped.
    unlogged = ", ".join(str(sweep / name) for name in "301")  # Table 1 order; the failed job 1 too
    assert f"note: no CSV log (csv/version_*/metrics.csv) for decoder variants curves: {unlogged}\n" in printed
    assert "note: skipped table3-val-curves.png" in printed
    assert not (out / "table3-val-curves.png").exists()
    # As the paper's Fig. 4: 2 images across; input, ground truth and the 4 runs with predictions down;
    # 240 x 180 px tiles right of a 120 px column of row titles, under a 30 px row of image names.
    with Image.open(out / "fig4.png") as image:
        panel = np.asarray(image.convert("RGB"))
    assert panel.shape[:2] == (30 + 6 * 180 + 50, 120 + 2 * 240)
    centre = [tuple(panel[30 + 180 * row + 90, 120 + 120]) for row in range(1, 6)]
    # test_000: ground truth road; the three Table 1 runs predict car; SegNet (Table 3) predicts sky.
    assert centre == [COLOURS[ROAD], COLOURS[CAR], COLOURS[CAR], COLOURS[CAR], COLOURS[SKY]]
    assert "![Test images, ground truth and each network's prediction" in (out / "table1.md").read_text()

    # Regenerated without the data set (make report without CAMVID_ROOT): the committed panel is kept, not deleted.
    drawn = (out / "fig4.png").read_bytes()
    run_report(sweep, "--out", out, "--efficiency", efficiency)
    assert "note: kept fig4.png from an earlier report" in capsys.readouterr().out
    assert (out / "fig4.png").read_bytes() == drawn
    assert "![Test images, ground truth and each network's prediction" in (out / "table1.md").read_text()


def test_fig4_is_skipped_without_predictions(sweep, camvid, tmp_path, capsys):
    for folder in sweep.glob("*/predictions"):
        for png in folder.iterdir():
            png.unlink()
    out = tmp_path / "report"
    run_report(sweep, "--out", out, "--data-root", camvid)
    assert "note: skipped fig4.png: no run has predictions/<image>.png" in capsys.readouterr().out
    assert not (out / "fig4.png").exists()


def test_a_complete_retry_fills_the_cell_of_a_failed_attempt(sweep, tmp_path):
    retry = complete(
        "fcn_basic", "natural", {"G": 0.83, "C": 0.5, "mIoU": 0.44, "BF": 0.3}, {"G": 0.9, "C": 0.7, "mIoU": 0.5}
    )
    write_run(sweep / "5", retry)
    out = tmp_path / "report"
    run_report(sweep, "--out", out)
    text = (out / "table1.md").read_text()
    (header,) = markdown_rows(text, "Variant")
    (fcn,) = markdown_rows(text, "FCN-Basic")
    assert dict(zip(header, fcn))["NF test G"] == "83.0 / 83.9 (-0.9)"
    assert markdown_rows(text, str(sweep / "1"))[0][-1] == "no: another run of this cell is shown"


def error_of(capsys, *args) -> str:
    with pytest.raises(SystemExit) as exit_:
        run_report(*args)
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    return line


def test_bad_input_stops_with_one_line_naming_the_file(sweep, efficiency, tmp_path, capsys):
    out = tmp_path / "report"
    (sweep / "2" / "results.json").write_text('{"status": "complete", "choices": ')
    assert error_of(capsys, sweep, "--out", out).startswith(f"error: {sweep / '2' / 'results.json'} is not JSON")
    write_run(sweep / "6", {"status": "failed", "error": "x"})
    line = error_of(capsys, sweep / "6", "--out", out)
    assert line == f"error: {sweep / '6' / 'results.json'}: choices: Field required"
    write_run(sweep / "7", {"status": "done", "choices": {"model": "fcn_basic"}})
    assert error_of(capsys, sweep / "7", "--out", out) == (
        f"error: {sweep / '7' / 'results.json'}: status: Input should be 'complete', 'failed' or 'interrupted' "
        "(got 'done')"
    )
    write_run(sweep / "8", {"status": "failed", "choices": {"balancing": "natural"}, "provenance": {"cpu": "x"}})
    assert error_of(capsys, sweep / "8", "--out", out) == (
        f"error: {sweep / '8' / 'results.json'}: choices: Value error, no model: which network is it?; "
        "5 more field(s) at fault"  # the provenance lacks 5 fields
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text(efficiency.read_text() + "not json\n")
    assert error_of(capsys, sweep / "0", "--out", out, "--efficiency", bad).startswith(f"error: {bad}:3 is not JSON")
    assert error_of(capsys, tmp_path / "nowhere", "--out", out) == f"error: {tmp_path / 'nowhere'} does not exist"


def test_a_prediction_that_is_not_a_label_map_is_named(sweep, camvid, tmp_path, capsys):
    prediction = sweep / "0" / "predictions" / "test_001.png"
    Image.new("RGB", (16, 12)).save(prediction)
    line = error_of(capsys, sweep, "--out", tmp_path / "report", "--data-root", camvid, "--fig4-images", "3")
    assert line == f"error: {prediction} is not a label map (PNG mode RGB; expected 8-bit or palette indices)"


def test_two_complete_runs_of_one_cell_are_refused(sweep, tmp_path, capsys):
    (sweep / "copy").mkdir()
    (sweep / "copy" / "results.json").write_text((sweep / "0" / "results.json").read_text())
    line = error_of(capsys, sweep, "--out", tmp_path / "report")
    assert line == (
        "error: two complete runs of Table 1 cell model=fcn_basic balancing=median_frequency: "
        f"{sweep / '0' / 'results.json'} and {sweep / 'copy' / 'results.json'}; pass only one of them"
    )


def test_paper_numbers_of_both_balancings_and_table3():
    segnet = TABLE1["segnet_basic"]
    assert segnet["test"] == segnet["median_frequency"]["test"] == {"G": 82.7, "C": 62.0, "mIoU": 47.7, "BF": 35.78}
    assert segnet["natural"]["test"] == {"G": 84.0, "C": 54.6, "mIoU": 46.3, "BF": 36.67}
    assert TABLE1["fcn_basic_no_dim_reduction"]["natural"]["train"] == {"G": 97.2, "C": 91.7, "mIoU": 84.8}
    # Each Table 3 network config names a row of Table 3 by its paper name, and each row is named once.
    names = [Variant(name).meta.paper_name for name in model_configs() if name.startswith("table3/")]
    assert all(table3_row(name) is not None for name in names) and len(set(names)) == len(names) == len(TABLE3)
    assert TABLE3["table3/deconvnet"]["beyond_80k"] == {"G": 89.58, "C": 70.24, "mIoU": 59.77, "BF": 52.23}
    assert TABLE3["table3/deeplab_largefov_densecrf"]["at"] == {}  # "not computed" at 40 K and 80 K


def test_table1_checks_the_conclusions_of_sec_3_3_on_ours_and_on_the_paper(sweep, tmp_path):
    out = tmp_path / "report"
    run_report(sweep, "--out", out)
    text = (out / "table1.md").read_text()
    assert "## Sec. 3.3's conclusions, checked" in text
    rows = {cells[0]: cells[1:] for cells in markdown_rows(text) if len(cells) == 4}
    # SegNet-Basic MF 71.4 / 55.0 / 40.2 / 30.12 against FCN-Basic MF 80.0 / 60.0 / 45.0 / 35.00; FCN-Basic NF failed
    equal = rows[next(claim for claim in rows if claim.startswith("SegNet-Basic performs as well as FCN-Basic"))]
    assert equal[:2] == ["holds (8/8)", "does not hold (0/4), 4 comparisons await runs"]
    assert equal[2].startswith("SegNet-Basic MF G 71.4 not within 2.5 of FCN-Basic MF G 80.0; ")
    assert equal[2].endswith("; … 1 more")
    training = rows["SegNet-Basic, the larger decoder, reaches a higher training accuracy than FCN-Basic"]
    assert training == [
        "holds (6/6)",
        "partly (1/3), 3 comparisons await runs",
        "SegNet-Basic MF train C 90.0 ≤ FCN-Basic MF train C 91.0; "
        "SegNet-Basic MF train mIoU 80.0 ≤ FCN-Basic MF train mIoU 85.0",
    ]
    balancing = rows[next(claim for claim in rows if claim.startswith("Median frequency balancing beats natural"))]
    assert balancing == [
        "partly (21/24)",
        "partly (2/3), 21 comparisons await runs",
        "SegNet-Basic MF mIoU 40.2 ≤ SegNet-Basic NF mIoU 46.3",
    ]
    encoder_maps = rows["Encoder feature maps matter: FCN-Basic beats FCN-Basic-NoAddition"]
    assert encoder_maps[:2] == [
        "holds (8/8)",
        "not checked: no complete run of FCN-Basic (NF), FCN-Basic-NoAddition (MF, NF)",
    ]


def test_the_summary_page_names_the_grid_command_and_shows_test_scores_beside_the_papers(efficiency, tmp_path):
    root = tmp_path / "sweep"
    jobs = [
        ("segnet_basic", "median_frequency", {"G": 0.714, "C": 0.55, "mIoU": 0.402, "BF": 0.3012}),
        ("segnet_basic", "natural", {"G": 0.851, "C": 0.50, "mIoU": 0.463, "BF": 0.3}),
        ("fcn_basic", "median_frequency", {"G": 0.80, "C": 0.60, "mIoU": 0.45, "BF": 0.35}),
    ]
    for index, (model, balancing, test) in enumerate(jobs):
        results = complete(model, balancing, test, {"G": 0.9, "C": 0.9, "mIoU": 0.8})
        results["choices"]["experiment"] = "table1"
        write_run(root / str(index), results)
    out, summary = tmp_path / "results" / "table1-camvid-cpu", tmp_path / "results" / "table1-camvid-cpu.md"
    run_report(root, "--out", out, "--efficiency", efficiency, "--command", "make report", "--summary", summary)
    text = summary.read_text()
    assert "Written by `make report` (do not edit by hand)" in text
    assert "`CAMVID_ROOT=/path/to/CamVid make table1 SCALE=cpu`" in text
    assert "Not finished yet (1 of the 4 jobs of the variants with a run, in both balancings): FCN-Basic (NF)." in text
    (header,) = markdown_rows(text, "Variant")
    (segnet,), (fcn,) = markdown_rows(text, "SegNet-Basic"), markdown_rows(text, "FCN-Basic")
    segnet, fcn = dict(zip(header, segnet)), dict(zip(header, fcn))
    assert segnet["Stored bytes"] == "22,118,400" and fcn["Stored bytes"] == "1,900,800"
    # 268.4 / 745.71 ms measured; the paper's 24.2 / 52.6 ms
    time = "Time ÷ SegNet-Basic (paper)"
    assert segnet[time] == "1.00 (1.00)" and fcn[time] == "0.36 (0.46)"
    scores = [segnet[f"MF test {m}"] for m in ("G", "C", "mIoU", "BF")]
    assert scores == ["71.4 (82.7)", "55.0 (62.0)", "40.2 (47.7)", "30.12 (35.78)"]
    assert segnet["NF test mIoU"] == "46.3 (46.3)" and fcn["NF test G"] == "– (83.9)"
    claim = "Encoder feature maps matter: FCN-Basic beats FCN-Basic-NoAddition"
    unchecked = "not checked: no complete run of FCN-Basic (NF), FCN-Basic-NoAddition (MF, NF)"
    assert markdown_rows(text, claim) == [[claim, "holds (8/8)", unchecked, ""]]
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert "table1-camvid-cpu/table1.md" in links and "table1-camvid-cpu/table1-vs-stored-bytes.png" in links
    assert all((summary.parent / link).exists() for link in links)


def test_no_grid_command_is_claimed_for_runs_of_no_single_grid(sweep, tmp_path):
    summary = tmp_path / "summary.md"
    run_report(sweep, "--out", tmp_path / "report", "--summary", summary)
    text = summary.read_text()
    assert "make table" not in text
    assert "## Table 3" in text and markdown_rows(text, "SegNet-Basic")


def test_runs_in_different_precisions_are_named_and_flagged(tmp_path):
    """`precision: auto` decides per machine and network: a grid whose runs computed differently says so."""
    scores = {"G": 0.8, "C": 0.6, "mIoU": 0.5, "BF": 0.4}
    sweep = tmp_path / "sweep"
    for name, model, precision, channels_last in (
        ("0", "segnet_basic", "bf16-mixed", True),
        ("1", "fcn_basic", "32-true", False),
    ):
        path = {"precision": precision, "channels_last": channels_last, "decided_by": "probe"}
        write_run(sweep / name, complete(model, "median_frequency", scores, scores, compute_path=path))
    run_report(sweep, "--out", tmp_path / "report")
    text = (tmp_path / "report" / "table1.md").read_text()
    found = next(line for line in text.splitlines() if line.startswith("Found in the runs:"))
    assert "precision: 32-true, contiguous; bf16-mixed, channels-last" in found
    assert (
        "**Mixed precisions:** these runs computed in 2 different precisions or layouts "
        "(32-true, contiguous; bf16-mixed, channels-last; per run in its saved `.hydra/config.yaml`)"
    ) in text
    assert "Mixed machines" not in text and "Mixed torch" not in text  # neither run recorded its machine


def test_runs_from_two_machines_and_torch_releases_are_flagged(tmp_path):
    """Anchors reused from another grid must match the new runs' machine and torch: the report says where not."""
    scores = {"G": 0.8, "C": 0.6, "mIoU": 0.5, "BF": 0.4}
    sweep = tmp_path / "sweep"
    for name, model, cpu, torch_release in (
        ("0", "segnet_basic", "AMD EPYC (no bf16 units)", "2.13.0+cpu"),
        ("1", "fcn_basic", "Intel Xeon (AMX)", "2.13.0+cpu"),
        ("2", "bilinear_interpolation", "Intel Xeon (AMX)", "2.14.1+cu128"),
    ):
        provenance = measured_provenance(cpu=cpu, versions={"torch": torch_release})
        write_run(sweep / name, complete(model, "median_frequency", scores, scores, provenance=provenance))
    run_report(sweep, "--out", tmp_path / "report")
    text = (tmp_path / "report" / "table1.md").read_text()
    assert (
        "**Mixed machines:** these runs trained on 2 kinds of machine (AMD EPYC (no bf16 units); Intel Xeon (AMX)): "
        "their fit and inference times compare only within one machine."
    ) in text
    assert "**Mixed torch releases:** these runs trained with torch 2.13.0+cpu, 2.14.1+cu128:" in text
