"""Table 1's measured columns: storage derived from what the decoders keep, and the report's arithmetic."""

from __future__ import annotations

import json

import pytest
import torch

from segbench.benchmarks.measure_efficiency import measure, storage_multiplier, stored_bytes
from segbench.paper import TABLE1
from segbench.reporting.efficiency_table import efficiency_rows, write_efficiency_table


@pytest.mark.parametrize("model", sorted(TABLE1))
def test_storage_multiplier_equals_table1(model, build_model):
    with torch.no_grad():
        kept = build_model(model).eval().kept_from_encoder(torch.rand(1, 3, 48, 64) * 255)
    # Table 1 prints "n/a" for FCN-Basic-NoAddition: it keeps nothing, like NoAddition-NoDimReduction's 0.
    assert storage_multiplier(kept) == (TABLE1[model]["storage_multiplier"] or 0)


def test_stored_bytes_count_int64_indices_and_float_maps(build_model):
    image = torch.rand(1, 3, 48, 64) * 255
    with torch.no_grad():
        segnet = build_model("segnet_basic").eval().kept_from_encoder(image)
        fcn = build_model("fcn_basic").eval().kept_from_encoder(image)
        addition = build_model("segnet_basic_encoder_addition").eval().kept_from_encoder(image)
    assert stored_bytes(segnet) == 64 * 24 * 32 * 8
    assert stored_bytes(fcn) == 11 * 24 * 32 * 4
    assert stored_bytes(addition) == 64 * 24 * 32 * (8 + 4)


def test_measure_reports_every_column(build_model):
    row = measure(build_model("fcn_basic"), height=32, width=48, runs=2, warmup=1, progress=False)
    assert row["params"] == 645_956 and row["storage_multiplier"] == 11
    assert row["stored_tensors"] == ["float32[1, 11, 16, 24]"]
    assert row["infer_ms_fp32"] > 0 and row["infer_ms_bf16_channels_last"] > 0


def test_table_ratios_are_against_segnet_basic_of_the_same_session(tmp_path):
    common = {"stored_bytes": 1, "runs": 50, "threads": 2, "device": "cpu", "input": [1, 3, 360, 480]}
    lines = [
        {"model": "segnet_basic", "params": 1_416_075, "storage_multiplier": 1, "infer_ms_fp32": 200.0, "infer_ms_bf16_channels_last": 40.0, **common},
        {"model": "fcn_basic", "params": 645_956, "storage_multiplier": 11, "infer_ms_fp32": 50.0, "infer_ms_bf16_channels_last": 30.0, **common},
    ]
    rows = efficiency_rows(lines)
    assert [r["model"] for r in rows] == ["segnet_basic", "fcn_basic"]
    assert rows[1]["ratio_fp32"] == 0.25 and rows[1]["ratio_bf16_channels_last"] == 0.75
    assert rows[1]["paper_ratio"] == round(24.2 / 52.6, 3)
    jsonl = tmp_path / "bench.jsonl"
    jsonl.write_text("".join(json.dumps(line) + "\n" for line in lines))
    write_efficiency_table(jsonl, tmp_path / "table", command="make bench")
    text = (tmp_path / "table.md").read_text()
    assert "Written by `make bench`" in text and "| FCN-Basic | 645,956 | 0.65 | 11 | 11 |" in text
    assert (tmp_path / "table.csv").read_text().splitlines()[0].startswith("model,paper_name,params")
