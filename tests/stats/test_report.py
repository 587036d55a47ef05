"""python -m segbench.stats.report: one run's i.i.d. and block bootstrap intervals side by side, on hand-made runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import markdown_rows, recorded

from segbench.record.per_image import PerImageRecord
from segbench.stats.report import main


def write_run(folder: Path, right: list[int] | None) -> Path:
    """A run whose test images each have 100 pixels of class 0, right[i] of them predicted right (None: a run
    from before runs kept per-image records)."""
    folder.mkdir(parents=True)
    results = {"choices": {"model": "segnet_basic"}, "test": {"test/G": 0.5, "test/C": 0.25, "test/mIoU": 0.25}}
    if right is not None:
        n = len(right)
        PerImageRecord(
            names=np.array([f"f{i:03d}" for i in range(n)]),
            sequences=np.array(["seq"] * n),
            class_names=np.array(["road", "car"]),
            confusion=np.array([[[r, 100 - r], [0, 0]] for r in right]),
            boundary=np.tile([[10, 10, 8, 8], [10, 10, 8, 8]], (n, 1, 1)),
        ).save(folder / "per_image.npz")
        results["per_image"] = "per_image.npz"
    (folder / "results.json").write_text(json.dumps(recorded(results)))
    return folder


def test_three_independent_images_give_the_hand_computed_interval_in_both_columns(tmp_path):
    """Images of accuracy 20, 50, 80%: too few for a block longer than 1, so both intervals are the i.i.d. one,
    [20, 80] (all three draws the 20% image: probability 1/27 > 2.5%)."""
    run, out = write_run(tmp_path / "run", [20, 50, 80]), tmp_path / "iid-vs-block.md"
    main([str(run), "--out", str(out), "--command", "make report"])
    text = out.read_text()
    assert "Written by `make report` (do not edit by hand)" in text
    assert "3 test images in 1 sequence(s), seq (3)" in text
    (header,) = markdown_rows(text, "Test score (%)")
    assert header[3] == "Blocks of 1 frame"
    assert markdown_rows(text, "G") == [["G", "50.0", "[20.0, 80.0] (±30.0)", "[20.0, 80.0] (±30.0)", "1.00"]]
    (bf,) = markdown_rows(text, "BF")
    assert bf[1:4] == ["80.00", "[80.00, 80.00] (±0.00)", "[80.00, 80.00] (±0.00)"]


def test_a_slow_drift_between_frames_widens_the_block_interval(tmp_path):
    drift = [int(50 + 40 * np.sin(i / 15)) for i in range(200)]
    out = tmp_path / "table.md"
    main([str(write_run(tmp_path / "run", drift)), "--out", str(out)])
    (header,) = markdown_rows(out.read_text(), "Test score (%)")
    assert int(header[3].split()[2]) > 5
    (g,) = markdown_rows(out.read_text(), "G")
    assert float(g[4]) > 1.5


def test_a_run_without_a_per_image_record_is_named_in_one_line(tmp_path, capsys):
    run = write_run(tmp_path / "old", None)
    with pytest.raises(SystemExit) as stopped:
        main([str(run), "--out", str(tmp_path / "x.md")])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {run / 'results.json'} names no per-image record (per_image): the run kept none, so no interval"
    )
