"""Test oracles for the BF matcher (segbench.metrics.boundary_matching, SegNet paper Sec. 3.3).

* :func:`maximum_bipartite_matching`: maximum matching of any bipartite graph in CSR form, from a
  generic greedy start or a given one. ``method="dinic"`` finishes with the production
  ``_finish_matching``, so the tests can certify it on graphs that are not pixel lattices and from
  deliberately poor starts; ``method="hopcroft_karp"`` finishes with a pure-Python Hopcroft-Karp
  instead, a second solver that shares no code with the production one.
* :func:`koenig_cover`: König's vertex cover, the certificate that a matching is maximum.

Imported by name from the tests of this folder: pytest's default ("prepend") import mode puts the
folder of a test file without ``__init__.py`` on ``sys.path``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from segbench.metrics.boundary_matching import _finish_matching

# Rounds of the generic greedy start: enough that the finishing solver starts from a large
# matching, few enough that it still has augmenting paths to find on the test graphs.
GREEDY_ROUNDS = 6


def greedy_rounds(
    eu: np.ndarray, ev: np.ndarray, ed: np.ndarray, n_left: int, n_right: int, rounds: int
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised greedy start: repeatedly match every edge that is the best free edge of both
    its ends (key: distance, then the other end's index). Edges must be sorted by (u, d, v).

    Each round matches at least the globally smallest free edge, so the result grows every
    round; it need not be maximal or maximum.
    """
    ml = np.full(n_left, -1, dtype=np.int64)
    mr = np.full(n_right, -1, dtype=np.int64)
    for _ in range(rounds):
        alive = np.flatnonzero((ml[eu] < 0) & (mr[ev] < 0))
        if alive.size == 0:
            break
        au, av, ad = eu[alive], ev[alive], ed[alive]
        best_u = np.ones(alive.size, dtype=bool)
        best_u[1:] = au[1:] != au[:-1]  # edges are sorted by (u, d, v)
        order = np.lexsort((au, ad, av))
        sv = av[order]
        first = np.ones(alive.size, dtype=bool)
        first[1:] = sv[1:] != sv[:-1]
        best_v = np.zeros(alive.size, dtype=bool)
        best_v[order[first]] = True
        mutual = best_u & best_v
        ml[au[mutual]] = av[mutual]
        mr[av[mutual]] = au[mutual]
    return ml, mr


def hopcroft_karp(adj: list[list[int]], ml: list[int], mr: list[int]) -> None:
    """Hopcroft-Karp augmentation in place from the matching (ml, mr); -1 marks a free vertex.

    Every phase does a BFS from all free left vertices over alternating paths and then an
    iterative DFS that augments along shortest augmenting paths of that layered graph (each
    checked against the current matching, so every augmentation is valid). It stops when the BFS
    reaches no free right vertex, i.e. no augmenting path exists, which by Berge's theorem means
    the matching is maximum.
    """
    n_left = len(adj)
    inf = 1 << 60
    while True:
        dist = [inf] * n_left
        queue = [u for u in range(n_left) if ml[u] < 0]
        for u in queue:
            dist[u] = 0
        found = inf
        head = 0
        while head < len(queue):
            u = queue[head]
            head += 1
            du = dist[u]
            if du > found:
                break
            for v in adj[u]:
                w = mr[v]
                if w < 0:
                    if du < found:
                        found = du
                elif dist[w] == inf:
                    dist[w] = du + 1
                    queue.append(w)
        if found == inf:
            return
        ptr = [0] * n_left
        for s in range(n_left):
            if ml[s] >= 0 or dist[s] != 0:
                continue
            ustack = [s]
            vstack: list[int] = []
            while ustack:
                u = ustack[-1]
                au = adj[u]
                du = dist[u]
                i = ptr[u]
                step = 0  # 0: dead end, 1: descended, 2: augmented
                while i < len(au):
                    v = au[i]
                    i += 1
                    w = mr[v]
                    if w < 0:
                        ptr[u] = i
                        ml[u] = v
                        mr[v] = u
                        for k in range(len(ustack) - 2, -1, -1):
                            uk, vk = ustack[k], vstack[k]
                            ml[uk] = vk
                            mr[vk] = uk
                        step = 2
                        break
                    if du < found and dist[w] == du + 1:
                        ptr[u] = i
                        ustack.append(w)
                        vstack.append(v)
                        step = 1
                        break
                if step == 2:
                    break
                if step == 0:
                    ptr[u] = i
                    dist[u] = inf  # no augmenting path through u in this phase
                    ustack.pop()
                    if vstack:
                        vstack.pop()


def _finish_hopcroft_karp(
    eu: np.ndarray, ev: np.ndarray, n_left: int, ml: np.ndarray, mr: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    bounds = np.searchsorted(eu, np.arange(n_left + 1))  # eu is sorted
    ev_list = ev.tolist()
    adj = [ev_list[bounds[k] : bounds[k + 1]] for k in range(n_left)]
    ml_l, mr_l = ml.tolist(), mr.tolist()
    hopcroft_karp(adj, ml_l, mr_l)
    return np.asarray(ml_l, dtype=np.int64), np.asarray(mr_l, dtype=np.int64)


def maximum_bipartite_matching(
    indptr: np.ndarray,
    indices: np.ndarray,
    n_right: int,
    weights: np.ndarray | None = None,
    init: np.ndarray | None = None,
    method: Literal["dinic", "hopcroft_karp"] = "dinic",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact maximum-cardinality matching of a bipartite graph given in CSR (left -> right).

    Starts from ``init`` (a matching as match_left, -1 = free) or from :func:`greedy_rounds`
    (steered to short edges by ``weights`` if given), then finishes with the production
    ``_finish_matching`` (``"dinic"``) or with :func:`hopcroft_karp` on the whole graph.
    Returns ``(match_left, match_right)`` int64 arrays with -1 for unmatched vertices.
    """
    if method not in ("dinic", "hopcroft_karp"):
        raise ValueError(f"method must be 'dinic' or 'hopcroft_karp', got {method!r}")
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    n_left = indptr.size - 1
    n_edges = indices.size
    if n_edges == 0 or n_left == 0 or n_right == 0:
        return np.full(n_left, -1, dtype=np.int64), np.full(n_right, -1, dtype=np.int64)
    eu = np.repeat(np.arange(n_left, dtype=np.int64), np.diff(indptr))
    ev = indices
    ed = np.zeros(n_edges) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.lexsort((ev, ed, eu))
    eu, ev, ed = eu[order], ev[order], ed[order]

    if init is None:
        ml, mr = greedy_rounds(eu, ev, ed, n_left, n_right, GREEDY_ROUNDS)
    else:
        ml = np.asarray(init, dtype=np.int64).copy()
        if ml.shape != (n_left,):
            raise ValueError(f"init must have shape ({n_left},), got {ml.shape}")
        mr = np.full(n_right, -1, dtype=np.int64)
        used = np.flatnonzero(ml >= 0)
        mr[ml[used]] = used
        if (mr >= 0).sum() != used.size:
            raise ValueError("init is not a matching (a right vertex is used twice)")
        key = eu * n_right + ev
        pair = used * n_right + ml[used]
        if not np.isin(pair, key).all():
            raise ValueError("init is not a matching of this graph (pair without an edge)")
    if method == "dinic":
        return _finish_matching(eu, ev, n_left, n_right, ml, mr)
    return _finish_hopcroft_karp(eu, ev, n_left, ml, mr)


def koenig_cover(
    indptr: np.ndarray, indices: np.ndarray, n_right: int, ml: np.ndarray, mr: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """König's construction of a vertex cover from a matching: Z = vertices reachable from free
    left vertices by alternating paths; cover = (left \\ Z) + (right & Z). If it covers every
    edge and has as many vertices as the matching has edges, the matching is maximum (no
    matching can be larger than any vertex cover). Returns boolean (cover_left, cover_right)."""
    n_left = len(indptr) - 1
    seen_l = np.zeros(n_left, dtype=bool)
    seen_r = np.zeros(n_right, dtype=bool)
    stack = [int(u) for u in np.flatnonzero(np.asarray(ml) < 0)]
    for u in stack:
        seen_l[u] = True
    while stack:
        u = stack.pop()
        for v in indices[indptr[u] : indptr[u + 1]]:
            if not seen_r[v]:
                seen_r[v] = True
                w = mr[v]
                if w >= 0 and not seen_l[w]:
                    seen_l[w] = True
                    stack.append(int(w))
    return ~seen_l, seen_r
