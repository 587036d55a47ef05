"""make bench-fc6's report: each fc6's two times and their ratio, from the measurement lines."""

from __future__ import annotations

from segbench.benchmarks.fc6 import write_report
from segbench.record import provenance


def test_the_fc6_report_sets_the_library_convolution_beside_the_matrix_product(tmp_path):
    origin = provenance.collect(device="cpu").model_dump()
    lines = [
        {"network": "FCN", "scale": "CPU grid", "pass": "training step", "fc6": "512->4096 7x7",
         "input": [5, 512, 4, 5], "library_conv_ms": 55_000.0, "gemm_ms": 1_250.0, "threads": 1, "runs": 3,
         "provenance": origin},
        {"network": "DeepLab-LargeFOV", "scale": "paper", "pass": "inference", "fc6": "512->1024 3x3 rate 12",
         "input": [1, 512, 45, 60], "library_conv_ms": 700.0, "gemm_ms": 700.0, "threads": 1, "runs": 3,
         "provenance": origin},
    ]  # fmt: skip
    out = tmp_path / "fc6.md"
    write_report(lines, tmp_path / "fc6.json", out, "make bench-fc6")
    text = out.read_text()
    assert "Written by `make bench-fc6`" in text and "Threads: 1." in text and "(about 3 steps, 30 inference" in text
    rows = [line for line in text.splitlines() if line.startswith("| FCN") or line.startswith("| DeepLab")]
    assert [cell.strip() for cell in rows[0].strip("|").split("|")] == [
        "FCN", "512->4096 7x7", "training step", "CPU grid: 5 x 4x5 maps", "55,000.0", "1,250.0", "44.0"
    ]  # fmt: skip
    assert "| inference " in rows[1] and rows[1].rstrip(" |").endswith("1.0")
