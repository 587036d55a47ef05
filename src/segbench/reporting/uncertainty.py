"""How sure each Table 1 test score of a grid is (issue 27, beyond the paper): a cell's complete runs (its seeds)
aggregated into a mean, a spread and a count, and, where every run of the cell kept a per-image record, the
bootstrap interval of `segbench.stats.bootstrap` over its test images (and seeds).

Badrinarayanan et al., "SegNet", TPAMI 2017, Table 1 reports one number per cell; Sec. 3.3 draws its conclusions
from differences of a point or two, which is why the report puts the noise beside them.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from segbench.errors import SegbenchError
from segbench.paper import paper_order
from segbench.record.per_image import PerImageRecord
from segbench.reporting.grid_runs import Run
from segbench.reporting.labels import BALANCING_SHORT
from segbench.stats.bootstrap import LEVEL, RESAMPLES, Interval, block_length, interval

Key = tuple[str, str]  # (model, balancing)


@dataclass(frozen=True)
class CellScores:
    """A cell's complete runs, by seed, and what the report shows of them. `records`: each run's per-image record,
    None unless every run has one (an interval over some seeds only would be narrower than the cell's)."""

    runs: tuple[Run, ...]
    records: tuple[PerImageRecord, ...] | None

    @property
    def n(self) -> int:
        return len(self.runs)

    def values(self, split: str, metric: str) -> list[float]:
        """The runs' scores (fractions) that are recorded."""
        return [value for run in self.runs if (value := run.score(split, metric)) is not None]

    def mean(self, split: str, metric: str) -> float | None:
        values = self.values(split, metric)
        return float(np.mean(values)) if values else None

    def sd(self, split: str, metric: str) -> float | None:
        """The sample standard deviation over the seeds (fraction); None with fewer than two."""
        values = self.values(split, metric)
        return statistics.stdev(values) if len(values) > 1 else None

    @cached_property
    def block(self) -> int | None:
        return block_length(self.records) if self.records else None

    @cached_property
    def intervals(self) -> dict[str, Interval]:
        """Each test measure's interval (percent); {} without per-image records."""
        return interval(self.records, block=self.block) if self.records else {}

    @property
    def seeds_text(self) -> str:
        seeds = [str(run.seed) for run in self.runs if run.seed is not None]
        if not seeds:
            return f"{self.n} runs" if self.n > 1 else ""
        return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}"


def _records(runs: Sequence[Run]) -> tuple[PerImageRecord, ...] | None:
    records = [run.per_image() for run in runs]
    if any(record is None for record in records):
        return None
    first = records[0]
    for run, record in zip(runs[1:], records[1:]):
        if not np.array_equal(record.names, first.names):
            raise SegbenchError(
                f"{run.folder / str(run.record.per_image)}: a per-image record of other test images than "
                f"{runs[0].folder / str(runs[0].record.per_image)}, a run of the same cell"
            )
    return tuple(records)


def cell_scores(cells: Mapping[Key, Sequence[Run]]) -> dict[Key, CellScores]:
    """Each cell's complete runs (`grid_runs.seeds`) with their per-image records read."""
    return {key: CellScores(tuple(runs), _records(runs)) for key, runs in cells.items()}


def _listed(cells: Mapping[Key, CellScores]) -> str:
    """`variant (MF, NF)` of each cell, in Table 1's order then by model option."""
    by_variant: dict[str, list[str]] = {}
    for (_, balancing), scores in cells.items():
        by_variant.setdefault(scores.runs[0].record.variant_name, []).append(BALANCING_SHORT.get(balancing, balancing))

    def order(name: str) -> tuple:
        return (paper_order(name) is None, paper_order(name) or (0, 0), name)

    return ", ".join(f"{name} ({', '.join(sorted(by_variant[name]))})" for name in sorted(by_variant, key=order))


def method_lines(cells: Mapping[Key, CellScores]) -> list[str]:
    """The intro's paragraph on the ± of the scores: the method with the block lengths found, and the cells
    without per-image records (no interval)."""
    with_records = {key: scores for key, scores in cells.items() if scores.records}
    without = {key: scores for key, scores in cells.items() if not scores.records}
    lines = []
    if with_records:
        blocks = sorted({scores.block for scores in with_records.values()})
        frames = "1 frame" if blocks == [1] else f"{blocks[0]} frames" if len(blocks) == 1 else None
        found = frames or f"{blocks[0]} to {blocks[-1]} frames, per cell"
        several = any(scores.n > 1 for scores in with_records.values())
        seeds = (
            " A cell of several seeds (its run column names them) shows their mean, and its interval also "
            "draws the seeds with replacement (seeds and images; crude with as few as three seeds); a one-seed "
            "cell's is over test images only."
            if several
            else " Each cell has one seed: its interval is over test images only, not training randomness."
        )
        lines.append(
            f"**±**: half the widest side of the {LEVEL:.0%} percentile interval of the test score from "
            f"{RESAMPLES:,} moving-block bootstrap resamples of the test images (blocks of consecutive frames within "
            "each video sequence, as long as the first lag at which the autocorrelation of per-image pixel accuracy "
            f"falls inside the white-noise band 2/√n: here {found}), from each run's per-image record "
            f"(`segbench.stats.bootstrap`; docs/protocol.md, *Uncertainty of scores*).{seeds}"
        )
    if without and not any(run.record.per_image for scores in cells.values() for run in scores.runs):
        lines.append(
            "No run here has a per-image record (`per_image.npz`, which runs keep since issue 27): no interval on "
            "the scores, and the conclusions compare them by value."
        )
    elif without:
        lines.append(
            f"No interval for {_listed(without)}: not every run of the cell has a per-image record "
            "(`per_image.npz`), and the conclusions compare their scores by value."
        )
    return lines
