"""How far each cell moved between two trainings (segbench.reporting.rerun_drift), on hand-made runs."""

from __future__ import annotations

from conftest import markdown_rows
from test_uncertainty import per_image, write_recorded

from segbench.reporting.rerun_drift import write_drift


def test_a_first_score_inside_the_second_trainings_interval_and_one_outside(tmp_path):
    """The second training's images score 20, 50 and 80% (G interval [20, 80], i.i.d. over three images; C and
    mIoU half of it, class 1 being only predicted); the first training's SegNet-Basic scores are the same, inside;
    FCN-Basic's G of 90% (C, mIoU 45%) lie outside, its BF (80%, every image's) inside."""
    again, first = tmp_path / "again", tmp_path / "first"
    for model in ("segnet_basic", "fcn_basic"):
        write_recorded(again / model, model, "median_frequency", per_image([20, 50, 80]))
    write_recorded(first / "segnet_basic", "segnet_basic", "median_frequency", None)  # G 50%: no record
    write_recorded(first / "fcn_basic", "fcn_basic", "median_frequency", per_image([90, 90, 90]))
    rows = write_drift(again, first, tmp_path / "drift", command="make report")
    by_cell = {(row["variant"], row["measure"]): row for row in rows}
    assert list(dict.fromkeys(row["variant"] for row in rows)) == ["SegNet-Basic", "FCN-Basic"]  # the paper's order
    segnet, fcn = by_cell["SegNet-Basic", "G"], by_cell["FCN-Basic", "G"]
    assert (segnet["first"], segnet["again"], segnet["again_low"], segnet["again_high"]) == (50.0, 50.0, 20.0, 80.0)
    assert segnet["inside"] and segnet["moved"] == 0.0
    assert (fcn["first"], fcn["moved"], fcn["inside"]) == (90.0, -40.0, False)
    text = (tmp_path / "drift.md").read_text()
    assert "Written by `make report`" in text and "5 of 8 scores of the\n2 cells" in text
    assert markdown_rows(text, "FCN-Basic")[0][3:] == ["90.0", "50.0 [20.0, 80.0]", "-40.0", "no"]
