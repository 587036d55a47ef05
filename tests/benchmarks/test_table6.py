"""Table 6's measured columns: a real measurement of SegNet-Basic, and the report's ratios against SegNet."""

from __future__ import annotations

import json

import pytest
from conftest import markdown_rows, measured_provenance

from segbench.benchmarks.table6_resources import measure_in_this_process
from segbench.paper import TABLE6
from segbench.reporting.table6 import cost_section, table6_rows, write_table6


def test_segnet_basic_is_timed_and_sized_at_360x480():
    row = measure_in_this_process("segnet_basic", "times", runs=1, device="cpu")
    assert row["params"] == 1_416_075
    # fp32 weights (4 bytes each) plus BN buffers (running mean/var per channel, one counter per BN layer)
    assert row["model_mb"] == pytest.approx((1_416_075 * 4 + 12 * 64 * 2 * 4) / 2**20, rel=0.01)
    assert row["forward_ms"] > 0 and row["backward_ms"] > 0


def test_inference_memory_counts_at_least_the_weights_and_one_full_resolution_map():
    row = measure_in_this_process("segnet_basic", "inference_memory", runs=1, device="cpu")
    one_map = 64 * 360 * 480 * 4 / 2**20  # a 64-channel fp32 feature map at 360x480: 42 MB
    assert row["inference_mb"] > 1_416_075 * 4 / 2**20 + one_map


def measured_lines(**extra) -> list[dict]:
    common = {"runs": 3, "device": "cpu", "provenance": measured_provenance(cpu="test CPU"), **extra}
    return [
        {"model": "table3/segnet", "params": 29_472_779, "forward_ms": 2000.0, "backward_ms": 4000.0,
         "training_mb": 8000.0, "inference_mb": 1000.0, "model_mb": 112.5, **common},
        {"model": "table3/deeplab_largefov", "params": 20_501_451, "forward_ms": 500.0, "backward_ms": 1000.0,
         "training_mb": 4000.0, "inference_mb": 1500.0, "model_mb": 78.2, **common},
        {"model": "table3/fcn", "params": 134_326_475, "forward_ms": 1000.0, "backward_ms": 2000.0,
         "training_mb": 6000.0, "inference_mb": 2000.0, "model_mb": 512.5, **common},
    ]  # fmt: skip


def test_report_gives_each_figure_beside_the_paper_as_ratios_to_segnet(tmp_path):
    lines = measured_lines()  # from before the input size was recorded: the paper's 360x480
    rows = table6_rows(lines)
    assert rows[1]["forward_ms_ratio"] == 0.25 and rows[1]["inference_mb_ratio"] == 1.5
    assert rows[1]["paper_forward_ms_ratio"] == round(110.06 / 422.50, 2) == 0.26
    assert rows[1]["paper_model_mb"] == TABLE6["table3/deeplab_largefov"]["model_mb"] == 83
    jsonl = tmp_path / "table6.jsonl"
    jsonl.write_text("".join(json.dumps(line) + "\n" for line in lines))
    write_table6(jsonl, tmp_path / "table6", command="make bench")
    text = (tmp_path / "table6.md").read_text()
    assert "Written by `make bench`" in text and "`table6.jsonl` beside this file" in text
    assert markdown_rows(text, "DeepLab-LargeFOV")[0][:4] == [
        "DeepLab-LargeFOV",
        "20,501,451",
        "500.0 (0.25)",
        "110.06 (0.26)",
    ]
    # Table 3's FCN, which Table 6 did not measure: its name, and no paper figures beside ours
    assert markdown_rows(text, "FCN")[0][:4] == ["FCN", "134,326,475", "1,000.0 (0.5)", "—"]
    assert "training mode, batch 1,\n  360x480 (the paper:" in text


def test_a_grid_costed_at_its_own_size_gets_table_6s_columns_in_its_report(tmp_path):
    jsonl = tmp_path / "table6.jsonl"
    jsonl.write_text("".join(json.dumps(line) + "\n" for line in measured_lines(input=[120, 160])))
    section = cost_section(jsonl)
    assert section[0] == "## Cost: Table 6's columns at 120x160"
    assert f"(its command: `{tmp_path / 'table6.md'}`)" in section[2]
    assert markdown_rows(section[4], "DeepLab-LargeFOV")[0][2:4] == ["500.0 (0.25)", "110.06 (0.26)"]
