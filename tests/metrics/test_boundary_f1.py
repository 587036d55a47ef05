"""Tests of the Boundary F1 score (SegNet paper Sec. 3.3): segbench.metrics.boundary_f1 and its matcher
segbench.metrics.boundary_matching, checked against the oracles of matching_oracles.py."""

from __future__ import annotations

import math
import os
from functools import cache

import numpy as np
import pytest
import torch
from matching_oracles import koenig_cover, maximum_bipartite_matching
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching as scipy_matching

from segbench.data.camvid import NUM_CLASSES
from segbench.metrics.boundary_f1 import BoundaryF1Score, boundary_f1_image, boundary_f1_per_class, boundary_map
from segbench.metrics.boundary_matching import boundary_match_counts, boundary_matching
from segbench.paper import BF_TOLERANCE

H, W = 360, 480  # diagonal 600 px -> tolerance 0.0075 * 600 = 4.5 px
TOL_PX = 4.5


def square(dy: int = 0, dx: int = 0, side: int = 100, top: int = 130, left: int = 190) -> np.ndarray:
    """Class 1 square of `side` px on class 0, moved by (dy, dx)."""
    lab = np.zeros((H, W), dtype=np.int64)
    lab[top + dy : top + dy + side, left + dx : left + dx + side] = 1
    return lab


# --------------------------------------------------------------------------------------------
# Boundary rule
# --------------------------------------------------------------------------------------------
def test_boundary_rule_4x4_block():
    mask = np.array([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=bool)
    expected = np.array([[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(boundary_map(mask), expected)
    # the complement has the same boundary (the 2x2 rule is symmetric)
    np.testing.assert_array_equal(boundary_map(~mask), expected)


def test_boundary_rule_last_row_and_column():
    # Last row: only the right neighbour is compared; last column: only the one below;
    # the bottom-right corner never is a boundary; the image border itself is not a boundary.
    mask = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1]], dtype=bool)
    expected = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 1, 1], [0, 1, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(boundary_map(mask), expected)
    assert not boundary_map(np.ones((4, 4), dtype=bool)).any()


def test_square_ring_size():
    # A side-s square has as boundary the ring of the (s+1)x(s+1) box one px up-left: 4s px.
    assert boundary_map(square() == 1).sum() == 400


# --------------------------------------------------------------------------------------------
# Hand-derived BF values at 360x480 (tolerance 4.5 px)
# --------------------------------------------------------------------------------------------
def test_identical_maps_score_one():
    lab = square()
    lab[10:50, 10:400] = 2
    assert boundary_f1_image(lab, lab, num_classes=3) == 1.0
    assert boundary_f1_image(lab, lab, num_classes=3, matching="approximate") == 1.0


@pytest.mark.parametrize("shift", [(2, 0), (0, 2), (2, 2), (-2, 1)])
def test_square_shifted_2px_scores_one(shift):
    # the translation pairs every boundary px with one at distance <= 2*sqrt(2) < 4.5
    assert boundary_f1_image(square(*shift), square(), num_classes=2) == 1.0


@pytest.mark.parametrize("shift", [(0, 10), (10, 0), (0, -10)])
def test_square_shifted_10px_hand_value(shift):
    # Derivation (shift along x; the others are the same by symmetry). Both rings are the boundary
    # of a box of L = 101 px a side: 4(L-1) = 400 px each, GT box x in [0, L-1], pred x in [10, L+9].
    # Edges need dx^2 + dy^2 <= 20 (4.5^2 = 20.25). GT px with any pred px within 4.5: top and
    # bottom rows x in [6, L-1] (x <= 5 is >= 5 px from every pred px) and the right column's 4 px
    # next to each corner (y in 1..4 and L-5..L-2; the other rows are >= 5 px away); the left column
    # (10 px from pred) has none: at most 2(L-6) + 8 = 2(L-2) = 198 matches. A matching of that
    # size, per corner region: GT top x = 10..L-1 <-> pred top same x (d = 0); GT top x = 9, 7, 6, 8
    # <-> pred left column y = 1, 3, 2, 4 (d^2 = 2, 18, 20, 20); GT right column y = 1..4 <-> pred
    # top x = L+3, L+2, L+1, L (d^2 = 17, 13, 13, 17); the bottom mirrors it.
    # So matched = 198, P = R = 198/400 = 0.495, F1 = 0.495 for class 1 and class 0 (same rings).
    expected = 198 / 400
    per_class = boundary_f1_per_class(square(*shift), square(), num_classes=2)
    np.testing.assert_allclose(per_class, [expected, expected], rtol=0, atol=1e-12)
    assert abs(boundary_f1_image(square(*shift), square(), num_classes=2) - 0.495) < 1e-12
    n_p, n_g, m_p, m_g = boundary_match_counts(boundary_map(square(*shift) == 1), boundary_map(square() == 1), TOL_PX)
    assert (n_p, n_g, m_p, m_g) == (400, 400, 198, 198)


def test_class_missing_from_prediction():
    # GT: class 0 | class 1 split at column 240, class 2 = 40x40 square inside class 0.
    # Pred: the square is class 0.  Class 2: GT boundary, no pred boundary -> F1 = 0.
    # Class 1: both boundaries = column 239 (360 px) -> 1.  Class 0: pred = column (360 px), GT =
    # column + ring (360 + 160 px): P = 1, R = 360/520 = 9/13 -> F1 = 2R/(1+R) = 18/22 = 9/11.
    # Image BF = (9/11 + 1 + 0) / 3 = 20/33.
    gt = np.zeros((H, W), dtype=np.int64)
    gt[:, 240:] = 1
    gt[100:140, 60:100] = 2
    pred = gt.copy()
    pred[pred == 2] = 0
    per_class = boundary_f1_per_class(pred, gt, num_classes=3)
    np.testing.assert_allclose(per_class, [9 / 11, 1.0, 0.0], rtol=0, atol=1e-12)
    assert abs(boundary_f1_image(pred, gt, num_classes=3) - 20 / 33) < 1e-12


def test_one_to_one_vs_many_to_one():
    # GT: class 0 rows 0..179, class 1 below -> boundary row 179 (480 px) for both classes.
    # Pred: class 1 only rows 180..181 -> boundary rows 179 and 181 (960 px), both within 2 px of
    # the GT row. Exact (one-to-one): 480 matches, P = 480/960 = 1/2, R = 1, F1 = 2/3.
    # Approximate (many-to-one distance transform): every pred px has a GT px within reach, P = 1,
    # F1 = 1 -- it over-counts the doubled contour, which is why exact is the default.
    gt = np.zeros((H, W), dtype=np.int64)
    gt[180:] = 1
    pred = np.zeros((H, W), dtype=np.int64)
    pred[180:182] = 1
    exact = boundary_f1_per_class(pred, gt, num_classes=2)
    approx = boundary_f1_per_class(pred, gt, num_classes=2, matching="approximate")
    np.testing.assert_allclose(exact, [2 / 3, 2 / 3], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(approx, [1.0, 1.0])
    assert boundary_f1_image(pred, gt, num_classes=2) < 1.0


def test_whole_image_class_and_edge_cases():
    full = np.zeros((H, W), dtype=np.int64)
    # class 0 fills the image in both: no boundary anywhere -> F1 = 1 (documented choice)
    assert boundary_f1_per_class(full, full, num_classes=2)[0] == 1.0
    assert np.isnan(boundary_f1_per_class(full, full, num_classes=2)[1])
    # GT fills the image with class 0, pred has a square of class 1: class 0 has pred boundary
    # only -> 0; class 1 absent from GT -> not counted under "gt", counted (0) under "gt_or_pred"
    pc = boundary_f1_per_class(square(), full, num_classes=2)
    assert pc[0] == 0.0 and np.isnan(pc[1])
    either = boundary_f1_per_class(square(), full, num_classes=2, class_rule="gt_or_pred")
    np.testing.assert_array_equal(either, [0.0, 0.0])
    # "gt_or_pred" drops a class without boundary on either side
    assert np.isnan(boundary_f1_per_class(full, full, num_classes=2, class_rule="gt_or_pred")).all()


def test_ignore_index_is_not_a_class_but_not_masked():
    gt = square()
    gt[:, :100] = 2  # void stripe
    pred = gt.copy()
    pc = boundary_f1_per_class(pred, gt, num_classes=3, ignore_index=2)
    assert np.isnan(pc[2]) and pc[0] == 1.0 and pc[1] == 1.0
    # void px are "not c": a pred that labels the void stripe class 0 loses class 0's boundary
    # at column 99 -> class 0 gets recall < 1
    pred2 = gt.copy()
    pred2[pred2 == 2] = 0
    assert boundary_f1_per_class(pred2, gt, num_classes=3, ignore_index=2)[0] < 1.0
    # all-void GT: nothing counted
    assert math.isnan(boundary_f1_image(pred, np.full((H, W), 2), num_classes=3, ignore_index=2))


# --------------------------------------------------------------------------------------------
# Matcher exactness
# --------------------------------------------------------------------------------------------
def brute_force_matching(adj: list[list[int]]) -> int:
    """Maximum matching size by exhaustive search (DP over left vertex and used right set)."""

    @cache
    def best(i: int, used: int) -> int:
        if i == len(adj):
            return 0
        out = best(i + 1, used)
        for v in adj[i]:
            if not (used >> v) & 1:
                out = max(out, 1 + best(i + 1, used | (1 << v)))
        return out

    return best(0, 0)


def match_right(ml: np.ndarray, n_right: int) -> np.ndarray:
    """The right side of a matching given as match_left (a right vertex used twice keeps one partner,
    which check_certificate then rejects)."""
    mr = np.full(n_right, -1, dtype=np.int64)
    matched = np.flatnonzero(ml >= 0)
    mr[ml[matched]] = matched
    return mr


def check_certificate(indptr, indices, n_right, ml, mr):
    """Valid matching + König vertex cover of the same size -> maximum."""
    matched = np.flatnonzero(ml >= 0)
    assert (mr[ml[matched]] == matched).all()
    assert (mr >= 0).sum() == matched.size
    for u in matched:
        assert ml[u] in indices[indptr[u] : indptr[u + 1]]
    cover_l, cover_r = koenig_cover(indptr, indices, n_right, ml, mr)
    eu = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    assert (cover_l[eu] | cover_r[indices]).all()
    assert cover_l.sum() + cover_r.sum() == matched.size


def test_matcher_vs_brute_force_on_random_geometric_graphs():
    rng = np.random.default_rng(0)
    for trial in range(150):
        side = int(rng.integers(4, 9))
        pb = rng.random((side, side)) < rng.uniform(0.1, 0.5)
        gb = rng.random((side, side)) < rng.uniform(0.1, 0.5)
        if gb.sum() > 10:  # keep the brute force small
            gb[np.nonzero(gb)[0][10:], np.nonzero(gb)[1][10:]] = False
        tol = float(rng.choice([1.0, 1.5, 2.3, 3.0]))
        py, px = np.nonzero(pb)
        gy, gx = np.nonzero(gb)
        # independent graph: float distances
        adj = [[j for j in range(gy.size) if math.hypot(py[i] - gy[j], px[i] - gx[j]) <= tol] for i in range(py.size)]
        expected = brute_force_matching(adj)
        n_p, n_g, m_p, m_g = boundary_match_counts(pb, gb, tol)
        assert (n_p, n_g, m_p, m_g) == (py.size, gy.size, expected, expected), trial
        indptr = np.concatenate([[0], np.cumsum([len(a) for a in adj])]).astype(np.int64)
        indices = np.array([v for a in adj for v in a], dtype=np.int64)
        # the production matcher's own matching, certified on the independently built graph
        ml = boundary_matching(pb, gb, tol)
        assert ml.shape == (py.size,)
        check_certificate(indptr, indices, gy.size, ml, match_right(ml, gy.size))
        for method in ("dinic", "hopcroft_karp"):
            ml, mr = maximum_bipartite_matching(indptr, indices, gy.size, method=method)
            assert (ml >= 0).sum() == expected
            check_certificate(indptr, indices, gy.size, ml, mr)
        if indices.size:
            g = csr_matrix((np.ones(indices.size), indices, indptr), shape=(py.size, gy.size))
            assert (scipy_matching(g, perm_type="column") >= 0).sum() == expected


def test_matcher_on_random_general_graphs_and_bad_start():
    rng = np.random.default_rng(1)
    for _ in range(100):
        n_l, n_r = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        dense = rng.random((n_l, n_r)) < rng.uniform(0.05, 0.6)
        adj = [list(np.flatnonzero(row)) for row in dense]
        expected = brute_force_matching([list(map(int, a)) for a in adj])
        g = csr_matrix(dense.astype(np.int8))
        indptr, indices = g.indptr.astype(np.int64), g.indices.astype(np.int64)
        # a deliberately poor start: first-come greedy on the last-listed edge of each vertex
        init = np.full(n_l, -1, dtype=np.int64)
        taken = set()
        for u in range(n_l):
            for v in reversed(adj[u]):
                if v not in taken:
                    init[u] = v
                    taken.add(int(v))
                    break
        for method in ("dinic", "hopcroft_karp"):
            for start in (None, init):
                ml, mr = maximum_bipartite_matching(indptr, indices, n_r, init=start, method=method)
                assert (ml >= 0).sum() == expected
                check_certificate(indptr, indices, n_r, ml, mr)


def test_approximate_equals_distance_transform_rule():
    rng = np.random.default_rng(2)
    for _ in range(20):
        pb = rng.random((30, 40)) < 0.05
        gb = rng.random((30, 40)) < 0.05
        n_p, n_g, m_p, m_g = boundary_match_counts(pb, gb, TOL_PX, matching="approximate")
        d_to_gt = ndimage.distance_transform_edt(~gb)
        d_to_pred = ndimage.distance_transform_edt(~pb)
        assert m_p == int((d_to_gt[pb] <= TOL_PX).sum())
        assert m_g == int((d_to_pred[gb] <= TOL_PX).sum())
        # exact one-to-one never matches more than the many-to-one count
        exact = boundary_match_counts(pb, gb, TOL_PX)
        assert exact[2] <= min(m_p, m_g)


def test_real_camvid_graph_certified(real_camvid_root):
    # The graph scipy's maximum_bipartite_matching stalls on: a CamVid class shifted by 3 px.
    from PIL import Image

    gt = np.array(Image.open(sorted((real_camvid_root / "testannot").glob("*.png"))[0])).astype(np.int64)
    pred = gt.copy()
    pred[3:, 3:] = gt[:-3, :-3]
    pred[100:160, 200:260] = (pred[100:160, 200:260] + 1) % NUM_CLASSES
    for c in (0, 5):
        pb, gb = boundary_map(pred == c), boundary_map(gt == c)
        py, px = np.nonzero(pb)
        gy, gx = np.nonzero(gb)
        idx = np.full((H + 10, W + 10), -1)
        idx[gy + 5, gx + 5] = np.arange(gy.size)
        rows = []
        for i in range(py.size):
            win = idx[py[i] : py[i] + 11, px[i] : px[i] + 11]
            yy, xx = np.nonzero(win >= 0)
            ok = (yy - 5) ** 2 + (xx - 5) ** 2 <= 20.25
            rows.append(win[yy[ok], xx[ok]])
        indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])]).astype(np.int64)
        indices = np.concatenate(rows).astype(np.int64)
        ml, mr = maximum_bipartite_matching(indptr, indices, gy.size)
        check_certificate(indptr, indices, gy.size, ml, mr)
        assert boundary_match_counts(pb, gb, TOL_PX)[2] == (ml >= 0).sum()
        production = boundary_matching(pb, gb, TOL_PX)
        check_certificate(indptr, indices, gy.size, production, match_right(production, gy.size))


# --------------------------------------------------------------------------------------------
# Metric
# --------------------------------------------------------------------------------------------
def test_default_tolerance_is_the_papers():
    # the hand values above assume the paper's 0.75% of the 600 px diagonal, i.e. TOL_PX
    assert math.isclose(BF_TOLERANCE * math.hypot(H, W), TOL_PX)
    assert BoundaryF1Score(num_classes=2).tolerance == BF_TOLERANCE
    lab = square(0, 10)
    assert boundary_f1_image(lab, square(), 2) == boundary_f1_image(lab, square(), 2, tolerance=BF_TOLERANCE)


def test_metric_multi_image_average():
    # image A identical (BF 1), image B the 10-px shift (BF 0.495) -> mean 0.7475
    preds = torch.from_numpy(np.stack([square(), square(0, 10)]))
    target = torch.from_numpy(np.stack([square(), square()]))
    metric = BoundaryF1Score(num_classes=2)
    metric.update(preds, target)
    assert abs(metric.compute().item() - 0.7475) < 1e-12
    metric2 = BoundaryF1Score(num_classes=2)
    metric2.update(preds[:1], target[:1])
    metric2.update(preds[1:], target[1:])
    assert abs(metric2.compute().item() - 0.7475) < 1e-12
    assert metric.score_sum.dtype == torch.float64 and int(metric.image_count) == 2


def test_metric_logits_equal_argmax():
    rng = np.random.default_rng(3)
    labels = np.stack([square(0, 10), square(3, -4)])
    labels[:, 20:60, 30:90] = 2
    logits = torch.from_numpy(rng.normal(size=(2, 3, H, W)).astype(np.float32))
    logits += 10.0 * torch.nn.functional.one_hot(torch.from_numpy(labels), 3).permute(0, 3, 1, 2)
    target = torch.from_numpy(np.stack([square(), square()]))
    a, b = BoundaryF1Score(num_classes=3), BoundaryF1Score(num_classes=3)
    a.update(logits, target)
    b.update(torch.from_numpy(labels), target)
    assert torch.equal(logits.argmax(1), torch.from_numpy(labels))
    assert a.compute().item() == b.compute().item()
    assert 0.0 < a.compute().item() < 1.0


def test_metric_empty_and_bad_inputs():
    metric = BoundaryF1Score(num_classes=3)
    with pytest.warns(UserWarning, match="before the ``update`` method"):  # torchmetrics' own notice, expected here
        assert metric.compute().item() == 0.0
    lab = torch.zeros(1, 8, 8, dtype=torch.long)
    with pytest.raises(ValueError):
        metric.update(lab, torch.zeros(1, 8, 9, dtype=torch.long))  # shape mismatch
    with pytest.raises(ValueError):
        metric.update(lab[0], lab[0])  # wrong ndim
    with pytest.raises(ValueError):
        metric.update(lab.float(), lab)  # float (N, H, W) preds
    with pytest.raises(ValueError):
        metric.update(torch.zeros(1, 4, 8, 8), lab)  # 4 channels for 3 classes
    with pytest.raises(ValueError):
        BoundaryF1Score(num_classes=3, class_rule="pred")
    with pytest.raises(ValueError):
        BoundaryF1Score(num_classes=3, matching="fast")
    with pytest.raises(ValueError):
        boundary_f1_image(np.zeros((4, 4), int), np.zeros((4, 5), int), 2)


def test_deterministic_across_runs():
    rng = np.random.default_rng(4)
    gt = ndimage.zoom(rng.integers(0, 5, size=(12, 16)), 30, order=0).astype(np.int64)
    pred = np.roll(gt, (3, -2), axis=(0, 1))
    pred[rng.random((H, W)) < 0.002] = 1
    runs = [boundary_f1_per_class(pred, gt, 5) for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert 0.0 < np.nanmean(runs[0]) < 1.0
    m1, m2 = BoundaryF1Score(num_classes=5), BoundaryF1Score(num_classes=5)
    for m in (m1, m2):
        m.update(torch.from_numpy(pred[None]), torch.from_numpy(gt[None]))
    assert m1.compute().item() == m2.compute().item()


# --------------------------------------------------------------------------------------------
# Distributed sync (gloo, 2 processes)
# --------------------------------------------------------------------------------------------
def _ddp_images():
    preds = [square(), square(0, 10), square(2, 2)]
    target = [square(), square(), square()]
    preds[2][:50, :50] = 2
    return np.stack(preds), np.stack(target)


def _ddp_worker(rank: int, world_size: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        preds, target = _ddp_images()
        part = slice(0, 2) if rank == 0 else slice(2, 3)  # rank 0: 2 images, rank 1: 1 image
        metric = BoundaryF1Score(num_classes=3)
        metric.update(torch.from_numpy(preds[part]), torch.from_numpy(target[part]))
        torch.save(metric.compute(), os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_ddp_sync_two_processes(tmp_path):
    import torch.multiprocessing as mp

    preds, target = _ddp_images()
    single = BoundaryF1Score(num_classes=3)
    single.update(torch.from_numpy(preds), torch.from_numpy(target))
    expected = single.compute().item()
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        value = torch.load(tmp_path / f"rank{rank}.pt").item()
        assert abs(value - expected) < 1e-12
    # rank-local values differ, so the sync did something
    local = BoundaryF1Score(num_classes=3)
    local.update(torch.from_numpy(preds[2:]), torch.from_numpy(target[2:]))
    assert abs(local.compute().item() - expected) > 1e-3
