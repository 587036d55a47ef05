"""How sure a test score is, from a run's per-image record (`segbench.record.per_image`), beyond the paper.

CamVid's test images are consecutive frames of two videos, so neighbouring images are not independent draws:
resampling images one by one (the i.i.d. bootstrap) understates the spread. Here images are resampled in
blocks of consecutive frames, never across a sequence's end (the moving-block bootstrap, Künsch 1989, within
each sequence); the block length is the first lag at which the autocorrelation of the per-image pixel accuracy
falls inside the white-noise band 2/sqrt(n). Intervals are percentile intervals of the resampled scores.

A cell trained with several seeds adds the training randomness: each resample draws the seeds with replacement
and scores the mean of the drawn seeds' runs on the same resampled images (a two-level bootstrap; at n = 3 seeds
its between-seed part is crude; Bouthillier et al., "Accounting for variance in machine learning benchmarks",
MLSys 2021). Two cells are compared on the same resampled images (paired), each cell's seeds drawn apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from segbench.metrics.boundary_f1 import image_bf_from_counts
from segbench.record.per_image import PerImageRecord

MEASURES = ("G", "C", "mIoU", "BF")
RESAMPLES = 2000
LEVEL = 0.95
SEED = 0  # the resampling's own seed: a report is the same every time it is written

Verdict = Literal["holds", "within noise", "reversed"]


def block_length(records: Sequence[PerImageRecord]) -> int:
    """The first lag at which the autocorrelation of the per-image pixel accuracy, within sequences and pooled over
    the records, falls inside the white-noise band 2/sqrt(n); 1 when it starts there (independent images)."""
    record = records[0]
    series = [
        _image_accuracy(r.confusion[r.sequences == sequence])
        for r in records
        for sequence in dict.fromkeys(record.sequences.tolist())
    ]
    shortest = min(len(s) for s in series)
    band = 2 / np.sqrt(sum(len(s) for s in series))
    for lag in range(1, max(shortest // 2, 1)):
        pairs = [(s[:-lag] - s.mean(), s[lag:] - s.mean()) for s in series if s.std() > 0]
        if not pairs:
            return 1
        numerator = sum(float((a * b).sum()) for a, b in pairs)
        denominator = sum(float(((s - s.mean()) ** 2).sum()) for s in series if s.std() > 0)
        if numerator / denominator < band:
            return lag
    return max(shortest // 2, 1)


def _image_accuracy(confusion: np.ndarray) -> np.ndarray:
    totals = confusion.reshape(len(confusion), -1).sum(1)
    return np.trace(confusion, axis1=1, axis2=2) / np.maximum(totals, 1)


def block_resamples(sequences: np.ndarray, block: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, images) counts: how often each image is drawn in each resample. Each sequence of n images is
    rebuilt from ceil(n / block) blocks of `block` consecutive images of that sequence, starting anywhere a whole
    block fits, cut to n; `block=1` is the i.i.d. bootstrap within sequences."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((resamples, len(sequences)), dtype=np.int64)
    for sequence in dict.fromkeys(sequences.tolist()):
        members = np.flatnonzero(sequences == sequence)
        size, length = len(members), min(block, len(members))
        starts = rng.integers(0, size - length + 1, size=(resamples, -(-size // length)))
        drawn = (starts[..., None] + np.arange(length)).reshape(resamples, -1)[:, :size]
        for row, positions in enumerate(drawn):
            np.add.at(counts[row], members[positions], 1)
    return counts


def resampled_scores(record: PerImageRecord, counts: np.ndarray) -> dict[str, np.ndarray]:
    """G, C, mIoU, BF (fractions) of each resample in `counts` (resamples, images), as `PerImageRecord.scores`
    computes them for one set of images (the region scores from the summed confusion, BF the images' mean)."""
    k = record.confusion.shape[-1]
    total = (counts @ record.confusion.reshape(len(record), -1).astype(np.float64)).reshape(-1, k, k)
    true_positive = np.diagonal(total, axis1=1, axis2=2)
    truth, predicted = total.sum(2), total.sum(1)
    present = (truth + predicted) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(present, np.where(truth > 0, true_positive / truth, 0.0), np.nan)
        iou = np.where(present, true_positive / (truth + predicted - true_positive), np.nan)
        image_bf = image_bf_from_counts(record.boundary)
        scored = ~np.isnan(image_bf)
        bf = counts[:, scored] @ image_bf[scored] / counts[:, scored].sum(1)
    return {
        "G": true_positive.sum(1) / total.sum((1, 2)),
        "C": np.nanmean(accuracy, axis=1),
        "mIoU": np.nanmean(iou, axis=1),
        "BF": np.nan_to_num(bf),
    }


@dataclass(frozen=True)
class Interval:
    """A score (percent) and its percentile interval; `seeds` runs, `kind` "images" or "seeds and images"."""

    value: float
    low: float
    high: float
    seeds: int = 1

    @property
    def kind(self) -> str:
        return "seeds and images" if self.seeds > 1 else "images only"

    @property
    def half_width(self) -> float:
        """The interval's larger side from the value: what `±` shows (a percentile interval need not be symmetric)."""
        return max(self.value - self.low, self.high - self.value)

    def shown(self, decimals: int = 1) -> str:
        """`36.0 ±1.1`: the value and the interval's larger half-width."""
        return f"{self.value:.{decimals}f} ±{self.half_width:.{decimals}f}"


def _percentile(samples: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def _cell_samples(
    runs: Sequence[PerImageRecord], counts: np.ndarray, seed_draws: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Each resample's score of a cell: its seeds' runs scored on the resampled images, averaged over the seeds
    drawn for that resample (`seed_draws`, resamples x seeds; None: every run, a one-seed cell)."""
    per_run = [resampled_scores(run, counts) for run in runs]
    if seed_draws is None:
        return {m: np.mean([scores[m] for scores in per_run], axis=0) for m in MEASURES}
    rows = np.arange(len(counts))[:, None]
    return {m: np.stack([scores[m] for scores in per_run], axis=1)[rows, seed_draws].mean(1) for m in MEASURES}


def _seed_draws(runs: int, resamples: int, rng: np.random.Generator) -> np.ndarray | None:
    return rng.integers(0, runs, size=(resamples, runs)) if runs > 1 else None


def _check_same_images(cells: Sequence[Sequence[PerImageRecord]]) -> PerImageRecord:
    first = cells[0][0]
    for run in (run for cell in cells for run in cell):
        if not np.array_equal(run.names, first.names):
            raise ValueError("per-image records of different test images cannot be resampled together")
    return first


def interval(
    runs: Sequence[PerImageRecord],
    block: int | None = None,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> dict[str, Interval]:
    """Each measure's score (percent; the mean over the cell's seeds) and its `level` interval over test images
    and, with several runs, seeds."""
    reference = _check_same_images([runs])
    block = block_length(runs) if block is None else block
    counts = block_resamples(reference.sequences, block, resamples, seed)
    samples = _cell_samples(runs, counts, _seed_draws(len(runs), resamples, np.random.default_rng(seed + 1)))
    values = {m: float(np.mean([run.scores()[m] for run in runs])) * 100 for m in MEASURES}
    return {
        m: Interval(values[m], *(100 * bound for bound in _percentile(samples[m], level)), seeds=len(runs))
        for m in MEASURES
    }


@dataclass(frozen=True)
class Difference:
    """A − B (percent points) with its interval; the verdict on "A beats B" or "A is as good as B (± margin)"."""

    value: float
    low: float
    high: float
    verdict: str

    def shown(self, decimals: int = 1) -> str:
        """`-1.0 [-2.1, +0.3]`: the difference and its interval, signed."""
        return f"{self.value:+.{decimals}f} [{self.low:+.{decimals}f}, {self.high:+.{decimals}f}]"


def compare(
    better: Sequence[PerImageRecord],
    worse: Sequence[PerImageRecord],
    measure: str,
    margin: float | None = None,
    block: int | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Difference:
    """Paired comparison of two cells on the same resampled test images (each cell's seeds drawn apart).

    Without `margin`, the claim "better beats worse": *holds* when the 95% interval of the difference is above
    zero, *reversed* when below, else *within noise*. With `margin` (points), the claim "as good as": two
    one-sided tests at 5%, i.e. *holds* when the 90% interval lies inside ±margin, *reversed* when it lies
    wholly outside, else *within noise*.
    """
    return compare_measures(better, worse, margin, block, resamples, seed)[measure]


def compare_measures(
    better: Sequence[PerImageRecord],
    worse: Sequence[PerImageRecord],
    margin: float | None = None,
    block: int | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict[str, Difference]:
    """`compare` of every measure at once: the resamples score all measures, so a report comparing two cells on
    G, C, mIoU and BF draws them once (each measure's result is `compare`'s)."""
    reference = _check_same_images([better, worse])
    block = block_length([*better, *worse]) if block is None else block
    counts = block_resamples(reference.sequences, block, resamples, seed)
    rng = np.random.default_rng(seed + 1)
    samples = [_cell_samples(cell, counts, _seed_draws(len(cell), resamples, rng)) for cell in (better, worse)]
    differences = {}
    for measure in MEASURES:
        difference = samples[0][measure] * 100 - samples[1][measure] * 100
        value = 100 * (np.mean([r.scores()[measure] for r in better]) - np.mean([r.scores()[measure] for r in worse]))
        if margin is None:
            low, high = _percentile(difference, 0.95)
            verdict = "holds" if low > 0 else "reversed" if high < 0 else "within noise"
        else:
            low, high = _percentile(difference, 0.90)
            inside, outside = -margin < low and high < margin, low > margin or high < -margin
            verdict = "holds" if inside else "reversed" if outside else "within noise"
        differences[measure] = Difference(float(value), low, high, verdict)
    return differences
