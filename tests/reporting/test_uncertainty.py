"""Table 1's report with error bars (issue 27): seeds as a grid axis, intervals from per-image records, Sec. 3.3's
conclusions judged against the noise; on hand-made runs with tiny per-image records."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
from conftest import markdown_rows
from test_grid_report import complete, error_of, run_report, write_run

from segbench.record.per_image import PerImageRecord
from segbench.reporting import conclusions


def per_image(right: list[int], pixels: int = 100) -> PerImageRecord:
    """Test images whose `pixels` pixels are all of class 0, right[i] of them predicted right (the others as class
    1): image i's pixel accuracy is right[i] / pixels. Each class has 10 boundary pixels, 8 of them matched."""
    confusion = np.array([[[r, pixels - r], [0, 0]] for r in right])
    n = len(right)
    return PerImageRecord(
        names=np.array([f"f{i:03d}" for i in range(n)]),
        sequences=np.array(["seq"] * n),
        class_names=np.array(["road", "car"]),
        confusion=confusion,
        boundary=np.tile([[10, 10, 8, 8], [10, 10, 8, 8]], (n, 1, 1)),
    )


def write_recorded(folder: Path, model: str, balancing: str, record: PerImageRecord | None, seed: int = 0) -> Path:
    """A complete run whose test scores are its per-image record's, as the pipeline writes them (none: a run from
    before runs kept one, scored as if it had)."""
    scores = (record or per_image([50, 50, 50])).scores()
    results = complete(model, balancing, scores, {"G": 0.9, "C": 0.9, "mIoU": 0.8}) | {"seed": seed}
    if record is not None:
        results["per_image"] = "per_image.npz"
    folder = write_run(folder, results)
    if record is not None:
        record.save(folder / "per_image.npz")
    return folder


def claims(text: str) -> dict[str, list[str]]:
    return {cells[0]: cells[1:] for cells in markdown_rows(text) if len(cells) == 4}


def table1_cells(text: str, variant: str) -> dict[str, str]:
    text = text.split("\n## ")[0]  # Table 1 itself, before the sections that read it
    (header,) = markdown_rows(text, "Variant")[:1]
    (row,) = markdown_rows(text, variant)
    return dict(zip(header, row))


def test_a_one_seed_cell_shows_its_hand_computed_interval_over_images(tmp_path):
    """Three images of accuracy 20, 50 and 80% (too few for a block longer than 1): each resample's G is the mean
    of three draws, all three the 20% image with probability 1/27 > 2.5%, so the 95% interval is [20, 80]."""
    write_recorded(tmp_path / "runs" / "0", "segnet_basic", "median_frequency", per_image([20, 50, 80]))
    out = tmp_path / "report"
    run_report(tmp_path / "runs", "--out", out)
    text = (out / "table1.md").read_text()
    cell = table1_cells(text, "SegNet-Basic")
    assert cell["MF test G"] == "50.0 ±30.0 / 82.7 (-32.7)"
    assert cell["MF run"] == "930 steps (30 ep.), seed 0: ± images only"
    assert cell["MF test BF"].startswith("80.00 ±0.00 / ")  # every image's boundaries 8 of 10 matched
    assert cell["MF train G"] == "90.0 / 94.7 (-4.7)"  # no per-image record of the train split: no ±
    assert "95% percentile interval of the test score from 2,000 moving-block bootstrap resamples" in text
    assert "here 1 frame)" in text and "over test images only" in text
    with (out / "table1.csv").open() as handle:
        (row,) = csv.DictReader(handle)
    interval = [row[f"median_frequency_test_G_{end}"] for end in ("low", "high", "pm", "sd")]
    assert interval == ["20.0", "80.0", "30.0", ""]
    assert (row["median_frequency_seeds"], row["median_frequency_interval"]) == ("1", "images only")
    assert row["median_frequency_block"] == "1" and row["median_frequency_test_G"] == "50.0"
    tex = (out / "table1.tex").read_text()
    assert "50.0 $\\pm$30.0 / 82.7 (-32.7)" in tex


def test_three_seeds_that_disagree_show_n_3_their_mean_and_a_wider_interval(tmp_path):
    """Seeds 0, 1, 2 score every image 20 points apart (G 30, 50, 70): the mean is 50, their sd 20, and the
    interval, drawing seeds as well as images, is wider than the one seed's [20, 80] but inside [0, 100], the
    lowest and highest a resample can reach."""
    runs = tmp_path / "runs"
    for seed, shift in enumerate((-20, 0, 20)):
        record = per_image([20 + shift, 50 + shift, 80 + shift])
        write_recorded(runs / f"seed={seed}", "segnet_basic", "median_frequency", record, seed=seed)
    write_recorded(runs / "one", "fcn_basic", "median_frequency", per_image([20, 50, 80]))
    out = tmp_path / "report"
    run_report(runs, "--out", out, "--summary", tmp_path / "summary.md")
    text = (out / "table1.md").read_text()
    segnet, fcn = table1_cells(text, "SegNet-Basic"), table1_cells(text, "FCN-Basic")
    assert segnet["MF run"] == "930 steps (30 ep.), seeds 0, 1, 2: ± seeds and images"
    assert fcn["MF test G"].startswith("50.0 ±30.0 / ")
    half = float(segnet["MF test G"].split(" / ")[0].removeprefix("50.0 ±"))
    assert 30 < half <= 50
    assert "A cell of several seeds (its run column names them) shows their mean" in text
    with (out / "table1.csv").open() as handle:
        row = {r["model"]: r for r in csv.DictReader(handle)}["segnet_basic"]
    assert (row["median_frequency_seeds"], row["median_frequency_seed_list"]) == ("3", "seeds 0, 1, 2")
    assert (row["median_frequency_test_G"], row["median_frequency_test_G_sd"]) == ("50.0", "20.0")
    assert row["median_frequency_interval"] == "seeds and images"
    low, high = float(row["median_frequency_test_G_low"]), float(row["median_frequency_test_G_high"])
    assert 0 <= low < 20 and 80 < high <= 100
    # Every seed of the cell counts in the table; the summary shows the same ±.
    assert all(markdown_rows(text, str(runs / f"seed={seed}"))[0][-1] == "yes" for seed in range(3))
    summary = table1_cells((tmp_path / "summary.md").read_text(), "SegNet-Basic")
    assert summary["MF test G"] == f"50.0 ±{half:.1f} (82.7)"


def test_seeds_without_per_image_records_show_their_mean_and_sd_and_no_interval(tmp_path):
    runs = tmp_path / "runs"
    for seed, shift in enumerate((-10, 0, 10)):
        record = per_image([20 + shift, 50 + shift, 80 + shift])
        folder = write_recorded(runs / f"seed={seed}", "segnet_basic", "median_frequency", record, seed=seed)
        if seed == 2:  # one seed without a record: an interval over the other two would understate the cell's
            (folder / "per_image.npz").unlink()
            results = json.loads((folder / "results.json").read_text())
            (folder / "results.json").write_text(json.dumps(results | {"per_image": None}))
    out = tmp_path / "report"
    run_report(runs, "--out", out)
    text = (out / "table1.md").read_text()
    cell = table1_cells(text, "SegNet-Basic")
    assert cell["MF run"] == "930 steps (30 ep.), seeds 0, 1, 2: mean, sd"
    assert cell["MF test G"] == "50.0 sd 10.0 / 82.7 (-32.7)"
    assert "No run here has a per-image record" not in text
    assert "No interval for SegNet-Basic (MF): not every run of the cell has a per-image record" in text


def test_a_grid_without_per_image_records_renders_by_value_and_says_so(tmp_path):
    runs = tmp_path / "runs"
    write_recorded(runs / "0", "segnet_basic", "median_frequency", None)
    write_recorded(runs / "1", "fcn_basic_no_addition", "median_frequency", None)
    out = tmp_path / "report"
    run_report(runs, "--out", out)
    text = (out / "table1.md").read_text()
    assert table1_cells(text, "SegNet-Basic")["MF test G"] == "50.0 / 82.7 (-32.7)"
    assert table1_cells(text, "SegNet-Basic")["MF run"] == "930 steps (30 ep.)"
    assert "No run here has a per-image record (`per_image.npz`" in text and "±" not in text
    assert "Ours by value (no run here has a per-image record" in text
    similar = claims(text)["SegNet-Basic beats FCN-Basic-NoAddition, the variant with the most similar decoder"]
    assert similar[1] == "does not hold (0/4), 4 comparisons await runs"


def test_identical_cells_are_within_noise_and_a_clearly_better_cell_holds(tmp_path):
    """SegNet-Basic and FCN-Basic-NoAddition share one per-image record: every difference is 0 in every resample.
    FCN-Basic gets every image 30 pixels of 100 more right: +30 points of G, far outside the noise, and the same
    BF (within noise)."""
    generator = np.random.default_rng(0)
    right = [int(r) for r in generator.integers(60, 70, size=40)]
    same = per_image(right)
    runs = tmp_path / "runs"
    write_recorded(runs / "0", "segnet_basic", "median_frequency", same)
    write_recorded(runs / "1", "fcn_basic_no_addition", "median_frequency", same)
    write_recorded(runs / "2", "fcn_basic", "median_frequency", per_image([r + 30 for r in right]))
    out = tmp_path / "report"
    run_report(runs, "--out", out)
    text = (out / "table1.md").read_text()
    checked = claims(text)
    similar = checked["SegNet-Basic beats FCN-Basic-NoAddition, the variant with the most similar decoder"]
    assert similar[1] == "holds 0, within noise 4, reversed 0 (of 4, against the noise); 4 comparisons await runs"
    assert similar[2].startswith("SegNet-Basic MF G − FCN-Basic-NoAddition MF G: +0.0 [+0.0, +0.0] within noise; ")
    encoder = checked["Encoder feature maps matter: FCN-Basic beats FCN-Basic-NoAddition"]
    assert encoder[1] == "holds 3, within noise 1, reversed 0 (of 4, against the noise); 4 comparisons await runs"
    # C and mIoU are class 0's accuracy and IoU over two (class 1 is predicted, never true): +15 points in every
    # resample; BF is unchanged.
    assert "FCN-Basic MF BF − FCN-Basic-NoAddition MF BF: +0.00 [+0.00, +0.00] within noise" in encoder[2]
    # "As well as": SegNet-Basic against FCN-Basic, 30 points apart on G: wholly outside ±2.5.
    equal = checked[next(claim for claim in checked if claim.startswith("SegNet-Basic performs as well as"))]
    assert equal[1].startswith("holds 1, within noise 0, reversed 3 (of 4, against the noise)")
    assert "SegNet-Basic MF G − FCN-Basic MF G: -30.0 [-30.0, -30.0] reversed: beyond ±2.5" in equal[2]
    # The training comparisons have no per-image record: by value, as before.
    training = checked["SegNet-Basic, the larger decoder, reaches a higher training accuracy than FCN-Basic"]
    assert training[1] == "does not hold (0/3), 3 comparisons await runs"


def test_two_runs_of_one_cell_and_seed_are_refused_in_one_line(tmp_path, capsys):
    runs = tmp_path / "runs"
    write_recorded(runs / "a", "segnet_basic", "median_frequency", per_image([20, 50, 80]), seed=1)
    write_recorded(runs / "b", "segnet_basic", "median_frequency", per_image([20, 50, 80]), seed=1)
    assert error_of(capsys, runs, "--out", tmp_path / "report") == (
        "error: two complete runs of Table 1 cell model=segnet_basic balancing=median_frequency seed=1: "
        f"{runs / 'a' / 'results.json'} and {runs / 'b' / 'results.json'}; pass only one of them"
    )


def test_table3s_selected_checkpoint_shows_its_interval_over_images_and_its_milestones_none(tmp_path):
    folder = write_recorded(tmp_path / "runs" / "segnet", "table3/segnet", "natural", per_image([20, 50, 80]))
    results = json.loads((folder / "results.json").read_text())
    results["milestones"] = {"370": results["test"]}
    (folder / "results.json").write_text(json.dumps(results))
    out = tmp_path / "report"
    run_report(tmp_path / "runs", "--out", out)
    text = (out / "table3.md").read_text()
    milestone, _, _, selected = markdown_rows(text, "SegNet")
    assert milestone[1:4] == ["step 370", "", "50.00"]  # no per-image record at a milestone: no ±
    assert selected[1] == "step 930 (selected)" and selected[3] == "50.00 ±30.00 / 90.40 (-40.40)"
    assert "moving-block bootstrap resamples" in text
    with (out / "table3.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["point"], row["G_low"], row["G_high"], row["G_pm"]) for row in rows if row["step"]] == [
        ("milestone", "", "", ""), ("selected", "20.0", "80.0", "30.0")
    ]  # fmt: skip


def test_section_4s_claims_are_judged_against_the_noise_where_the_networks_kept_per_image_records(tmp_path):
    runs = tmp_path / "runs"
    write_recorded(runs / "deeplab", "table3/deeplab_largefov", "natural", per_image([20, 50, 80] * 4))
    sharper = per_image([90, 95, 99] * 4)  # and every boundary pixel matched: BF 100 against 80
    sharper = dataclasses.replace(sharper, boundary=np.full_like(sharper.boundary, 10))
    write_recorded(runs / "crf", "table3/deeplab_largefov_densecrf", "natural", sharper)
    write_recorded(runs / "fcn", "table3/fcn", "natural", None)  # from before per-image records: by value
    out = tmp_path / "report"
    run_report(runs, "--out", out)
    said = claims((out / "table3.md").read_text())
    crf = said["The dense CRF improves DeepLab-LargeFOV's boundaries (BF)"]
    assert crf == ["holds (1/1)", "holds 1, within noise 0, reversed 0 (of 1, against the noise)", ""]
    fcn_deconv = said["FCN with learnt deconvolution is clearly better than with fixed bilinear upsampling"]
    assert fcn_deconv[1] == "not checked: no complete run of FCN (learnt deconv) (NF)"
    assert said["SegNet and DeconvNet achieve the highest scores in all the metrics"][1] == (
        "not checked: no complete run of SegNet (NF), FCN (learnt deconv) (NF), DeconvNet (NF)"
    )


def test_each_variant_is_read_against_the_reference_paired_on_the_test_images(tmp_path):
    """Against SegNet-Basic (20 images at 50%): a decoder at 80% is higher by 30 [30, 30], one at 50% is within
    noise at 0 [0, 0], one at 20% lower; a variant the paper lacks is read like the paper's; `--reference` picks
    another model."""
    runs = tmp_path / "runs"
    for index, (model, right) in enumerate(
        (("segnet_basic", 50), ("my_decoder", 80), ("fcn_basic", 50), ("bilinear_interpolation", 20))
    ):
        write_recorded(runs / str(index), model, "median_frequency", per_image([right] * 20))
    out = tmp_path / "report"
    run_report(runs, "--out", out, "--summary", tmp_path / "summary.md")
    for text in ((out / "table1.md").read_text(), (tmp_path / "summary.md").read_text()):
        section = text.split("## Each variant against SegNet-Basic\n")[1].split("\n## ")[0]
        header, *body = markdown_rows(section)
        assert header[:3] == ["Variant", "Balancing", "Δ test G"]
        rows = {row[0]: row[2] for row in body}
        assert rows == {
            "Bilinear-Interpolation": "-30.0 [-30.0, -30.0] lower",
            "FCN-Basic": "+0.0 [+0.0, +0.0] within noise",
            "my_decoder": "+30.0 [+30.0, +30.0] higher",
        }
        words = section.split("In words, each against SegNet-Basic:\n\n")[1].strip().splitlines()
        assert words == [
            "- **Bilinear-Interpolation** (MF): lower on G, C and mIoU; within noise on BF.",
            "- **FCN-Basic** (MF): within noise on G, C, mIoU and BF.",
            "- **my_decoder** (MF): higher on G, C and mIoU; within noise on BF.",
        ]  # every image's boundary pixels alike: BF the same for all
    run_report(runs, "--out", out, "--reference", "fcn_basic")
    text = (out / "table1.md").read_text()
    assert "## Each variant against FCN-Basic" in text and "| SegNet-Basic " in text


def test_the_reading_in_words_says_what_a_decoder_keeps_beside_the_reference():
    words = ["higher", "higher", "within noise", "lower"]
    assert conclusions.in_words("U-Net", "MF", words, 6_000_000, 1_500_000) == (
        "- **U-Net** (MF, keeping 6,000,000 bytes from the encoder, 4x the reference's): higher on G and C; "
        "within noise on mIoU; lower on BF."
    )
    assert conclusions.in_words("Resize", "NF", ["lower"] * 4, 0, 1_500_000) == (
        "- **Resize** (NF, keeping nothing from the encoder): lower on G, C, mIoU and BF."
    )
