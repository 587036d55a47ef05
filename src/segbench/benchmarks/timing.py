"""The one timing helper of the benchmarks: torch.utils.benchmark's Timer (its clock synchronises CUDA, it runs in
the threads this process uses, it sizes blocks of calls so that the clock's overhead does not count), after
warm-up calls the first of which may be stopped as too slow."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from rich.progress import Progress
from torch.utils import benchmark

from segbench.precision import TooSlow, time_limit


@dataclass(frozen=True)
class Timing:
    """Milliseconds per call: the median and interquartile range over the timed blocks, and the calls timed."""

    median_ms: float
    iqr_ms: float
    calls: int


def time_calls(
    step: Callable[[], object],
    runs: int,
    warmup: int = 1,
    *,
    limit_ms: float = math.inf,
    progress: Progress | None = None,
    label: str = "",
) -> Timing | None:
    """Time about `runs` calls of `step` after `warmup` untimed ones (at least one: it sizes the measurement).
    None when the first warm-up call runs past `limit_ms`."""
    warmup = max(warmup, 1)
    task = progress.add_task(label, total=warmup + runs) if progress else None

    def advance(calls: int, *_: object) -> None:
        if progress:
            progress.advance(task, calls)

    try:
        with time_limit() as deadline:
            for index in range(warmup):
                started = time.perf_counter()
                deadline[0] = started + limit_ms / 1000 if index == 0 else math.inf
                step()
                call_s = time.perf_counter() - started
                advance(1)
        timer = benchmark.Timer(stmt="step()", globals={"step": step}, num_threads=torch.get_num_threads())
        # blocks of calls until `runs` calls' worth of the last warm-up call has been timed
        measurement = timer.blocked_autorange(callback=advance, min_run_time=runs * call_s)
    except TooSlow:
        return None
    finally:
        if progress:
            progress.remove_task(task)
    return Timing(
        median_ms=1000 * measurement.median,
        iqr_ms=1000 * measurement.iqr,
        calls=measurement.number_per_run * len(measurement.raw_times),
    )
