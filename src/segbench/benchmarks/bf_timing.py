"""Timing of the Boundary F1 score (SegNet paper Sec. 3.3) on the CamVid test labels.

    python -m segbench.benchmarks.bf_timing --root $CAMVID_ROOT [--limit N] [--out docs/results/bf-benchmark.md]

Predictions are made from the ground-truth label maps of the test split (``testannot/*.png``) by a
fixed, documented perturbation, so no model is needed:

1. shift the labels 3 px down and 3 px right (the first 3 rows / columns repeat the edge);
2. in 4 blocks of 48x48 px per image, placed by ``numpy.random.default_rng(image_index)``,
   replace every non-void label c by (c + 1) % NUM_CLASSES.

Each mode (``exact``, the paper's one-to-one matching, and ``approximate``, many-to-one
distance-transform counting) runs ``BoundaryF1Score(NUM_CLASSES, ignore_index=VOID_INDEX)`` (CamVid's
classes from ``segbench.data.camvid``, the paper's tolerance) over all images; one JSON line per
mode is printed with the seconds spent in ``update``/``compute`` (loading and perturbing excluded),
the image count and the BF value.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from segbench.data.camvid import NUM_CLASSES, VOID_INDEX
from segbench.metrics.boundary_f1 import BoundaryF1Score
from segbench.paper import BF_TOLERANCE
from segbench.record import provenance
from segbench.record.provenance import measured_on
from segbench.reporting.tables import markdown_from

SHIFT = 3
BLOCKS = 4
BLOCK = 48


def perturb(label: np.ndarray, index: int) -> np.ndarray:
    """Deterministic fake prediction from a ground-truth label map (see module docstring)."""
    h, w = label.shape
    pred = np.empty_like(label)
    pred[SHIFT:, SHIFT:] = label[:-SHIFT, :-SHIFT]
    pred[:SHIFT, SHIFT:] = label[0, :-SHIFT][None, :]
    pred[:, :SHIFT] = pred[:, SHIFT : SHIFT + 1]
    rng = np.random.default_rng(index)
    for _ in range(BLOCKS):
        y = int(rng.integers(0, h - BLOCK + 1))
        x = int(rng.integers(0, w - BLOCK + 1))
        block = pred[y : y + BLOCK, x : x + BLOCK]
        keep = block == VOID_INDEX
        block[...] = np.where(keep, block, (block + 1) % NUM_CLASSES)
    return pred


def load(root: Path, limit: int | None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    files = sorted((root / "testannot").glob("*.png"))
    if not files:
        raise SystemExit(f"no label PNGs under {root / 'testannot'}")
    if limit is not None:
        files = files[:limit]
    targets = [np.array(Image.open(f)).astype(np.int64) for f in files]
    preds = [perturb(t, i) for i, t in enumerate(targets)]
    return preds, targets


def run_mode(mode: str, preds: list[np.ndarray], targets: list[np.ndarray]) -> dict:
    from rich.console import Console
    from rich.progress import Progress

    metric = BoundaryF1Score(NUM_CLASSES, ignore_index=VOID_INDEX, matching=mode)
    # One pass of an accumulating metric, each image timed once: not segbench.benchmarks.timing, whose Timer
    # repeats its statement (each update would count its image again).
    per_image = []
    start = time.perf_counter()
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"BF {mode}", total=len(targets))
        for p, t in zip(preds, targets, strict=True):
            t0 = time.perf_counter()
            metric.update(torch.from_numpy(p[None]), torch.from_numpy(t[None]))
            per_image.append(time.perf_counter() - t0)
            progress.advance(task)
    value = metric.compute().item()
    seconds = time.perf_counter() - start
    return {
        "mode": mode,
        "seconds": round(seconds, 3),
        "images": len(targets),
        "bf": value,
        "max_image_seconds": round(max(per_image), 4),
    }


def write_markdown(path: Path, rows: list[dict], command: str, shapes: list[tuple[int, int]]) -> None:
    # The pixel tolerance follows from the label size, so it is stated for the sizes actually read.
    tol_px = ", ".join(f"{BF_TOLERANCE * math.hypot(h, w):.1f} px at {h}x{w}" for h, w in shapes)
    lines = [
        "# Boundary F1 benchmark (CamVid test labels, perturbed)",
        "",
        f"Produced by `{command}`. {measured_on([provenance.collect()])}",
        "",
        f"Predictions: ground truth shifted {SHIFT} px down-right, then {BLOCKS} blocks of "
        f"{BLOCK}x{BLOCK} px per image (placed by `default_rng(image_index)`) relabelled "
        f"c -> (c+1) % {NUM_CLASSES} (void kept). Metric: `BoundaryF1Score({NUM_CLASSES}, ignore_index={VOID_INDEX})`, "
        f"tolerance {BF_TOLERANCE:.2%} of the diagonal ({tol_px}), class rule `gt`.",
        "",
        markdown_from(
            ["matching", "images", "seconds", "slowest image (s)", "BF"],
            [
                [r["mode"], r["images"], f"{r['seconds']:.2f}", f"{r['max_image_seconds']:.3f}", f"{r['bf']:.6f}"]
                for r in rows
            ],
        ),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="CamVid root holding testannot/")
    parser.add_argument("--out", type=Path, default=None, help="write a markdown table here")
    parser.add_argument("--modes", nargs="+", default=["exact", "approximate"], choices=["exact", "approximate"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--command", default=None, help="the command named in the markdown (default: this one)")
    args = parser.parse_args(argv)
    preds, targets = load(args.root, args.limit)
    rows = []
    for mode in args.modes:
        row = run_mode(mode, preds, targets)
        print(json.dumps(row | {"provenance": provenance.collect().model_dump(mode="json")}), flush=True)
        rows.append(row)
    if args.out is not None:
        raw = sys.argv[1:] if argv is None else argv
        command = args.command or "python -m segbench.benchmarks.bf_timing " + " ".join(shlex.quote(a) for a in raw)
        write_markdown(args.out, rows, command, sorted({t.shape for t in targets}))


if __name__ == "__main__":
    main()
