"""Table 1's measured columns: storage derived from what the decoders keep, and the report's arithmetic."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import markdown_rows, measured_provenance
from test_entry_points import run

from segbench import precision
from segbench.benchmarks.measure_efficiency import decoder_flops, measure, storage_multiplier, stored_bytes
from segbench.conformance import Variant
from segbench.paper import table1_row
from segbench.reporting.efficiency_table import efficiency_rows, write_efficiency_table
from segbench.study import variants

# The decoders after the paper, by design (conf/model/zoo/): nothing kept by resizing or sub-pixel convolution, the
# whole 64-channel map by U-Net's concatenation, the indices plus a K-channel map by the bottleneck skip.
ZOO_STORAGE = {
    "zoo/resize_conv": 0,
    "zoo/pixel_shuffle": 0,
    "zoo/unet_concat": 64,
    "zoo/segnet_basic_bottleneck_skip": 11,
}


@pytest.mark.parametrize("model", [*variants("table1"), *ZOO_STORAGE])
def test_storage_multiplier_equals_table1_or_the_design(model, build_model):
    """The Table 1 grid's variants keep what Table 1 says (looked up by their paper name), the zoo's its design."""
    with torch.no_grad():
        kept = build_model(model).eval().kept_from_encoder(torch.rand(1, 3, 48, 64) * 255)
    if model in ZOO_STORAGE:
        assert storage_multiplier(kept) == ZOO_STORAGE[model]
        assert any(not t.is_floating_point() for t in kept) == (model == "zoo/segnet_basic_bottleneck_skip")
    else:
        # Table 1 prints "n/a" for FCN-Basic-NoAddition: it keeps nothing, like NoAddition-NoDimReduction's 0.
        assert storage_multiplier(kept) == (table1_row(Variant(model).meta.paper_name)["storage_multiplier"] or 0)


def test_stored_bytes_count_packed_indices_and_float_maps(build_model):
    """Inference keeps 2-bit codes, four to a byte (Sec. 3): 64 x 24 x 32/4 bytes beside fp32 maps of 64 x 24 x 32."""
    image = torch.rand(1, 3, 48, 64) * 255
    with torch.no_grad():
        segnet = build_model("segnet_basic").eval().kept_from_encoder(image)
        fcn = build_model("fcn_basic").eval().kept_from_encoder(image)
        addition = build_model("segnet_basic_encoder_addition").eval().kept_from_encoder(image)
    assert stored_bytes(segnet) == 64 * 24 * 8
    assert stored_bytes(fcn) == 11 * 24 * 32 * 4
    assert stored_bytes(addition) == 64 * 24 * 8 + 64 * 24 * 32 * 4


def test_measure_reports_every_column(build_model, monkeypatch):
    def bf16_channels_last_fastest(net, shape, training, paths):  # injected: no test times the machine
        return {path.label: 1.0 if path.label == "bf16-mixed, channels-last" else 2.0 for path in paths}

    monkeypatch.setattr(precision, "probe", bf16_channels_last_fastest)
    row = measure(build_model("fcn_basic"), height=32, width=48, runs=2, warmup=1, progress=False)
    assert row["params"] == 645_956 and row["storage_multiplier"] == 11 and row["decoder_params"] == 33_792
    assert row["stored_tensors"] == ["float32[1, 11, 16, 24]"]
    assert row["infer_ms_fp32"] > 0 and row["provenance"]["threads"] == torch.get_num_threads()
    if precision.onednn_bf16_kernels():  # timed, unless stopped at 4x fp32 (oneDNN's emulation on AVX-512)
        assert row["infer_ms_bf16_channels_last"] is None or row["infer_ms_bf16_channels_last"] > 0
        assert row["auto_pick"] == "bf16-mixed, channels-last"
    else:  # not run at all: PyTorch's reference bf16 convolution takes minutes at 360x480; nor picked
        assert row["infer_ms_bf16_channels_last"] is None and row["auto_pick"] == "32-true, contiguous"


def test_table_ratios_are_against_segnet_basic_of_the_same_session(tmp_path):
    common = {"stored_bytes": 1, "runs": 50, "device": "cpu", "input": [1, 3, 360, 480]}
    common["provenance"] = measured_provenance()
    lines = [
        {
            "model": "segnet_basic",
            "params": 1_416_075,
            "storage_multiplier": 1,
            "infer_ms_fp32": 200.0,
            "infer_ms_bf16_channels_last": 40.0,
            **common,
        },
        {
            "model": "fcn_basic",
            "params": 645_956,
            "decoder_params": 645_956 - 612_032 - 132,  # less the encoder and the classifier
            "decoder_flops": 2_504_000_000,
            "storage_multiplier": 11,
            "infer_ms_fp32": 50.0,
            "infer_ms_bf16_channels_last": 30.0,
            **common,
        },
    ]
    rows = efficiency_rows(lines)
    assert [r["model"] for r in rows] == ["segnet_basic", "fcn_basic"]
    assert rows[1]["ratio_fp32"] == 0.25 and rows[1]["ratio_bf16_channels_last"] == 0.75
    assert rows[1]["paper_ratio"] == round(24.2 / 52.6, 3)
    jsonl = tmp_path / "bench.jsonl"
    jsonl.write_text("".join(json.dumps(line) + "\n" for line in lines))
    write_efficiency_table(jsonl, tmp_path / "table", command="make bench")
    text = (tmp_path / "table.md").read_text()
    assert "Written by `make bench`" in text
    assert markdown_rows(text, "FCN-Basic")[0][:7] == ["FCN-Basic", "645,956", "0.65", "33,792", "2.5", "11", "11"]
    assert markdown_rows(text, "SegNet-Basic")[0][3:5] == ["not measured"] * 2  # a line from before they were
    assert (tmp_path / "table.csv").read_text().splitlines()[0].startswith("model,paper_name,params")


def test_decoder_flops_count_segnet_basics_four_7x7_convolutions(build_model):
    """2 FLOPs per multiply-add of each 64->64 7x7 decoder conv at 32x48, 16x24, 8x12 and 4x6; unpooling none."""
    flops = decoder_flops(build_model("segnet_basic").eval(), torch.rand(1, 3, 32, 48) * 255)
    assert flops == 2 * 64 * 64 * 49 * (32 * 48 + 16 * 24 + 8 * 12 + 4 * 6)


def random_image() -> torch.Tensor:
    """A 32x48 image: every encoder level has an even size, so each 2x2 pooling window is whole."""
    return torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(0)) * 255


# Channels of the float map stage 1 adds to its densified map (Table 1's storage when that is over 1).
FLOAT_CHANNELS_ADDED_AT_STAGE_1 = {
    "segnet_basic": 0,
    "segnet_basic_encoder_addition": 64,
    "segnet_basic_single_channel_decoder": 0,
    "bilinear_interpolation": 0,
    "fcn_basic": 11,
    "fcn_basic_no_addition": 0,
    "fcn_basic_no_dim_reduction": 64,
    "fcn_basic_no_addition_no_dim_reduction": 0,
}


@pytest.mark.parametrize("model", sorted(FLOAT_CHANNELS_ADDED_AT_STAGE_1))
def test_declared_float_maps_are_what_stage_1_adds(model, build_model):
    """The float maps declared kept at level 0 are, channel for channel and value for value, what stage 1 adds."""
    net = build_model(model).eval()
    stage = net.decoder.stages[1]
    record = {}
    stage.densify.register_forward_hook(lambda module, args, output: record.update(densified=output))
    stage.register_forward_hook(lambda module, args, output: record.update(output=output))
    with torch.no_grad():
        kept_maps = [t for t in net.kept_from_encoder(random_image()) if t.is_floating_point()]
        net(random_image())
    added = record["output"] - record["densified"]
    added_channels = 0 if torch.equal(record["output"], record["densified"]) else added.shape[1]
    assert added_channels == FLOAT_CHANNELS_ADDED_AT_STAGE_1[model]
    assert sum(t.shape[1] for t in kept_maps) == added_channels
    if kept_maps:
        assert torch.allclose(sum(kept_maps), added, rtol=1e-4, atol=1e-3)


def test_a_bench_sweep_appends_a_line_per_variant_and_exits_zero(tmp_path):
    """`make bench-table1`'s command at a tiny size: each job's line in the session's JSONL and its bench.json."""
    jsonl = tmp_path / "efficiency.jsonl"
    overrides = ["model=segnet_basic,fcn_basic", "height=24", "width=32", "runs=1", "warmup=0", "progress=false"]
    overrides.append("auto_pick=false")  # no test probes the machine
    result = run("bench.py", tmp_path, "--multirun", *overrides, f"jsonl={jsonl}", f"hydra.sweep.dir={tmp_path}/sweep")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [(line["model"], line["stored_bytes"]) for line in lines] == [
        ("segnet_basic", 64 * 12 * 4),  # packed 2-bit indices of the 12 x 16 pooled map, four to a byte
        ("fcn_basic", 11 * 12 * 16 * 4),
    ]
    assert json.loads((tmp_path / "sweep" / "1" / "bench.json").read_text()) == lines[1]


def test_a_bf16_time_not_taken_shows_as_such_and_breaks_no_ratio():
    common = {"stored_bytes": 1, "runs": 50, "device": "cpu", "input": [1, 3, 360, 480]}
    common["provenance"] = measured_provenance()
    lines = [
        {"model": "segnet_basic", "params": 1, "storage_multiplier": 1, "infer_ms_fp32": 200.0, **common},
        {"model": "fcn_basic", "params": 1, "storage_multiplier": 11, "infer_ms_fp32": 50.0, **common},
    ]
    for line in lines:  # a CPU without oneDNN bf16 kernels: bf16 not run, auto picked fp32
        line |= {"infer_ms_bf16_channels_last": None, "auto_pick": "32-true, contiguous"}
    rows = efficiency_rows(lines)
    assert rows[1]["ratio_fp32"] == 0.25 and rows[1]["ratio_bf16_channels_last"] is None
    assert rows[1]["auto_pick"] == "32-true, contiguous"
