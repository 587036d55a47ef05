"""Sec. 3.3's conclusions from Table 1, checked on a grid's runs and on the paper's own numbers.

Badrinarayanan et al., "SegNet", TPAMI 2017, Sec. 3.3 draws its conclusions in words; each is written
here as the pairwise comparisons of Table 1 cells it implies (variant A beats variant B on a measure,
under a balancing), so that a reader sees how many of them hold in our grid and in the paper's own
table, and which do not, with the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from segbench.paper import BALANCINGS, TABLE1
from segbench.reporting.grid_runs import Run
from segbench.reporting.grid_tables import shown_score, table1_decimals
from segbench.reporting.labels import BALANCING_SHORT
from segbench.reporting.tables import markdown_from

TEST = ("G", "C", "mIoU", "BF")
TRAIN = ("G", "C", "mIoU")
# "As well as": the paper calls SegNet-Basic and FCN-Basic equal with gaps of up to 2.3 points (MF BF).
EQUAL_WITHIN = 2.5

# (model, balancing, split, metric) -> the score in percent, None when there is none
Scores = Callable[[str, str, str, str], "float | None"]


@dataclass(frozen=True)
class Cell:
    model: str
    balancing: str
    split: str
    metric: str

    def label(self) -> str:
        split = "" if self.split == "test" else f"{self.split} "
        return f"{TABLE1[self.model]['paper_name']} {BALANCING_SHORT[self.balancing]} {split}{self.metric}"


@dataclass(frozen=True)
class Comparison:
    """`better` scores higher than `worse`; or, with `within`, the two are no more than `within` points apart."""

    better: Cell
    worse: Cell
    within: float | None = None

    def holds(self, scores: Scores) -> bool | None:
        a, b = (scores(c.model, c.balancing, c.split, c.metric) for c in (self.better, self.worse))
        if a is None or b is None:
            return None
        return abs(a - b) <= self.within if self.within is not None else a > b

    def describe(self, scores: Scores) -> str:
        a, b = (scores(c.model, c.balancing, c.split, c.metric) for c in (self.better, self.worse))
        relation = f"not within {self.within:g} of" if self.within is not None else "≤"
        decimals = table1_decimals(self.better.metric)
        return f"{self.better.label()} {a:.{decimals}f} {relation} {self.worse.label()} {b:.{decimals}f}"


@dataclass(frozen=True)
class Conclusion:
    claim: str
    comparisons: tuple[Comparison, ...]


def _beats(better: str, worse: str, splits: Iterable[tuple[str, Sequence[str]]] = (("test", TEST),)):
    return tuple(
        Comparison(Cell(better, balancing, split, metric), Cell(worse, balancing, split, metric))
        for balancing in BALANCINGS
        for split, metrics in splits
        for metric in metrics
    )


def _conclusions() -> tuple[Conclusion, ...]:
    variants = list(TABLE1)
    full_maps = ("fcn_basic_no_dim_reduction", "segnet_basic_encoder_addition")
    return (
        Conclusion(
            "Bilinear interpolation (no learnt decoder) is the worst on every measure",
            tuple(c for v in variants if v != "bilinear_interpolation" for c in _beats(v, "bilinear_interpolation")),
        ),
        Conclusion(
            f"SegNet-Basic performs as well as FCN-Basic (within {EQUAL_WITHIN:g} points on each test measure), "
            "storing only pooling indices",
            tuple(
                Comparison(Cell("segnet_basic", b, "test", m), Cell("fcn_basic", b, "test", m), EQUAL_WITHIN)
                for b in BALANCINGS
                for m in TEST
            ),
        ),
        Conclusion(
            "SegNet-Basic, the larger decoder, reaches a higher training accuracy than FCN-Basic",
            _beats("segnet_basic", "fcn_basic", (("train", TRAIN),)),
        ),
        Conclusion(
            "Encoder feature maps matter: FCN-Basic beats FCN-Basic-NoAddition",
            _beats("fcn_basic", "fcn_basic_no_addition"),
        ),
        Conclusion(
            "SegNet-Basic beats FCN-Basic-NoAddition, the variant with the most similar decoder",
            _beats("segnet_basic", "fcn_basic_no_addition"),
        ),
        Conclusion(
            "FCN-Basic-NoAddition-NoDimReduction, of SegNet-Basic's size, is poorer in test and in training",
            _beats("segnet_basic", "fcn_basic_no_addition_no_dim_reduction", (("test", TEST), ("train", TRAIN))),
        ),
        Conclusion(
            "Max-pooling indices and a larger decoder: SegNet-Basic-SingleChannelDecoder beats FCN-Basic-NoAddition",
            _beats("segnet_basic_single_channel_decoder", "fcn_basic_no_addition"),
        ),
        Conclusion(
            "The variants keeping full encoder maps (FCN-Basic-NoDimReduction, SegNet-Basic-EncoderAddition) "
            "are more accurate than the others",
            tuple(c for big in full_maps for v in variants if v not in full_maps for c in _beats(big, v)),
        ),
        Conclusion(
            "Median frequency balancing beats natural on C and mIoU for every variant; natural has the higher G",
            tuple(
                Comparison(Cell(v, better, "test", m), Cell(v, worse, "test", m))
                for v in variants
                for m, (better, worse) in (
                    ("C", BALANCINGS),
                    ("mIoU", BALANCINGS),
                    ("G", tuple(reversed(BALANCINGS))),
                )
            ),
        ),
    )


CONCLUSIONS = _conclusions()


def paper_scores(model: str, balancing: str, split: str, metric: str) -> float | None:
    return TABLE1[model][balancing][split][metric]


def verdict(conclusion: Conclusion, scores: Scores) -> tuple[str, list[str]]:
    """'holds (n/n)', 'partly (k/n)' or 'does not hold (0/n)', with how many comparisons still wait for runs;
    and the comparisons that fail, described with their numbers."""
    outcomes = [(comparison, comparison.holds(scores)) for comparison in conclusion.comparisons]
    decided = [(comparison, held) for comparison, held in outcomes if held is not None]
    waiting = len(outcomes) - len(decided)
    if not decided:
        return "no runs yet", []
    held = sum(held for _, held in decided)
    word = "holds" if held == len(decided) else "does not hold" if held == 0 else "partly"
    text = f"{word} ({held}/{len(decided)})" + (f", {waiting} comparisons await runs" if waiting else "")
    return text, [comparison.describe(scores) for comparison, ok in decided if not ok]


def run_scores(cells: dict[tuple[str, str], Run]) -> Scores:
    """The scores of a grid's complete runs, rounded as Table 1 shows them (a tie there is not a win)."""

    def scores(model: str, balancing: str, split: str, metric: str) -> float | None:
        return shown_score(cells.get((model, balancing)), split, metric, table1_decimals(metric))

    return scores


def conclusions_section(ours: Scores, shown_failures: int = 3) -> list[str]:
    """A markdown section: each conclusion, its verdict in the paper's Table 1 and in ours, and where ours fails."""
    rows = []
    for conclusion in CONCLUSIONS:
        paper, _ = verdict(conclusion, paper_scores)
        our_verdict, failures = verdict(conclusion, ours)
        listed = "; ".join(failures[:shown_failures])
        if len(failures) > shown_failures:
            listed += f"; … {len(failures) - shown_failures} more"
        rows.append([conclusion.claim, paper, our_verdict, listed])
    return [
        "## Sec. 3.3's conclusions, checked",
        "",
        "Each conclusion of Sec. 3.3 as the comparisons of Table 1 cells it implies (both balancings, test G, C, "
        "mIoU, BF unless it says otherwise), counted in the paper's own Table 1 and in ours: *holds* when all of "
        "them do, *partly* when some do.",
        "",
        markdown_from(["Sec. 3.3 says", "Paper's Table 1", "Ours", "Ours fails at"], rows),
    ]
