"""The moving-block bootstrap over per-image records (segbench.stats.bootstrap), on hand-made confusions."""

from __future__ import annotations

import numpy as np
import pytest

from segbench.record.per_image import PerImageRecord
from segbench.stats.bootstrap import block_length, block_resamples, compare, interval, resampled_scores


def record(right: list[int], wrong: list[int] | None = None, sequences: list[str] | None = None) -> PerImageRecord:
    """Images of two classes: image i has right[i] pixels of class 0 predicted right and wrong[i] (default
    100 - right[i]) predicted as class 1; class 1 has 10 pixels, always right. No boundary counts (BF 0)."""
    wrong = [100 - r for r in right] if wrong is None else wrong
    confusion = np.array([[[r, w], [0, 10]] for r, w in zip(right, wrong)])
    n = len(right)
    return PerImageRecord(
        names=np.array([f"f{i:03d}" for i in range(n)]),
        sequences=np.array(sequences or ["seq"] * n),
        class_names=np.array(["road", "car"]),
        confusion=confusion,
        boundary=np.full((n, 2, 4), -1),
    )


def test_resampled_scores_equal_the_records_own_scores_of_the_drawn_images():
    generator = np.random.default_rng(0)
    confusion = generator.integers(0, 50, size=(6, 3, 3))
    predicted = generator.integers(1, 20, size=(6, 3))
    truth = generator.integers(1, 20, size=(6, 3))
    boundary = np.stack([predicted, truth, predicted // 2, truth // 3], axis=-1)
    run = PerImageRecord(np.array(list("abcdef")), np.array(["s"] * 6), np.array(["x", "y", "z"]), confusion, boundary)
    drawn = [np.array([0, 0, 3, 5, 5, 5]), np.array([1, 2, 3, 4, 5, 0])]
    counts = np.stack([np.bincount(images, minlength=6) for images in drawn])
    resampled = resampled_scores(run, counts)
    for row, images in enumerate(drawn):
        assert {m: resampled[m][row] for m in resampled} == pytest.approx(run.scores(images))


def test_blocks_stay_within_their_sequence():
    sequences = np.array(["dusk"] * 5 + ["day"] * 4)
    counts = block_resamples(sequences, block=3, resamples=500)
    assert (counts[:, :5].sum(1) == 5).all() and (counts[:, 5:].sum(1) == 4).all()
    # A block as long as its sequence can start only at its first image: each image drawn exactly once.
    assert (block_resamples(sequences, block=5, resamples=50)[:, :5] == 1).all()
    # Blocks of 3 in a 4-image sequence start at image 0 or 1: its last image is drawn only in a block
    # starting at 1, which also holds images 1 and 2 (so they are drawn at least as often).
    day = counts[:, 5:]
    assert (day[:, 1] >= day[:, 3]).all() and (day[:, 2] >= day[:, 3]).all()


def test_block_length_is_1_for_independent_images_and_longer_for_a_slow_drift():
    generator = np.random.default_rng(1)
    assert block_length([record(list(generator.integers(0, 100, size=200)))]) == 1
    drift = [int(50 + 40 * np.sin(i / 15)) for i in range(200)]
    assert block_length([record(drift)]) > 5


def test_the_interval_is_the_hand_computed_one():
    """Three images of pixel accuracy 20, 50 and 80% (pixels of class 1 left aside by giving it none), i.i.d.:
    each resample's G is the mean of three draws; all three the 20% image has probability 1/27 (3.7% > 2.5%),
    so the 95% percentile interval is [20, 80] around 50."""
    run = record([20, 50, 80])
    run = PerImageRecord(run.names, run.sequences, run.class_names, run.confusion * [[1, 1], [0, 0]], run.boundary)
    scores = interval([run], block=1)
    assert (scores["G"].value, scores["G"].low, scores["G"].high) == pytest.approx((50.0, 20.0, 80.0))
    assert scores["G"].shown() == "50.0 ±30.0" and scores["G"].kind == "images only"


def test_identical_runs_are_within_noise_and_a_clearly_better_run_holds():
    generator = np.random.default_rng(2)
    good = list(generator.integers(80, 100, size=40))
    run = record(good)
    assert compare([run], [run], "G").verdict == "within noise"
    worse = record([r - 30 for r in good])
    assert compare([run], [worse], "G").verdict == "holds"
    assert compare([worse], [run], "G").verdict == "reversed"
    difference = compare([run], [worse], "G")
    assert difference.low > 0 and difference.value == pytest.approx(100 * 30 * 40 / (110 * 40))


def test_equivalence_holds_inside_the_margin_and_is_reversed_outside():
    """B has 2 of each image's 110 pixels fewer right than A: 1.82 points of G in every resample, inside a margin of
    2.5 points (two one-sided tests: the 90% interval inside), outside one of 1.5."""
    a = record([90] * 30, [10] * 30)
    b = record([88] * 30, [12] * 30)
    gap = 100 * 2 / 110
    assert compare([a], [b], "G", margin=2.5).verdict == "holds"
    assert compare([a], [b], "G", margin=1.5).verdict == "reversed"
    assert compare([a], [b], "G", margin=2.5).value == pytest.approx(gap)


def test_disagreeing_seeds_widen_the_interval_beyond_the_images_alone():
    generator = np.random.default_rng(3)
    base = generator.integers(60, 80, size=40)
    seeds = [record(list(base + shift)) for shift in (-8, 0, 8)]
    alone, together = interval(seeds[1:2], block=1)["G"], interval(seeds, block=1)["G"]
    assert together.kind == "seeds and images" and together.seeds == 3
    assert together.high - together.low > 1.5 * (alone.high - alone.low)
