"""Counts of values in equal bins, summed across processes (torchmetrics has no histogram metric)."""

from __future__ import annotations

import torch
from torchmetrics import Metric


class Histogram(Metric):
    """How many of the values seen fall in each of `bins` equal bins over [low, high] (values outside are clamped
    into the end bins). Used for the distribution of Bayesian SegNet's per-pixel uncertainty."""

    full_state_update = False

    def __init__(self, bins: int = 20, low: float = 0.0, high: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if bins < 1 or not high > low:
            raise ValueError(f"a histogram needs bins >= 1 and high > low, not bins={bins}, [{low}, {high}]")
        self.bins, self.low, self.high = bins, low, high
        self.add_state("counts", default=torch.zeros(bins, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, values: torch.Tensor) -> None:
        values = values.detach().float().flatten().clamp(self.low, self.high)
        self.counts += torch.histc(values, bins=self.bins, min=self.low, max=self.high).long()

    def compute(self) -> torch.Tensor:
        return self.counts

    @property
    def edges(self) -> list[float]:
        step = (self.high - self.low) / self.bins
        return [self.low + step * i for i in range(self.bins + 1)]
