"""Sec. 3.3's conclusions as comparisons of Table 1 cells, counted on the paper's own Table 1; Sec. 4's claims on its
Table 3."""

from __future__ import annotations

from segbench.reporting.conclusions import CONCLUSIONS, SECTION_4, paper_scores, verdict


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
    counted = [verdict(conclusion, SECTION_4.paper) for conclusion in SECTION_4.conclusions]
    assert [text for text, _ in counted] == [
        "partly (31/32)",
        "holds (1/1)",
        "holds (2/2)",
        "holds (1/1)",
        "partly (3/4)",
    ]
    assert counted[0][1] == ["DeconvNet NF G 89.6 ≤ DeepLab-LargeFOV-denseCRF NF G 89.7"]
    assert counted[4][1] == ["FCN (learnt deconv) NF G 83.1 ≤ FCN NF G 83.3"]
