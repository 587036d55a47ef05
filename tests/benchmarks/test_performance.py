"""`make bench-perf`'s measurements at toy sizes (the real ones belong to the benchmark, never to a test)."""

from __future__ import annotations

import time

import pytest
import torch
from conftest import markdown_rows, measured_provenance

from segbench import precision
from segbench.benchmarks import performance
from segbench.benchmarks.performance import NAIVE, Settings, conv_gflops_per_s, forward_flops, measure
from segbench.precision import FP32, ComputePath
from segbench.reporting.performance import performance_markdown, verdict

TOY = Settings(
    inference=((2, 24, 32),),
    training=(2, 24, 32),
    inference_memory=(1, 24, 32),
    auto_inference=(1, 24, 32),
    auto_training=(2, 24, 32),
)


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


def injected_probe(net, shape, training, paths):
    """What the probe would say if fp32 channels-last were the fastest (the tests never time the machine)."""
    return {path.label: 100.0 if path == ComputePath(FP32, True) else 200.0 for path in paths}


def test_benchmark_measures_every_path_and_the_report_gives_ratios_to_the_roofline(monkeypatch):
    monkeypatch.setattr(precision, "probe", injected_probe)
    # peak memory in this process, not a fresh one per measurement (eight interpreters; one is tested below)
    monkeypatch.setattr(performance, "_peak_memory", performance.peak_memory_in_this_process)
    results = measure(runs=1, compile_paths=False, settings=TOY)
    inference = results["inference"][0]
    assert inference["setting"] == [2, 24, 32] and inference["auto_pick"] == "32-true, channels-last"
    four = ["32-true, contiguous", "32-true, channels-last", "bf16-mixed, contiguous", "bf16-mixed, channels-last"]
    runnable = four if precision.onednn_bf16_kernels() else four[:2]  # bf16 only where oneDNN has its kernels
    assert list(inference["conv_gflops_per_s"]) == runnable
    assert list(inference["ms"]) == [
        "32-true, contiguous, int64 indices (naive)",
        *(f"{label}, int64 indices" for label in runnable[1:]),
        "32-true, channels-last, int64 indices, BN folded",
        "32-true, channels-last, packed indices",
        "32-true, channels-last, packed indices, BN folded",
    ]
    assert len(results["training"]["ms"]) == len(runnable) + 1 and results["training"]["gflop"] == pytest.approx(
        3 * inference["gflop"]
    )
    assert [(row["model"], row["measure"], row["auto_pick"]) for row in results["auto"]] == [
        ("segnet_basic", "training", "32-true, channels-last"),
        ("segnet_basic", "inference", "32-true, channels-last"),
        ("fcn_basic", "training", "32-true, channels-last"),
        ("fcn_basic", "inference", "32-true, channels-last"),
    ]
    for row in results["auto"]:  # the pick's benchmark time over the fastest benchmark time
        measured = [ms for ms in row["ms"].values() if ms is not None]
        # the benchmark times the machine for real: on a loaded one it may stop the (injected) pick as too slow
        picked = row["ms"]["32-true, channels-last"]
        assert row["pick_over_best"] == (None if picked is None else pytest.approx(picked / min(measured)))
    assert [(row["model"], row["measure"], row["after_path"]) for row in results["peak_memory_mb"]] == [
        ("segnet_basic", "inference", "32-true, channels-last"),
        ("segnet_basic", "training", "32-true, channels-last"),
        ("fcn_basic", "inference", "32-true, channels-last"),
        ("fcn_basic", "training", "32-true, channels-last"),
    ]
    # Sec. 3's argument, at 360x480: 64 x 180 x 240 windows at 2 bits (691,200 bytes) against int64 indices
    # (22,118,400 bytes) and FCN-Basic's 11 fp32 maps of 180x240 plus its indices.
    assert results["stored_bytes"]["segnet_basic, packed indices"] == 691_200
    assert results["stored_bytes"]["segnet_basic, int64 indices"] == 22_118_400
    assert results["provenance"]["threads"] == torch.get_num_threads()
    text = performance_markdown(results, "performance.json", "make bench-perf")
    assert "### Inference, SegNet-Basic, 24x32 batch 2" in text and "make bench-perf" in text
    assert "auto's pick within 1.05x of the fastest measured path in every case" in text


def test_peak_memory_is_measured_in_a_fresh_process():
    """A training step of SegNet-Basic at batch 2, 48x64 keeps, among others, its eight 64-channel convolution
    outputs (encoder and decoder at 48x64, 24x32, 12x16 and 6x8) and their gradients: 2 x 2 x 64 x (3,072 + 768 +
    192 + 48) x 2 fp32 values, 8.4 MB at least."""
    grown = performance._peak_memory("segnet_basic", "training", "32-true, contiguous", (2, 48, 64))
    assert 8.4 < grown < 1000


def test_a_path_far_slower_than_the_naive_one_is_stopped_at_its_warm_up():
    from rich.progress import Progress

    def slow_step() -> None:
        for module in [torch.nn.Identity()] * 50:  # the limit is checked after each module
            time.sleep(0.01)
            module(torch.zeros(1))

    with Progress(disable=True) as progress:
        started = time.perf_counter()
        assert performance._median_ms(slow_step, 3, 1, progress, "slow", limit_ms=50.0) is None
        assert time.perf_counter() - started < 0.4  # stopped in its first run (0.5 s) past 50 + 100 ms of slack
        assert performance._median_ms(slow_step, 1, 1, progress, "slow") >= 500


def test_verdict_takes_the_fastest_path_against_the_roofline():
    entry = {
        "gflop": 10.0,
        "conv_gflops_per_s": {"32-true, contiguous": 50.0, "32-true, channels-last": 100.0},  # the faster taken
        "ms": {NAIVE: 300.0, "fast": 110.0, "stopped": None},
        "auto_pick": "32-true, channels-last",
    }
    assert verdict(entry) == (
        "best: fast, 1.10x the roofline (met; goal 1.2x); auto picks 32-true, channels-last"
    )  # roofline 100 ms
    entry["ms"]["fast"] = 150.0
    assert verdict(entry).startswith("best: fast, 1.50x the roofline (not met; goal 1.2x)")


def test_bare_conv_throughput_is_positive_and_finite_in_each_runnable_path():
    from rich.progress import Progress

    with Progress(disable=True) as progress:
        rates = conv_gflops_per_s(1, 16, 16, runs=1, progress=progress)
    assert 0 < rates["32-true, contiguous"] < float("inf") and 0 < rates["32-true, channels-last"] < float("inf")


def test_the_epoch_section_sets_each_precision_against_autos_own_epoch():
    from segbench.reporting.performance import epoch_section

    def epoch(asked: str, precision: str, channels_last: bool, decided_by: str, fit: float) -> dict:
        path = {"precision": precision, "channels_last": channels_last, "decided_by": decided_by}
        return {"precision": asked, "compute_path": path, "steps": 10, "fit_seconds": fit, "wall_seconds": fit + 20}

    epochs = {
        "provenance": measured_provenance(cpu="AMD EPYC (no bf16 units)"),
        "onednn_bf16_kernels": False,
        "epochs": [
            epoch("auto", "32-true", False, "probe", 60.0),
            epoch("32-true", "32-true", True, "explicit", 66.0),
            epoch("bf16-mixed", "bf16-mixed", True, "explicit", 600.0),
        ],
    }
    text = epoch_section(epochs, "train-epoch.json")
    assert markdown_rows(text, "auto") == [["auto", "32-true, contiguous", "probe", "10", "60", "80", "1.00"]]
    assert markdown_rows(text, "bf16-mixed") == [
        ["bf16-mixed", "bf16-mixed, channels-last", "explicit", "10", "600", "620", "10.00"]
    ]
    assert "**AMD EPYC (no bf16 units)** (flags: avx2)" in text
