"""Sec. 3.3's conclusions from Table 1 and Sec. 4's claims from Table 3, checked on a grid's runs and on the paper's
own numbers.

Badrinarayanan et al., "SegNet", TPAMI 2017, Sec. 3.3 draws its conclusions in words; each is written
here as the pairwise comparisons of Table 1 cells it implies (variant A beats variant B on a measure,
under a balancing), so that a reader sees how many of them hold in our grid and in the paper's own
table, and which do not, with the numbers. Cells name the paper's variants by the paper's names, and a grid's run
of a cell is the run whose record has that `paper_name`: a variant the paper does not have takes part in none of
them. A conclusion none of whose comparisons has our scores on both sides is not checked, and names the cells
without a complete run.

Where both cells of a test comparison have per-image records, ours is judged against the noise (issue 27, beyond
the paper): `segbench.stats.bootstrap.compare` counts it *holds*, *within noise* or *reversed*; the others are
compared by value, as the paper's own table can only be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from segbench.errors import SegbenchError
from segbench.paper import BALANCINGS, paper_order, table1_row, table3_row, table6_row
from segbench.record.per_image import PerImageRecord
from segbench.reporting.grid_runs import Run, percent
from segbench.reporting.grid_tables import shown_score, table1_decimals
from segbench.reporting.labels import BALANCING_SHORT
from segbench.reporting.tables import markdown_from
from segbench.reporting.uncertainty import CellScores
from segbench.reporting.variants import variant_order
from segbench.stats.bootstrap import Difference, compare_measures

TEST = ("G", "C", "mIoU", "BF")
TRAIN = ("G", "C", "mIoU")
# Table 6's columns as claims use them, by the key each has in Table 6 and in a cost measurement (table6_resources):
# Table 6 has no parameter count, so "smallest" is the stored model's size, as the paper measured it.
COST = "cost"
COST_MEASURES = {
    "model MB": ("model_mb",),
    "training ms": ("forward_ms", "backward_ms"),
    "training memory MB": ("training_mb",),
}
# "As well as": the paper calls SegNet-Basic and FCN-Basic equal with gaps of up to 2.3 points (MF BF).
EQUAL_WITHIN = 2.5

# (paper name, balancing, split, metric) -> the score in percent, None when there is none
Scores = Callable[[str, str, str, str], "float | None"]


@dataclass(frozen=True)
class Cell:
    variant: str  # the paper's name of a Table 1 variant
    balancing: str
    split: str
    metric: str

    def label(self) -> str:
        if self.split == COST:  # measured once per network, whatever it was trained with
            return f"{self.variant} {self.metric}"
        split = "" if self.split == "test" else f"{self.split} "
        return f"{self.variant} {BALANCING_SHORT[self.balancing]} {split}{self.metric}"


@dataclass(frozen=True)
class Comparison:
    """`better` scores higher than `worse` (with `lower`, a cost: has the smaller value); or, with `within`, the two
    are no more than `within` points apart."""

    better: Cell
    worse: Cell
    within: float | None = None
    lower: bool = False

    def holds(self, scores: Scores) -> bool | None:
        a, b = (scores(c.variant, c.balancing, c.split, c.metric) for c in (self.better, self.worse))
        if a is None or b is None:
            return None
        if self.within is not None:
            return abs(a - b) <= self.within
        return a < b if self.lower else a > b

    def describe(self, scores: Scores) -> str:
        a, b = (scores(c.variant, c.balancing, c.split, c.metric) for c in (self.better, self.worse))
        relation = f"not within {self.within:g} of" if self.within is not None else "≥" if self.lower else "≤"
        decimals = table1_decimals(self.better.metric)
        return f"{self.better.label()} {a:.{decimals}f} {relation} {self.worse.label()} {b:.{decimals}f}"

    def describe_noise(self, difference: Difference) -> str:
        """`A − B: −1.0 [−2.1, +0.3] within noise`: the difference in points with its interval (95%; 90% for "as
        well as", the two one-sided tests) and the verdict, spelt out against the margin for "as well as"."""
        decimals = table1_decimals(self.better.metric)
        shown = f"{self.better.label()} − {self.worse.label()}: {difference.shown(decimals)}"
        if self.within is None:
            return f"{shown} {difference.verdict}"
        if difference.verdict == "reversed":
            return f"{shown} reversed: beyond ±{self.within:g}"
        return f"{shown} {difference.verdict} of ±{self.within:g}"


@dataclass(frozen=True)
class Conclusion:
    claim: str
    comparisons: tuple[Comparison, ...]


def _beats(
    better: str,
    worse: str,
    splits: Iterable[tuple[str, Sequence[str]]] = (("test", TEST),),
    balancings: Sequence[str] = BALANCINGS,
):
    return tuple(
        Comparison(Cell(better, balancing, split, metric), Cell(worse, balancing, split, metric))
        for balancing in balancings
        for split, metrics in splits
        for metric in metrics
    )


# The variants Sec. 3.3's claims name, by the paper's names (Table 1's rows).
BILINEAR, SEGNET_BASIC, FCN_BASIC = "Bilinear-Interpolation", "SegNet-Basic", "FCN-Basic"
ENCODER_ADDITION, SINGLE_CHANNEL = "SegNet-Basic-EncoderAddition", "SegNet-Basic-SingleChannelDecoder"
NO_ADDITION, NO_DIM_REDUCTION = "FCN-Basic-NoAddition", "FCN-Basic-NoDimReduction"
NEITHER = "FCN-Basic-NoAddition-NoDimReduction"


def _conclusions() -> tuple[Conclusion, ...]:
    # "every variant": the eight Sec. 3.1 compares, named as the claim's own cells, not read off the paper's table
    variants = (
        BILINEAR,
        SEGNET_BASIC,
        ENCODER_ADDITION,
        SINGLE_CHANNEL,
        FCN_BASIC,
        NO_ADDITION,
        NO_DIM_REDUCTION,
        NEITHER,
    )
    full_maps = (NO_DIM_REDUCTION, ENCODER_ADDITION)
    return (
        Conclusion(
            "Bilinear interpolation (no learnt decoder) is the worst on every measure",
            tuple(c for v in variants if v != BILINEAR for c in _beats(v, BILINEAR)),
        ),
        Conclusion(
            f"SegNet-Basic performs as well as FCN-Basic (within {EQUAL_WITHIN:g} points on each test measure), "
            "storing only pooling indices",
            tuple(
                Comparison(Cell(SEGNET_BASIC, b, "test", m), Cell(FCN_BASIC, b, "test", m), EQUAL_WITHIN)
                for b in BALANCINGS
                for m in TEST
            ),
        ),
        Conclusion(
            "SegNet-Basic, the larger decoder, reaches a higher training accuracy than FCN-Basic",
            _beats(SEGNET_BASIC, FCN_BASIC, (("train", TRAIN),)),
        ),
        Conclusion("Encoder feature maps matter: FCN-Basic beats FCN-Basic-NoAddition", _beats(FCN_BASIC, NO_ADDITION)),
        Conclusion(
            "SegNet-Basic beats FCN-Basic-NoAddition, the variant with the most similar decoder",
            _beats(SEGNET_BASIC, NO_ADDITION),
        ),
        Conclusion(
            "FCN-Basic-NoAddition-NoDimReduction, of SegNet-Basic's size, is poorer in test and in training",
            _beats(SEGNET_BASIC, NEITHER, (("test", TEST), ("train", TRAIN))),
        ),
        Conclusion(
            "Max-pooling indices and a larger decoder: SegNet-Basic-SingleChannelDecoder beats FCN-Basic-NoAddition",
            _beats(SINGLE_CHANNEL, NO_ADDITION),
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

# The networks Sec. 4's claims name, by the paper's names (Table 3's rows).
SEGNET, DECONVNET, FCN, FCN_DECONV = "SegNet", "DeconvNet", "FCN", "FCN (learnt deconv)"
DEEPLAB, DEEPLAB_CRF = "DeepLab-LargeFOV", "DeepLab-LargeFOV-denseCRF"


def _section4_conclusions() -> tuple[Conclusion, ...]:
    """Sec. 4's claims from Table 3 (trained without class balancing), on the selected checkpoints' test scores."""
    natural = ("natural",)
    others = (DEEPLAB, DEEPLAB_CRF, FCN, FCN_DECONV)
    return (
        Conclusion(
            "SegNet and DeconvNet achieve the highest scores in all the metrics",
            tuple(c for top in (SEGNET, DECONVNET) for other in others for c in _beats(top, other, balancings=natural)),
        ),
        Conclusion(
            "DeconvNet has a higher boundary delineation accuracy (BF) than SegNet",
            _beats(DECONVNET, SEGNET, (("test", ("BF",)),), natural),
        ),
        Conclusion(
            "DeepLab-LargeFOV, the smallest model, has a poorer BF than SegNet and DeconvNet",
            tuple(c for top in (SEGNET, DECONVNET) for c in _beats(top, DEEPLAB, (("test", ("BF",)),), natural)),
        ),
        Conclusion(
            "The dense CRF improves DeepLab-LargeFOV's boundaries (BF)",
            _beats(DEEPLAB_CRF, DEEPLAB, (("test", ("BF",)),), natural),
        ),
        Conclusion(
            "FCN with learnt deconvolution is clearly better than with fixed bilinear upsampling",
            _beats(FCN_DECONV, FCN, balancings=natural),
        ),
        Conclusion(
            "DeepLab-LargeFOV is the smallest model and the fastest to train (Table 6: model size, forward + backward)",
            tuple(
                comparison
                for other in (SEGNET, DECONVNET, FCN, FCN_DECONV)
                for comparison in _costs_below(DEEPLAB, other, ("model MB", "training ms"))
            ),
        ),
        Conclusion(
            "DeconvNet matches SegNet at a much larger computational cost (Table 6: model size, time, training memory)",
            _costs_below(SEGNET, DECONVNET, tuple(COST_MEASURES)),
        ),
    )


def _costs_below(cheaper: str, dearer: str, measures: Sequence[str]) -> tuple[Comparison, ...]:
    return tuple(
        Comparison(Cell(cheaper, "natural", COST, measure), Cell(dearer, "natural", COST, measure), lower=True)
        for measure in measures
    )


SECTION4_CONCLUSIONS = _section4_conclusions()


def paper_scores(variant: str, balancing: str, split: str, metric: str) -> float | None:
    return table1_row(variant)[balancing][split][metric]


def table3_paper_scores(network: str, balancing: str, split: str, metric: str) -> float | None:
    """Table 3's "> 80 K" test scores (its networks trained without class balancing), and its Table 6 costs."""
    if split == COST:
        return cost(table6_row(network), metric)
    row = table3_row(network)
    return row["beyond_80k"][metric] if row and balancing == "natural" and split == "test" else None


def cost(measured: Mapping[str, float] | None, measure: str) -> float | None:
    """One of COST_MEASURES from a row of Table 6 or a cost measurement (its keys), None without one."""
    return round(sum(measured[key] for key in COST_MEASURES[measure]), 1) if measured else None


def with_costs(scores: Scores, costs: Mapping[str, Mapping[str, float]]) -> Scores:
    """`scores`, and the costs measured of each network by its paper name (`costs`: Table 6's columns measured at
    the grid's size, a `table6_resources` line each) for the claims that compare costs."""

    def combined(variant: str, balancing: str, split: str, metric: str) -> float | None:
        return cost(costs.get(variant), metric) if split == COST else scores(variant, balancing, split, metric)

    return combined


@dataclass(frozen=True)
class ClaimSet:
    """A section's claims, the paper's scores they are counted in, and how the section names them."""

    heading: str
    scope: str  # what the claims compare, for the section's first sentence
    says: str  # the first column's heading
    paper_table: str  # the second's
    conclusions: tuple[Conclusion, ...]
    paper: Scores


SECTION_3_3 = ClaimSet(
    "Sec. 3.3's conclusions, checked",
    "Each conclusion of Sec. 3.3 as the comparisons of Table 1 cells it implies (both balancings, test G, C, mIoU, "
    "BF unless it says otherwise), counted in the paper's own Table 1 and in ours",
    "Sec. 3.3 says",
    "Paper's Table 1",
    CONCLUSIONS,
    paper_scores,
)
SECTION_4 = ClaimSet(
    "Sec. 4's claims, checked",
    "Each claim Sec. 4 makes of Table 3 as the comparisons of networks it implies (test G, C, mIoU, BF unless it "
    'says otherwise, at the selected checkpoint), counted in the paper\'s Table 3 (its "> 80 K" points; costs in its '
    "Table 6) and in ours (costs as measured at the grid's size, once per network)",
    "Sec. 4 says",
    "Paper's Table 3",
    SECTION4_CONCLUSIONS,
    table3_paper_scores,
)


def _unscored(conclusion: Conclusion, scores: Scores) -> str:
    """The cells a conclusion compares that have no score, as `variant (MF, NF)`, in Table 1's order."""
    missing: dict[str, list[str]] = {}
    for comparison in conclusion.comparisons:
        for cell in (comparison.better, comparison.worse):
            if scores(cell.variant, cell.balancing, cell.split, cell.metric) is None:
                shorts = missing.setdefault(cell.variant, [])
                if cell.split != COST and BALANCING_SHORT[cell.balancing] not in shorts:
                    shorts.append(BALANCING_SHORT[cell.balancing])
    ordered = sorted(missing, key=lambda variant: paper_order(variant) or (0, 0))
    return ", ".join(f"{name} ({', '.join(sorted(missing[name]))})" if missing[name] else name for name in ordered)


def verdict(conclusion: Conclusion, scores: Scores, unscored: str | None = None) -> tuple[str, list[str]]:
    """'holds (n/n)', 'partly (k/n)' or 'does not hold (0/n)', with how many comparisons still wait for runs (or
    what else `unscored` says of those without both scores), or 'not checked' naming the cells without a score when
    no comparison has both; and the comparisons that fail, described with their numbers."""
    costs_only = all(comparison.better.split == COST for comparison in conclusion.comparisons)
    unscored = unscored or ("await measurements" if costs_only else "await runs")
    outcomes = [(comparison, comparison.holds(scores)) for comparison in conclusion.comparisons]
    decided = [(comparison, held) for comparison, held in outcomes if held is not None]
    waiting = len(outcomes) - len(decided)
    if not decided:
        wanted = "measured cost" if costs_only else "complete run"
        return f"not checked: no {wanted} of {_unscored(conclusion, scores)}", []
    held = sum(held for _, held in decided)
    word = "holds" if held == len(decided) else "does not hold" if held == 0 else "partly"
    text = f"{word} ({held}/{len(decided)})" + (f", {waiting} comparisons {unscored}" if waiting else "")
    return text, [comparison.describe(scores) for comparison, ok in decided if not ok]


def run_scores(cells: dict[tuple[str, str], Run], seeds: Mapping[tuple[str, str], CellScores] | None = None) -> Scores:
    """The scores of a grid's complete runs, rounded as Table 1 shows them (a tie there is not a win), by the paper's
    name of each run's variant; a cell of several seeds (`seeds`) by their mean. A variant the paper does not have
    is in no conclusion."""
    named = _named(cells)

    def scores(variant: str, balancing: str, split: str, metric: str) -> float | None:
        if split == COST:
            return None  # measured apart from the runs (with_costs)
        run = named.get((variant, balancing))
        cell = seeds.get((run.model, run.balancing)) if seeds and run is not None else None
        if cell is not None:
            return percent(cell.mean(split, metric), table1_decimals(metric))
        return shown_score(run, split, metric, table1_decimals(metric))

    return scores


def _named(cells: dict[tuple[str, str], Run]) -> dict[tuple[str, str], Run]:
    named: dict[tuple[str, str], Run] = {}
    for run in cells.values():
        if run.record.paper_name is None:
            continue
        key = (run.record.paper_name, run.balancing)
        if key in named:
            raise SegbenchError(
                f"two variants go by the paper's {key[0]} ({named[key].model} and {run.model}) with "
                f"balancing={run.balancing}: the paper's conclusions need one run of each; report them apart"
            )
        named[key] = run
    return named


@dataclass
class NoiseJudge:
    """Judges a test comparison against the noise when both its cells have per-image records (by the paper's name
    and balancing): `compare_measures` of each pair of cells once, for all its measures."""

    records: dict[tuple[str, str], Sequence[PerImageRecord]]
    _drawn: dict[tuple, dict[str, Difference]] = field(default_factory=dict)

    @classmethod
    def of(cls, cells: dict[tuple[str, str], Run], seeds: Mapping[tuple[str, str], CellScores]) -> NoiseJudge:
        records = {}
        for key, run in _named(cells).items():
            cell = seeds.get((run.model, run.balancing))
            if cell is not None and cell.records:
                records[key] = cell.records
        return cls(records)

    def __call__(self, comparison: Comparison) -> Difference | None:
        better, worse = comparison.better, comparison.worse
        if better.split != "test" or worse.split != "test":
            return None  # the per-image record is of the test split
        a, b = self.records.get((better.variant, better.balancing)), self.records.get((worse.variant, worse.balancing))
        if a is None or b is None or not np.array_equal(a[0].names, b[0].names):
            return None
        pair = (better.variant, better.balancing, worse.variant, worse.balancing, comparison.within)
        if pair not in self._drawn:
            self._drawn[pair] = compare_measures(a, b, margin=comparison.within)
        return self._drawn[pair][better.metric]


def noise_verdict(conclusion: Conclusion, scores: Scores, judge: NoiseJudge) -> tuple[str, list[str]]:
    """`verdict`, with the comparisons `judge` can judge counted as *holds / within noise / reversed* and the rest
    by value (said so); the judged ones not holding listed first, with the difference and its interval."""
    judged = [(comparison, difference) for comparison in conclusion.comparisons if (difference := judge(comparison))]
    if not judged:
        return verdict(conclusion, scores)
    rest = Conclusion(conclusion.claim, tuple(c for c in conclusion.comparisons if not judge(c)))
    counts = {word: sum(d.verdict == word for _, d in judged) for word in ("holds", "within noise", "reversed")}
    text = ", ".join(f"{word} {count}" for word, count in counts.items()) + f" (of {len(judged)}, against the noise)"
    failures = [comparison.describe_noise(d) for comparison, d in judged if d.verdict != "holds"]
    if rest.comparisons:
        by_value, value_failures = verdict(rest, scores)
        if by_value.startswith("not checked"):
            text += f"; {len(rest.comparisons)} comparisons await runs"
        else:
            text += f"; by value (no per-image record): {by_value}"
        failures += value_failures
    return text, failures


def conclusions_section(
    ours: Scores, shown_failures: int = 3, judge: NoiseJudge | None = None, claims: ClaimSet = SECTION_3_3
) -> list[str]:
    """A markdown section: each conclusion, its verdict in the paper's table and in ours (against the noise where
    `judge` has both cells' per-image records), and where ours fails."""
    rows = []
    for conclusion in claims.conclusions:
        paper, _ = verdict(conclusion, claims.paper, unscored="not in the paper's tables")
        our_verdict, failures = verdict(conclusion, ours) if judge is None else noise_verdict(conclusion, ours, judge)
        listed = "; ".join(failures[:shown_failures])
        if len(failures) > shown_failures:
            listed += f"; … {len(failures) - shown_failures} more"
        rows.append([conclusion.claim, paper, our_verdict, listed])
    if judge is not None and judge.records:
        how = (
            "Ours where both cells have per-image records (test scores only): the difference of the two cells' "
            "scores on the same bootstrap resamples of the test images (paired; `segbench.stats.bootstrap.compare`): "
            '*holds* when its 95% interval is above zero, *reversed* when below, else *within noise*; for "as well '
            f'as" the two one-sided tests at 5% (its 90% interval inside ±{EQUAL_WITHIN:g} points: holds; wholly '
            "outside: reversed). The others by value, as the paper's."
        )
    else:
        how = (
            "Ours by value (no run here has a per-image record to judge a difference against the noise): a "
            "difference of a point or two may be noise."
        )
    return [
        f"## {claims.heading}",
        "",
        f"{claims.scope}: *holds* when all of them do, *partly* when some do. {how}",
        "",
        markdown_from([claims.says, claims.paper_table, "Ours", "Ours fails at"], rows),
    ]


# A difference's verdict as said of a cell against the reference ("within noise" stays as it is).
AGAINST_REFERENCE = {"holds": "higher", "reversed": "lower"}


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def in_words(variant: str, balancing: str, words: Sequence[str], stored: int | None, base_stored: int | None) -> str:
    """One cell's reading against the reference: the measures grouped by verdict, after what the decoder keeps."""
    by_word: dict[str, list[str]] = {}
    for metric, word in zip(TEST, words, strict=True):
        by_word.setdefault(word, []).append(metric)
    said = "; ".join(f"{word} on {_listed(metrics)}" for word, metrics in by_word.items())
    keeps = ""
    if stored == 0:
        keeps = ", keeping nothing from the encoder"
    elif stored is not None:
        ratio = f", {stored / base_stored:.2g}x the reference's" if base_stored else ""
        keeps = f", keeping {stored:,} bytes from the encoder{ratio}"
    return f"- **{variant}** ({balancing}{keeps}): {said}."


def against_reference_section(
    cells: Mapping[tuple[str, str], CellScores], reference: str, stored: Mapping[str, int | None] | None = None
) -> list[str]:
    """Every cell against the `reference` model's cell of the same balancing, paired on the same test images (a
    study's reading beyond Sec. 3.3's claims: how far each decoder is from the reference, and whether the noise
    allows a difference at all), as a table and in words beside what each decoder keeps from the encoder (`stored`,
    bytes by model: the memory side of Sec. 3.3's argument); [] without the reference's per-image records."""
    stored = stored or {}
    rows, readings = [], []

    def order(item: tuple[tuple[str, str], CellScores]) -> tuple:
        (model, balancing), scores = item
        return (*variant_order(scores.runs[0].record.paper_name, model), balancing)

    for (model, balancing), scores in sorted(cells.items(), key=order):
        base = cells.get((reference, balancing))
        if model == reference or base is None or not base.records or not scores.records:
            continue
        if not np.array_equal(scores.records[0].names, base.records[0].names):
            continue  # scored on other test images: nothing to pair
        differences = compare_measures(scores.records, base.records)
        words = [AGAINST_REFERENCE.get(differences[m].verdict, differences[m].verdict) for m in TEST]
        shown = [f"{differences[m].shown(table1_decimals(m))} {word}" for m, word in zip(TEST, words, strict=True)]
        variant, short = scores.runs[0].record.variant_name, BALANCING_SHORT.get(balancing, balancing)
        rows.append([variant, short, *shown])
        readings.append(in_words(variant, short, words, stored.get(model), stored.get(reference)))
    if not rows:
        return []
    name = next(scores.runs[0].record.variant_name for (model, _), scores in cells.items() if model == reference)
    return [
        f"## Each variant against {name}",
        "",
        f"Test score of each cell minus {name}'s of the same balancing, in points, on the same bootstrap resamples of "
        "the test images (paired; `segbench.stats.bootstrap.compare`), with its 95% interval: *higher* or *lower* "
        "when the interval leaves out zero, else *within noise*.",
        "",
        markdown_from(["Variant", "Balancing", *(f"Δ test {metric}" for metric in TEST)], rows),
        "",
        f"In words, each against {name}:",
        "",
        *readings,
    ]
