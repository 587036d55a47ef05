"""Sec. 3.3's conclusions as comparisons of Table 1 cells, counted on the paper's own Table 1; Sec. 4's claims on its
Table 3."""

from __future__ import annotations

import json

from conftest import measured_provenance

from segbench.reporting.conclusions import CONCLUSIONS, SECTION_4, paper_scores, verdict, with_costs
from segbench.reporting.table6 import measured_by_paper_name


def test_the_papers_own_table_1_supports_its_conclusions_mostly_not_always():
    counted = [verdict(conclusion, paper_scores) for conclusion in CONCLUSIONS]
    assert [text for text, _ in counted] == [
        "partly (53/56)",  # bilinear is not the worst on MF C (61.1) nor NF G (82.7)
        "holds (8/8)",
        "holds (6/6)",
        "holds (8/8)",
        "holds (8/8)",
        "partly (13/14)",
        "partly (6/8)",
        "partly (87/96)",
        "partly (21/24)",
    ]
    assert counted[0][1] == [
        "SegNet-Basic-SingleChannelDecoder MF C 60.7 ≤ Bilinear-Interpolation MF C 61.1",
        "FCN-Basic-NoAddition MF C 58.6 ≤ Bilinear-Interpolation MF C 61.1",
        "FCN-Basic-NoAddition NF G 82.3 ≤ Bilinear-Interpolation NF G 82.7",
    ]
    assert counted[8][1][2] == "FCN-Basic-NoDimReduction NF G 83.5 ≤ FCN-Basic-NoDimReduction MF G 84.1"


def test_a_score_missing_from_a_grid_leaves_its_comparisons_waiting():
    bilinear_worst = CONCLUSIONS[0]
    only_mf = lambda variant, balancing, split, metric: (  # noqa: E731
        paper_scores(variant, balancing, split, metric) if balancing == "median_frequency" else None
    )
    assert verdict(bilinear_worst, only_mf)[0] == "partly (26/28), 28 comparisons await runs"
    nothing = lambda *cell: None  # noqa: E731
    assert verdict(bilinear_worst, nothing) == (
        "not checked: no complete run of Bilinear-Interpolation (MF, NF), SegNet-Basic (MF, NF), "
        "SegNet-Basic-EncoderAddition (MF, NF), SegNet-Basic-SingleChannelDecoder (MF, NF), FCN-Basic (MF, NF), "
        "FCN-Basic-NoAddition (MF, NF), FCN-Basic-NoDimReduction (MF, NF), "
        "FCN-Basic-NoAddition-NoDimReduction (MF, NF)",
        [],
    )
    only_segnet_nf = lambda variant, balancing, split, metric: (  # noqa: E731
        paper_scores(variant, balancing, split, metric) if (variant, balancing) == ("SegNet-Basic", "natural") else None
    )
    equal_to_fcn = CONCLUSIONS[1]
    assert (
        verdict(equal_to_fcn, only_segnet_nf)[0]
        == "not checked: no complete run of SegNet-Basic (MF), FCN-Basic (MF, NF)"
    )


def test_the_papers_own_table_3_supports_section_4s_claims_but_two_comparisons():
    counted = [verdict(conclusion, SECTION_4.paper, "not in it") for conclusion in SECTION_4.conclusions]
    assert [text for text, _ in counted] == [
        "partly (31/32)",
        "holds (1/1)",
        "holds (2/2)",
        "holds (1/1)",
        "partly (3/4)",
        "holds (6/6), 2 comparisons not in it",  # Table 6 did not measure FCN with bilinear upsampling
        "holds (3/3)",
    ]
    assert counted[0][1] == ["DeconvNet NF G 89.6 ≤ DeepLab-LargeFOV-denseCRF NF G 89.7"]
    assert counted[4][1] == ["FCN (learnt deconv) NF G 83.1 ≤ FCN NF G 83.3"]


def test_section_4s_cost_claims_compare_the_costs_measured_at_the_grids_size(tmp_path):
    """Table 6's columns measured for the grid (table6_resources lines, keyed by model) decide the cost claims by
    value; a network not measured leaves its comparisons waiting."""
    measured = {  # model: model MB, forward ms, backward ms, training memory MB
        "table3/segnet": (112.5, 270.0, 530.0, 670.0),
        "table3/deeplab_largefov": (78.3, 170.0, 320.0, 530.0),
        "table3/deconvnet": (960.0, 350.0, 400.0, 2100.0),  # DeconvNet's step faster than SegNet's here
    }
    lines = [
        {"model": model, "params": 1, "model_mb": size, "forward_ms": forward, "backward_ms": backward,
         "training_mb": training, "inference_mb": 100.0, "runs": 3, "provenance": measured_provenance()}
        for model, (size, forward, backward, training) in measured.items()
    ]  # fmt: skip
    costs = tmp_path / "table6.jsonl"
    costs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ours = with_costs(lambda *cell: None, measured_by_paper_name(costs))
    smallest_and_fastest, dearer = SECTION_4.conclusions[5], SECTION_4.conclusions[6]
    assert verdict(smallest_and_fastest, ours) == ("holds (4/4), 4 comparisons await measurements", [])
    assert verdict(dearer, ours) == ("partly (2/3)", ["SegNet training ms 800.0 ≥ DeconvNet training ms 750.0"])
    assert verdict(dearer, with_costs(ours, {})) == ("not checked: no measured cost of SegNet, DeconvNet", [])
