"""`make bench-perf`'s measurements at toy sizes (the real ones belong to the benchmark, never to a test)."""

from __future__ import annotations

import pytest
import torch

from segbench.benchmarks.performance import Settings, conv_gflops_per_s, forward_flops, measure
from segbench.reporting.performance import performance_markdown, verdict

TOY = Settings(inference=((2, 24, 32),), training=(2, 24, 32), inference_memory=(1, 24, 32))


def test_segnet_basic_forward_flops_are_its_convolutions():
    """At 24x32: 4 encoder + 4 decoder 7x7 64-channel convs at sizes 24x32, 12x16, 6x8, 3x4 (the first encoder
    conv has 3 input channels), and the 1x1 classifier: 2 FLOPs per multiply-add."""
    from segbench.utils.config import compose_model

    net = compose_model("segnet_basic")
    pixels = [24 * 32, 12 * 16, 6 * 8, 3 * 4]
    encoder = 2 * 49 * 64 * (3 * pixels[0] + 64 * sum(pixels[1:]))
    decoder = 2 * 49 * 64 * 64 * sum(pixels)
    classifier = 2 * 64 * 11 * pixels[0]
    assert forward_flops(net, torch.rand(1, 3, 24, 32) * 255) == encoder + decoder + classifier


def test_benchmark_measures_every_path_and_the_report_gives_ratios_to_the_roofline():
    results = measure(runs=1, compile_paths=False, settings=TOY)
    inference = results["inference"][0]
    assert inference["setting"] == [2, 24, 32] and inference["conv_gflops_per_s"] > 0
    assert list(inference["ms"]) == [
        "naive (fp32, int64 indices)",
        "bf16 + channels-last, int64 indices",
        "bf16 + channels-last, int64 indices, BN folded",
        "bf16 + channels-last, packed indices",
        "bf16 + channels-last, packed indices, BN folded",
    ]
    assert len(results["training"]["ms"]) == 3 and results["training"]["gflop"] == pytest.approx(3 * inference["gflop"])
    assert [(row["model"], row["measure"]) for row in results["peak_memory_mb"]] == [
        ("segnet_basic", "inference"),
        ("segnet_basic", "training"),
        ("fcn_basic", "inference"),
        ("fcn_basic", "training"),
    ]
    # Sec. 3's argument, at 360x480: 64 x 180 x 240 windows at 2 bits (691,200 bytes) against int64 indices
    # (22,118,400 bytes) and FCN-Basic's 11 fp32 maps of 180x240 plus its indices.
    assert results["stored_bytes"]["segnet_basic, packed indices"] == 691_200
    assert results["stored_bytes"]["segnet_basic, int64 indices"] == 22_118_400
    text = performance_markdown(results, "performance.json", "make bench-perf")
    assert "### Inference, SegNet-Basic, 24x32 batch 2" in text and "make bench-perf" in text


def test_verdict_takes_the_fastest_path_against_the_roofline():
    entry = {"gflop": 10.0, "conv_gflops_per_s": 100.0, "ms": {"naive (fp32, int64 indices)": 300.0, "fast": 110.0}}
    assert verdict(entry) == "best: fast, 1.10x the roofline (met; goal 1.2x)"  # roofline 100 ms
    entry["ms"]["fast"] = 150.0
    assert verdict(entry) == "best: fast, 1.50x the roofline (not met; goal 1.2x)"


def test_bare_conv_throughput_is_positive_and_finite():
    from rich.progress import Progress

    with Progress(disable=True) as progress:
        rate = conv_gflops_per_s(1, 16, 16, runs=1, progress=progress)
    assert 0 < rate < float("inf")
