"""Procedural CamVid-like road scenes, written in CamVid's on-disk layout (SegNet distribution).

``generate_synthetic_camvid(root)`` writes::

    root/train/0001.png       RGB uint8 image (H x W x 3)
    root/trainannot/0001.png  'L' uint8 label map, one class index per pixel (0..10, 11 = void)
    root/val/ valannot/ test/ testannot/   same
    root/train.txt val.txt test.txt        "/SegNet/CamVid/train/0001.png /SegNet/CamVid/trainannot/0001.png"
    root/synthetic.json                    manifest: parameters + GENERATOR_VERSION

so the same loader reads it as the real set. The scenes are a small 3D street (pinhole camera, ground
plane, facades along both sides) rendered with vectorised numpy masks, painter's order far to near:
sky, distant skyline, facades with perspective-correct windows and shop signs, road with lane markings,
pavements, then fences, trees, poles with signs / traffic lights, cars, pedestrians, bicyclists and
void clutter, plus optional car bonnet. Colours overlap between classes (grey road / pavement /
concrete / overcast sky / grey cars, brick / wooden fence, ...), every region is textured, each image
gets its own illumination (day / dusk, colour cast, contrast, cast shadows), a slight blur and
Gaussian pixel noise, so per-pixel colour alone does not solve it and context matters.

Each image's RNG comes from ``SeedSequence([seed, crc32(split), index])`` so the output does not depend
on generation order; with a fixed Pillow version the PNG bytes are identical run to run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from segbench.data.camvid import CLASS_NAMES, VOID_INDEX
from segbench.errors import DatasetError

__all__ = [
    "GENERATOR_VERSION",
    "MANIFEST_NAME",
    "DEFAULT_SPLIT_SIZES",
    "generate_synthetic_camvid",
    "render_scene",
    "image_rng",
]

# Bump whenever the rendered output changes: cached sets with another version are regenerated.
GENERATOR_VERSION = 1
MANIFEST_NAME = "synthetic.json"
DEFAULT_SPLIT_SIZES: Mapping[str, int] = MappingProxyType({"train": 120, "val": 30, "test": 30})

(SKY, BUILDING, POLE, ROAD, PAVEMENT, TREE, SIGN, FENCE, CAR, PEDESTRIAN, BICYCLIST) = range(11)
VOID = VOID_INDEX
assert len(CLASS_NAMES) == 11 and CLASS_NAMES[ROAD] == "Road" and CLASS_NAMES[BICYCLIST] == "Bicyclist"


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The RNG of image ``index`` of ``split``: independent of the order images are generated in."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(split.encode()), int(index)]))


# --------------------------------------------------------------------------------------------------
# drawing primitives
# --------------------------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Zero-mean, unit-std value noise with features about ``cell`` pixels across (bicubic upsampling)."""
    gh, gw = max(2, int(math.ceil(h / cell)) + 2), max(2, int(math.ceil(w / cell)) + 2)
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    big = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.float32)
    return (big - big.mean()) / (big.std() + 1e-6)


class _Region:
    """A clipped axis-aligned window of the canvas with pixel-centre coordinate vectors."""

    def __init__(self, cv: _Canvas, iy0: int, iy1: int, ix0: int, ix1: int):
        self.cv = cv
        self.sl = (slice(iy0, iy1), slice(ix0, ix1))
        self.ys = cv.ys[iy0:iy1, None]
        self.xs = cv.xs[None, ix0:ix1]
        self.shape = (iy1 - iy0, ix1 - ix0)

    def noise(self, which: str) -> np.ndarray:
        return getattr(self.cv, which)[self.sl]

    def texture(self, base, low: float = 0.08, mid: float = 0.0, hi: float = 0.0) -> np.ndarray:
        """(n, m, 3) colour: ``base`` modulated by the canvas' low/mid/high frequency noise."""
        base = np.asarray(base, dtype=np.float32)
        gain = 1.0 + low * self.noise("n_low") + mid * self.noise("n_mid")
        col = base * gain[..., None]
        if hi:
            col = col + hi * self.noise("n_hi")[..., None]
        return col

    def paint(self, mask: np.ndarray, label: int, colour) -> None:
        mask = np.broadcast_to(mask, self.shape)
        if not mask.any():
            return
        img = self.cv.img[self.sl]
        col = np.broadcast_to(np.asarray(colour, dtype=np.float32), self.shape + (3,))
        img[mask] = col[mask]
        self.cv.lab[self.sl][mask] = label


class _Canvas:
    def __init__(self, rng: np.random.Generator, h: int, w: int):
        self.h, self.w = h, w
        self.img = np.zeros((h, w, 3), np.float32)
        self.lab = np.zeros((h, w), np.uint8)
        self.ys = np.arange(h, dtype=np.float32) + 0.5
        self.xs = np.arange(w, dtype=np.float32) + 0.5
        self.n_low = _smooth_noise(rng, h, w, max(h / 5.0, 4.0))
        self.n_mid = _smooth_noise(rng, h, w, max(h / 30.0, 2.0))
        self.n_hi = rng.standard_normal((h, w)).astype(np.float32)

    def region(self, x0: float, x1: float, y0: float, y1: float) -> _Region | None:
        ix0, ix1 = max(int(math.floor(x0)), 0), min(int(math.ceil(x1)), self.w)
        iy0, iy1 = max(int(math.floor(y0)), 0), min(int(math.ceil(y1)), self.h)
        if ix0 >= ix1 or iy0 >= iy1:
            return None
        return _Region(self, iy0, iy1, ix0, ix1)

    def full(self) -> _Region:
        return _Region(self, 0, self.h, 0, self.w)

    # shapes: each paints directly; sizes are clamped to >= 1 pixel so thin far objects stay visible
    def rect(self, x0, x1, y0, y1, label, colour_fn, min_w: float = 1.0) -> None:
        if x1 - x0 < min_w:
            c = 0.5 * (x0 + x1)
            x0, x1 = c - 0.5 * min_w, c + 0.5 * min_w
        if y1 - y0 < 1.0:
            c = 0.5 * (y0 + y1)
            y0, y1 = c - 0.5, c + 0.5
        r = self.region(x0, x1, y0, y1)
        if r is None:
            return
        m = (r.xs >= x0) & (r.xs < x1) & (r.ys >= y0) & (r.ys < y1)
        r.paint(m, label, colour_fn(r))

    def ellipse(self, cx, cy, rx, ry, label, colour_fn, inner: float = 0.0) -> None:
        rx, ry = max(rx, 0.6), max(ry, 0.6)
        r = self.region(cx - rx, cx + rx, cy - ry, cy + ry)
        if r is None:
            return
        d = ((r.xs - cx) / rx) ** 2 + ((r.ys - cy) / ry) ** 2
        m = d <= 1.0
        if inner > 0:
            m &= d >= inner**2
        r.paint(m, label, colour_fn(r))

    def poly(self, pts, label, colour_fn) -> None:
        """Convex polygon [(x, y), ...] in either winding."""
        p = np.asarray(pts, dtype=np.float32)
        r = self.region(p[:, 0].min(), p[:, 0].max(), p[:, 1].min(), p[:, 1].max())
        if r is None:
            return
        q = np.roll(p, -1, axis=0)
        area = float(np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]))
        sgn = 1.0 if area >= 0 else -1.0
        m = np.ones(r.shape, bool)
        for (x0, y0), (x1, y1) in zip(p, q):
            m &= sgn * ((x1 - x0) * (r.ys - y0) - (y1 - y0) * (r.xs - x0)) >= 0
        r.paint(m, label, colour_fn(r))

    def bar(self, xa, ya, xb, yb, thick, label, colour_fn) -> None:
        """A thick line segment (as a quad), at least one pixel thick."""
        dx, dy = xb - xa, yb - ya
        n = math.hypot(dx, dy) + 1e-6
        t = max(thick, 1.0) / 2
        ox, oy = -dy / n * t, dx / n * t
        self.poly([(xa + ox, ya + oy), (xb + ox, yb + oy), (xb - ox, yb - oy), (xa - ox, ya - oy)], label, colour_fn)


def _flat(colour, low=0.06, mid=0.0, hi=0.0) -> Callable[[_Region], np.ndarray]:
    return lambda r: r.texture(colour, low, mid, hi)


# --------------------------------------------------------------------------------------------------
# colour palettes (RGB, 0..255 float); deliberately overlapping between classes
# --------------------------------------------------------------------------------------------------

_FACADES = np.array(
    [
        (150, 82, 62),
        (172, 100, 75),
        (190, 172, 140),
        (132, 130, 126),
        (205, 203, 196),
        (95, 75, 62),
        (210, 190, 125),
        (112, 120, 138),
        (160, 150, 135),
        (120, 110, 100),
        (185, 150, 120),
        (150, 155, 160),
    ],
    np.float32,
)
_CAR_PAINT = np.array(
    [
        (200, 200, 205),
        (35, 35, 40),
        (130, 132, 135),
        (160, 30, 30),
        (30, 50, 120),
        (90, 95, 100),
        (225, 225, 220),
        (60, 80, 60),
        (150, 120, 70),
        (100, 30, 40),
        (170, 170, 160),
        (20, 70, 110),
    ],
    np.float32,
)
_CLOTHES = np.array(
    [
        (30, 30, 35),
        (50, 55, 80),
        (120, 30, 35),
        (190, 190, 185),
        (80, 70, 60),
        (40, 60, 110),
        (140, 120, 90),
        (70, 90, 60),
        (200, 160, 60),
        (100, 100, 105),
    ],
    np.float32,
)
_SKIN = np.array([(220, 180, 150), (180, 130, 100), (120, 85, 60), (60, 45, 35)], np.float32)
_SIGN = np.array(
    [
        (200, 30, 30),
        (30, 60, 170),
        (235, 235, 230),
        (230, 190, 40),
        (30, 120, 60),
        (230, 110, 40),
    ],
    np.float32,
)


def _pick(rng: np.random.Generator, palette: np.ndarray, jitter: float = 15.0) -> np.ndarray:
    return palette[rng.integers(len(palette))] + rng.uniform(-jitter, jitter, 3).astype(np.float32)


def _grey(rng: np.random.Generator, lo: float, hi: float, tint: float = 8.0) -> np.ndarray:
    return rng.uniform(lo, hi) + rng.uniform(-tint, tint, 3).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# the scene
# --------------------------------------------------------------------------------------------------


class _Scene:
    """One street: camera, road geometry, and drawing of every element."""

    def __init__(self, rng: np.random.Generator, h: int, w: int):
        self.rng, self.h, self.w = rng, h, w
        self.cv = _Canvas(rng, h, w)
        self.f = w * rng.uniform(0.55, 0.8)  # focal length, pixels
        self.yh = h * rng.uniform(0.43, 0.56)  # horizon row
        self.xv = w * (0.5 + rng.uniform(-0.1, 0.1))  # vanishing point column
        self.ch = rng.uniform(1.3, 1.8)  # camera height, metres
        self.road_l = -rng.uniform(1.6, 4.0)  # road edges (world X, metres)
        self.road_r = rng.uniform(2.3, 6.0)
        self.pav_l = rng.uniform(2.5, 6.0)  # pavement widths
        self.pav_r = rng.uniform(2.5, 6.0)
        self.wall_l = self.road_l - self.pav_l  # facade planes
        self.wall_r = self.road_r + self.pav_r
        self.dusk = rng.random() < 0.25
        # sunlight direction: which facade / ground side is in shadow
        self.shadow_side = int(rng.choice([-1, 1])) if rng.random() < 0.55 else 0
        self.shadow_x = rng.uniform(self.road_l, self.road_r)
        self.shadow_k = rng.uniform(0.5, 0.75)
        self.gaps: dict[int, list[tuple[float, float]]] = {-1: [], 1: []}
        self.ends: dict[int, float] = {}

    # projection
    def px(self, X, Z):
        return self.xv + self.f * X / Z

    def py(self, Y, Z):
        return self.yh + self.f * (self.ch - Y) / Z

    def scale(self, Z):
        return self.f / Z

    def wall(self, side: int) -> float:
        return self.wall_l if side < 0 else self.wall_r

    def road_edge(self, side: int) -> float:
        return self.road_l if side < 0 else self.road_r

    # ---------------------------------------------------------------- background layers
    def sky(self) -> None:
        rng, r = self.rng, self.cv.full()
        if rng.random() < 0.45:  # overcast: pale grey, overlaps white / concrete facades
            top = _grey(rng, 165, 235, 6)
            bot = top + rng.uniform(-10, 15)
        else:
            top = np.array([rng.uniform(60, 120), rng.uniform(110, 160), rng.uniform(180, 235)], np.float32)
            bot = np.array([rng.uniform(170, 215), rng.uniform(185, 220), rng.uniform(205, 240)], np.float32)
        t = np.clip(r.ys / max(self.yh, 1.0), 0, 1)[..., None]
        col = (top * (1 - t) + bot * t) * (1.0 + 0.06 * r.noise("n_low")[..., None])
        col = col + rng.uniform(0, 12) * np.maximum(r.noise("n_mid"), 0)[..., None]  # clouds
        r.paint(np.ones(r.shape, bool), SKY, col)

    def far_ground(self) -> None:
        """Ground beyond the facade lines (grass / dirt / side streets): void, only seen through gaps."""
        rng = self.rng
        r = self.cv.region(0, self.w, self.yh, self.h)
        if r is None:
            return
        col = r.texture(_grey(rng, 70, 120, 20) * np.array([0.9, 1.0, 0.8], np.float32), 0.12, 0.1, 4)
        r.paint(r.ys > self.yh, VOID, col)

    def skyline(self) -> None:
        """A band of distant buildings / trees / clutter along the horizon."""
        rng, cv = self.rng, self.cv
        band = self.h * rng.uniform(0.02, 0.09)
        x = 0.0
        while x < self.w:
            wd = self.w * rng.uniform(0.03, 0.12)
            top = self.yh - band * rng.uniform(0.3, 1.6)
            label = int(rng.choice([BUILDING, TREE, VOID], p=[0.45, 0.25, 0.3]))
            if label == BUILDING:
                col = _flat(_pick(rng, _FACADES, 20) * 0.9, 0.06, 0.05, 3)
            elif label == TREE:
                col = _flat(
                    np.array([rng.uniform(40, 90), rng.uniform(60, 110), rng.uniform(30, 70)], np.float32), 0.1, 0.2, 5
                )
            else:
                col = _flat(_grey(rng, 80, 170, 15), 0.1, 0.15, 4)
            cv.rect(x, x + wd, top, self.yh + 0.5, label, col)
            x += wd

    # ---------------------------------------------------------------- facades
    def facades(self, side: int) -> None:
        rng, cv = self.rng, self.cv
        D = abs(self.wall(side))
        # depth segments along the street: buildings of varying height / colour, some gaps
        z_end = rng.uniform(45, 180)
        edges = [rng.uniform(0, 12)]
        while edges[-1] < z_end:
            edges.append(edges[-1] + rng.uniform(7, 30))
        edges = np.array(edges, np.float32)
        n = len(edges) - 1
        is_bld = rng.random(n) < 0.8
        is_bld[0] = is_bld[0] or rng.random() < 0.5
        height = rng.uniform(4.5, 23, n).astype(np.float32)
        base = np.stack([_pick(rng, _FACADES, 18) for _ in range(n)])
        light = 1.0 if self.shadow_side != side else self.shadow_k + 0.1
        base *= light * rng.uniform(0.85, 1.1, (n, 1))
        win_col = np.stack(
            [
                _grey(rng, 25, 75, 10)
                if rng.random() < 0.7
                else np.array([rng.uniform(120, 170), rng.uniform(140, 185), rng.uniform(170, 215)])
                for _ in range(n)
            ]
        ).astype(np.float32)
        sp_u = rng.uniform(2.0, 4.5, n).astype(np.float32)  # window spacing along the street
        sp_y = rng.uniform(2.8, 3.6, n).astype(np.float32)  # floor height
        wu = rng.uniform(0.3, 0.65, n).astype(np.float32)  # window width fraction
        wy = rng.uniform(0.35, 0.65, n).astype(np.float32)  # window height fraction
        shop = rng.random(n) < 0.4  # dark shop window at street level
        has_sign = rng.random(n) < 0.45  # shop / name sign on the facade
        sign_u0 = rng.uniform(0.5, 4.0, n).astype(np.float32)
        sign_len = rng.uniform(1.5, 5.0, n).astype(np.float32)
        sign_y0 = rng.uniform(2.6, 4.2, n).astype(np.float32)
        sign_h = rng.uniform(0.5, 1.1, n).astype(np.float32)
        sign_col = np.stack([_pick(rng, _SIGN, 20) for _ in range(n)])
        for i in range(n):
            if not is_bld[i]:
                self.gaps[side].append((float(edges[i]), float(edges[i + 1])))
        self.ends[side] = float(edges[-1])

        x0, x1 = (0, int(math.ceil(self.xv))) if side < 0 else (int(math.floor(self.xv)), self.w)
        r = cv.region(x0, x1, 0, self.h)
        if r is None:
            return
        dx = (self.xv - r.xs) if side < 0 else (r.xs - self.xv)
        ok_col = dx > 0.5
        Zc = self.f * D / np.maximum(dx, 0.5)  # facade depth of each column
        seg = np.clip(np.searchsorted(edges, Zc, side="right") - 1, 0, n - 1)
        ok_col &= (Zc >= edges[0]) & (Zc < edges[-1]) & is_bld[seg]
        Y = self.ch - (r.ys - self.yh) * Zc / self.f  # world height of every pixel
        hgt = height[seg]
        m = ok_col & (Y >= 0) & (Y < hgt)
        if not m.any():
            return
        u = Zc - edges[seg]  # distance along the facade
        col = base[seg][0][None] * (1.0 + 0.07 * r.noise("n_low") + 0.05 * r.noise("n_mid"))[..., None]
        col = col + 4.0 * r.noise("n_hi")[..., None]
        fu = np.mod(u / sp_u[seg], 1.0)
        fy = np.mod((Y - 0.3) / sp_y[seg], 1.0)
        win = (fu > 0.5 - wu[seg] / 2) & (fu < 0.5 + wu[seg] / 2) & (fy > 0.5 - wy[seg] / 2) & (fy < 0.5 + wy[seg] / 2)
        win &= (Y > 3.0) & (Y < hgt - 0.8)
        win |= shop[seg] & (Y > 0.2) & (Y < 2.6) & (np.mod(u, 5.0) < 3.8)
        wcol = win_col[seg][0][None] * (1.0 + 0.15 * r.noise("n_mid"))[..., None]
        col = np.where(win[..., None], wcol, col)
        cornice = Y > hgt - 0.35
        col = np.where(cornice[..., None], col * 0.8, col)
        r.paint(m, BUILDING, col)
        sgn = (
            has_sign[seg]
            & (u > sign_u0[seg])
            & (u < sign_u0[seg] + sign_len[seg])
            & (Y > sign_y0[seg])
            & (Y < sign_y0[seg] + sign_h[seg])
        )
        sgn &= m
        r.paint(sgn, SIGN, sign_col[seg][0][None] * (1.0 + 0.1 * r.noise("n_mid"))[..., None])

    # ---------------------------------------------------------------- street surface
    def street(self) -> None:
        rng = self.rng
        r = self.cv.region(0, self.w, self.yh, self.h)
        if r is None:
            return
        below = r.ys > self.yh + 0.05
        Zg = self.f * self.ch / np.maximum(r.ys - self.yh, 0.05)
        Xg = (r.xs - self.xv) * Zg / self.f
        road = below & (Xg >= self.road_l) & (Xg <= self.road_r)
        pave = below & ~road & (Xg >= self.wall_l) & (Xg <= self.wall_r)

        rcol = _grey(rng, 62, 128, 6)
        road_c = (
            rcol * (1.0 + 0.09 * r.noise("n_low") + 0.05 * r.noise("n_mid"))[..., None] + 6 * r.noise("n_hi")[..., None]
        )
        mark = np.array([rng.uniform(190, 235)] * 2 + [rng.uniform(150, 225)], np.float32) * rng.uniform(0.75, 1.0)
        centre = self.road_l + (self.road_r - self.road_l) * rng.uniform(0.4, 0.6)
        lw = rng.uniform(0.08, 0.15)
        dash = rng.uniform(2, 4)
        period = dash + rng.uniform(3, 8)
        phase = rng.uniform(0, period)
        lines = (np.abs(Xg - centre) < lw) & (np.mod(Zg + phase, period) < dash)
        if rng.random() < 0.6:
            lines |= (np.abs(Xg - self.road_l - 0.35) < lw) | (np.abs(Xg - self.road_r + 0.35) < lw)
        if rng.random() < 0.2:  # zebra crossing
            z0 = rng.uniform(6, 25)
            lines |= (Zg > z0) & (Zg < z0 + 3.5) & (np.mod(Xg, 1.0) < 0.5)
        road_c = np.where(lines[..., None], mark * (1 + 0.05 * r.noise("n_mid"))[..., None], road_c)

        if rng.random() < 0.3:
            pcol = np.array(
                [rng.uniform(130, 175), rng.uniform(95, 125), rng.uniform(85, 115)], np.float32
            )  # red tiles
        else:
            pcol = _grey(rng, 80, 165, 8)
        tile = rng.uniform(0.4, 0.9)
        grout = (np.mod(Zg, tile) < 0.07 * tile * 2) | (np.mod(Xg, tile) < 0.07 * tile * 2)
        pave_c = pcol * (1.0 + 0.08 * r.noise("n_low") + 0.06 * r.noise("n_mid") - 0.12 * grout)[..., None]
        pave_c = pave_c + 6 * r.noise("n_hi")[..., None]
        kerb = (np.abs(Xg - self.road_l) < 0.2) | (np.abs(Xg - self.road_r) < 0.2)
        pave_c = np.where(kerb[..., None], pave_c * 1.12, pave_c)

        if self.shadow_side:
            shade = (Xg < self.shadow_x) if self.shadow_side < 0 else (Xg > self.shadow_x)
            k = np.where(shade, self.shadow_k, 1.0)[..., None]
            road_c, pave_c = road_c * k, pave_c * k
        r.paint(road, ROAD, road_c)
        r.paint(pave, PAVEMENT, pave_c)

    # ---------------------------------------------------------------- objects (billboards at depth Z)
    def fence(self, side: int, z0: float, z1: float) -> None:
        """A fence strip in a vertical plane along the facade line (drawn before everything in the street)."""
        rng = self.rng
        X = self.wall(side) - side * rng.uniform(0.0, 0.3)
        height = rng.uniform(1.0, 2.2)
        xa, xb = self.px(X, z0), self.px(X, z1)
        r = self.cv.region(min(xa, xb), max(xa, xb), self.py(height, z0), self.py(0, z0))
        if r is None:
            return
        dx = (r.xs - self.xv) / X  # = f / Z on the plane
        ok = dx > 1e-3
        Z = self.f / np.where(ok, dx, 1.0)
        Y = self.ch - (r.ys - self.yh) * Z / self.f
        m = ok & (Z >= z0) & (Z <= z1) & (Y >= 0) & (Y <= height)
        if rng.random() < 0.6:
            base = np.array([rng.uniform(110, 160), rng.uniform(80, 115), rng.uniform(50, 80)], np.float32)  # wood
        else:
            base = _grey(rng, 60, 150, 12)
        slat = np.mod(Y / rng.uniform(0.15, 0.35), 1.0) < 0.3
        post = np.mod(Z / rng.uniform(1.5, 3.0), 1.0) < 0.08
        k = (1.0 + 0.08 * r.noise("n_mid") - 0.3 * slat + 0.15 * post)[..., None]
        r.paint(m, FENCE, base * k + 4 * r.noise("n_hi")[..., None])

    def tree(self, X: float, Z: float, big: bool = False) -> None:
        rng, cv, s = self.rng, self.cv, self.scale(Z)
        R = rng.uniform(1.6, 3.2) * (1.4 if big else 1.0)
        trunk_h = rng.uniform(1.8, 3.5)
        cx, cy = self.px(X, Z), self.py(trunk_h + R * 0.8, Z)
        trunk = np.array([rng.uniform(55, 95), rng.uniform(45, 75), rng.uniform(35, 55)], np.float32)
        cv.rect(
            cx - 0.15 * s, cx + 0.15 * s, self.py(trunk_h + 0.5 * R, Z), self.py(0, Z), TREE, _flat(trunk, 0.1, 0.1, 4)
        )
        rp = R * s
        r = cv.region(cx - 1.5 * rp, cx + 1.5 * rp, cy - 1.5 * rp, cy + 1.5 * rp)
        if r is None:
            return
        field = np.zeros(r.shape, np.float32)
        for _ in range(int(rng.integers(4, 9))):
            bx = cx + rng.uniform(-0.6, 0.6) * rp
            by = cy + rng.uniform(-0.5, 0.5) * rp
            br = rng.uniform(0.45, 0.75) * rp
            field += np.exp(-((r.xs - bx) ** 2 + (r.ys - by) ** 2) / (br * br))
        m = field + 0.18 * r.noise("n_mid") > 0.55
        if rng.random() < 0.15:  # autumn
            leaf = np.array([rng.uniform(110, 160), rng.uniform(90, 120), rng.uniform(30, 60)], np.float32)
        else:
            leaf = np.array([rng.uniform(35, 95), rng.uniform(60, 130), rng.uniform(20, 75)], np.float32)
        shade = np.clip(1.1 - 0.35 * (r.ys - (cy - rp)) / (2 * rp), 0.6, 1.1)
        col = leaf * (shade * (1.0 + 0.2 * r.noise("n_mid")))[..., None] + 12 * r.noise("n_hi")[..., None]
        r.paint(m, TREE, col)

    def pole(self, X: float, Z: float) -> None:
        rng, cv, s = self.rng, self.cv, self.scale(Z)
        height = rng.uniform(3.5, 9.0)
        wd = rng.uniform(0.1, 0.25)
        col = _flat(_grey(rng, 90, 170, 8) if rng.random() < 0.6 else _grey(rng, 25, 65, 8), 0.05, 0.1, 3)
        x = self.px(X, Z)
        cv.rect(x - wd * s / 2, x + wd * s / 2, self.py(height, Z), self.py(0, Z), POLE, col)
        if height > 5.5 and rng.random() < 0.6:  # street-lamp arm over the road
            arm = rng.uniform(1.0, 2.5) * (-np.sign(X) if X != 0 else 1.0)
            cv.bar(x, self.py(height, Z), self.px(X + arm, Z), self.py(height + 0.3, Z), 0.12 * s, POLE, col)
        kind = rng.random()
        if kind < 0.55:  # traffic sign
            y_sign = rng.uniform(2.0, min(height, 3.2))
            sc = _flat(_pick(rng, _SIGN, 20), 0.05, 0.08, 4)
            size = rng.uniform(0.55, 0.9) * s
            yc = self.py(y_sign, Z)
            shape = rng.integers(3)
            if shape == 0:
                cv.ellipse(x, yc, size / 2, size / 2, SIGN, sc)
            elif shape == 1:
                cv.rect(x - size / 2, x + size / 2, yc - size * 0.4, yc + size * 0.4, SIGN, sc)
            else:
                cv.poly([(x, yc - size / 2), (x + size / 2, yc + size / 2), (x - size / 2, yc + size / 2)], SIGN, sc)
        elif kind < 0.8:  # traffic light box
            y0 = self.py(min(height, rng.uniform(2.8, 4.0)), Z)
            bw, bh = 0.35 * s, 0.95 * s
            cv.rect(x - bw / 2, x + bw / 2, y0, y0 + bh, SIGN, _flat(_grey(rng, 20, 50, 5), 0.05, 0.05, 3))
            lit = rng.integers(3)
            for k, c in enumerate([(220, 40, 30), (230, 170, 30), (40, 200, 90)]):
                cc = np.array(c, np.float32) * (1.0 if k == lit else 0.35)
                cv.ellipse(x, y0 + bh * (0.18 + 0.32 * k), bw * 0.3, bw * 0.3, SIGN, _flat(cc, 0.02))

    def car(self, X: float, Z: float) -> None:
        rng, cv = self.rng, self.cv
        wd, ht, ln = rng.uniform(1.65, 1.95), rng.uniform(1.35, 1.75), rng.uniform(3.8, 4.8)
        paint = _pick(rng, _CAR_PAINT, 15)
        glass = _grey(rng, 20, 70, 10)
        tyre = _grey(rng, 15, 35, 3)
        belt = rng.uniform(0.85, 1.05)
        xl, xr = X - wd / 2, X + wd / 2
        # side face (the one facing the camera axis) from Z to Z+ln
        sx = xr if X < 0 else xl
        if abs(sx) > 0.3:
            cv.poly(
                [
                    (self.px(sx, Z), self.py(0.25, Z)),
                    (self.px(sx, Z), self.py(belt, Z)),
                    (self.px(sx, Z + ln), self.py(belt, Z + ln)),
                    (self.px(sx, Z + ln), self.py(0.25, Z + ln)),
                ],
                CAR,
                _flat(paint * 0.85, 0.05, 0.05, 4),
            )
            za, zb = Z + 0.9, Z + ln - 0.6
            cv.poly(
                [
                    (self.px(sx, za), self.py(belt, za)),
                    (self.px(sx, za), self.py(ht - 0.05, za)),
                    (self.px(sx, zb), self.py(ht - 0.05, zb)),
                    (self.px(sx, zb), self.py(belt, zb)),
                ],
                CAR,
                _flat(glass, 0.05, 0.1, 4),
            )
            for zw in (Z + 0.8, Z + ln - 0.8):
                cv.ellipse(
                    self.px(sx, zw),
                    self.py(0.32, zw),
                    0.05 * self.scale(zw) + 0.5,
                    0.32 * self.scale(zw),
                    CAR,
                    _flat(tyre),
                )
        # rear / front face
        cv.rect(self.px(xl + 0.05, Z), self.px(xl + 0.35, Z), self.py(0.3, Z), self.py(0, Z), CAR, _flat(tyre))
        cv.rect(self.px(xr - 0.35, Z), self.px(xr - 0.05, Z), self.py(0.3, Z), self.py(0, Z), CAR, _flat(tyre))
        cv.rect(self.px(xl, Z), self.px(xr, Z), self.py(belt, Z), self.py(0.25, Z), CAR, _flat(paint, 0.05, 0.06, 4))
        ins = rng.uniform(0.1, 0.25)
        cv.poly(
            [
                (self.px(xl, Z), self.py(belt, Z)),
                (self.px(xl + ins, Z), self.py(ht, Z)),
                (self.px(xr - ins, Z), self.py(ht, Z)),
                (self.px(xr, Z), self.py(belt, Z)),
            ],
            CAR,
            _flat(paint * 0.95, 0.05),
        )
        cv.poly(
            [
                (self.px(xl + 0.12, Z), self.py(belt + 0.04, Z)),
                (self.px(xl + ins + 0.1, Z), self.py(ht - 0.08, Z)),
                (self.px(xr - ins - 0.1, Z), self.py(ht - 0.08, Z)),
                (self.px(xr - 0.12, Z), self.py(belt + 0.04, Z)),
            ],
            CAR,
            _flat(glass, 0.05, 0.1, 4),
        )
        lamp = np.array([200, 40, 40] if rng.random() < 0.6 else [230, 225, 200], np.float32)
        for a, b in ((xl + 0.08, xl + 0.35), (xr - 0.35, xr - 0.08)):
            cv.rect(
                self.px(a, Z), self.px(b, Z), self.py(belt - 0.05, Z), self.py(belt - 0.22, Z), CAR, _flat(lamp, 0.03)
            )

    def pedestrian(self, X: float, Z: float) -> None:
        rng, cv, s = self.rng, self.cv, self.scale(Z)
        ht = rng.uniform(1.5, 1.9)
        x = self.px(X, Z)
        legs = _flat(_pick(rng, _CLOTHES, 12), 0.05, 0.1, 4)
        torso = _flat(_pick(rng, _CLOTHES, 20), 0.05, 0.1, 4)
        stride = rng.uniform(0.0, 0.25) * s
        hip = self.py(0.5 * ht, Z)
        foot = self.py(0, Z)
        cv.bar(x - 0.05 * s, hip, x - 0.05 * s - stride, foot, 0.13 * s, PEDESTRIAN, legs)
        cv.bar(x + 0.05 * s, hip, x + 0.05 * s + stride, foot, 0.13 * s, PEDESTRIAN, legs)
        cv.ellipse(x, self.py(0.68 * ht, Z), 0.22 * s, 0.2 * ht * s, PEDESTRIAN, torso)
        cv.bar(x - 0.22 * s, self.py(0.82 * ht, Z), x - 0.26 * s, self.py(0.5 * ht, Z), 0.08 * s, PEDESTRIAN, torso)
        cv.bar(x + 0.22 * s, self.py(0.82 * ht, Z), x + 0.26 * s, self.py(0.5 * ht, Z), 0.08 * s, PEDESTRIAN, torso)
        head = _pick(rng, _SKIN, 10) if rng.random() < 0.7 else _grey(rng, 20, 60, 5)
        cv.ellipse(x, self.py(ht - 0.11, Z), 0.1 * s, 0.12 * s, PEDESTRIAN, _flat(head, 0.05))
        if rng.random() < 0.25:  # bag / umbrella blob
            cv.ellipse(
                x + 0.3 * s, self.py(0.55 * ht, Z), 0.12 * s, 0.15 * s, PEDESTRIAN, _flat(_pick(rng, _CLOTHES, 20))
            )

    def bicyclist(self, X: float, Z: float) -> None:
        rng, cv, s = self.rng, self.cv, self.scale(Z)
        d = 1 if rng.random() < 0.5 else -1  # facing left / right in the image
        x0, ground = self.px(X, Z), self.py(0, Z)
        rw = 0.34 * s
        tyre = _flat(_grey(rng, 15, 45, 4))
        frame = _flat(_pick(rng, _CAR_PAINT, 20), 0.03)
        for off in (-0.52, 0.52):
            cv.ellipse(x0 + off * s, ground - rw, rw, rw, BICYCLIST, tyre, inner=0.72)
        back, front = (x0 - 0.52 * d * s, ground - rw), (x0 + 0.52 * d * s, ground - rw)
        seat = (x0 - 0.15 * d * s, ground - 0.85 * s)
        bars = (x0 + 0.42 * d * s, ground - 0.95 * s)
        pedal = (x0, ground - rw)
        for a, b in ((back, seat), (seat, pedal), (pedal, front), (back, pedal), (seat, bars), (bars, front)):
            cv.bar(a[0], a[1], b[0], b[1], 0.05 * s, BICYCLIST, frame)
        body = _flat(_pick(rng, _CLOTHES, 20), 0.05, 0.1, 4)
        shoulder = (x0 + 0.15 * d * s, ground - 1.45 * s)
        cv.bar(seat[0], seat[1], pedal[0] + 0.1 * d * s, pedal[1] + 0.1 * s, 0.14 * s, BICYCLIST, body)
        cv.bar(seat[0], seat[1], shoulder[0], shoulder[1], 0.34 * s, BICYCLIST, body)
        cv.bar(shoulder[0], shoulder[1], bars[0], bars[1], 0.08 * s, BICYCLIST, body)
        head = _pick(rng, _SKIN, 10) if rng.random() < 0.5 else _grey(rng, 20, 200, 10)  # face or helmet
        cv.ellipse(shoulder[0] + 0.08 * d * s, shoulder[1] - 0.16 * s, 0.11 * s, 0.12 * s, BICYCLIST, _flat(head, 0.05))

    def clutter(self, X: float, Z: float) -> None:
        """Unlabelled street furniture (bins, barriers, boxes, misc blobs): void."""
        rng, cv, s = self.rng, self.cv, self.scale(Z)
        x, g = self.px(X, Z), self.py(0, Z)
        col = _flat(_pick(rng, np.concatenate([_CAR_PAINT, _FACADES]), 25), 0.08, 0.12, 5)
        k = rng.random()
        if k < 0.4:
            wd, ht = rng.uniform(0.4, 0.8), rng.uniform(0.7, 1.2)
            cv.rect(x - wd * s / 2, x + wd * s / 2, g - ht * s, g, VOID, col)
        elif k < 0.7:
            wd, ht = rng.uniform(1.0, 2.5), rng.uniform(0.6, 1.0)
            cv.rect(x - wd * s / 2, x + wd * s / 2, g - ht * s, g, VOID, col)
        else:
            rx, ry = rng.uniform(0.4, 1.2) * s, rng.uniform(0.4, 1.2) * s
            r = cv.region(x - 1.4 * rx, x + 1.4 * rx, g - 2.2 * ry, g)
            if r is not None:
                d = ((r.xs - x) / rx) ** 2 + ((r.ys - (g - ry)) / ry) ** 2
                r.paint(d + 0.35 * r.noise("n_mid") < 1.0, VOID, col(r))

    def bonnet(self) -> None:
        """The ego car's bonnet at the bottom of some frames: void."""
        rng, cv = self.rng, self.cv
        hh = self.h * rng.uniform(0.05, 0.12)
        r = cv.region(0, self.w, self.h - hh, self.h)
        if r is None:
            return
        t = (r.xs - self.w / 2) / (self.w / 2)
        top = self.h - hh * (1 - 0.45 * t**2)
        col = r.texture(_grey(rng, 20, 80, 10), 0.1, 0.05, 3)
        col = col + 40 * np.clip(1 - np.abs(r.ys - top - 2) / 3, 0, 1)[..., None]  # rim highlight
        r.paint(r.ys >= top, VOID, col)

    # ---------------------------------------------------------------- composition
    def render(self) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        self.sky()
        self.far_ground()
        self.skyline()
        for side in (-1, 1):
            self.facades(side)
        self.street()

        # fences along the facade lines: in gaps (likely) or in front of buildings (low walls)
        for side in (-1, 1):
            for z0, z1 in self.gaps[side]:
                if rng.random() < 0.7:
                    self.fence(side, z0, z1)
            if rng.random() < 0.7:
                z0 = rng.uniform(3, 40)
                self.fence(side, z0, z0 + rng.uniform(5, 50))
            if rng.random() < 0.25:  # fence past the end of the street
                self.fence(side, self.ends[side], self.ends[side] + rng.uniform(15, 60))

        objs: list[tuple[float, Callable[[], None]]] = []

        def add(Z: float, fn, *args) -> None:
            objs.append((Z, lambda: fn(*args)))

        def depth(zmin: float, zmax: float) -> float:  # uniform in projected size: near objects common
            return 1.0 / rng.uniform(1.0 / zmax, 1.0 / zmin)

        for side in (-1, 1):
            X_wall, X_edge = self.wall(side), self.road_edge(side)
            pav = abs(X_wall - X_edge)
            for _ in range(int(rng.poisson(1.7))):  # trees along the facade line
                Z = depth(6, 70)
                add(Z, self.tree, X_wall - side * rng.uniform(0.4, 1.2), Z)
            for z0, z1 in self.gaps[side]:  # bigger trees in the gaps
                if rng.random() < 0.6:
                    Z = rng.uniform(z0, z1)
                    add(Z, self.tree, X_wall + side * rng.uniform(0.0, 2.0), Z, True)
            for _ in range(int(rng.poisson(1.3))):  # poles at the kerb or by the wall
                Z = depth(5, 80)
                X = X_edge + side * rng.uniform(0.3, 0.6) if rng.random() < 0.7 else X_wall - side * 0.4
                add(Z, self.pole, X, Z)
            for _ in range(int(rng.poisson(1.5))):  # pedestrians on the pavement
                Z = depth(4, 40)
                add(Z, self.pedestrian, X_edge + side * rng.uniform(0.3, max(0.4, pav - 0.3)), Z)
            for _ in range(int(rng.poisson(0.6))):  # parked cars along the kerb
                Z = depth(4, 50)
                add(Z, self.car, X_edge - side * 1.1, Z)
            if rng.random() < 0.35:  # bicyclist near the kerb
                Z = depth(4, 30)
                add(Z, self.bicyclist, X_edge - side * rng.uniform(0.5, 1.3), Z)
            for _ in range(int(rng.poisson(1.3))):  # clutter on the pavement
                Z = depth(4, 50)
                add(Z, self.clutter, X_edge + side * rng.uniform(0.3, max(0.4, pav - 0.3)), Z)
        lanes = np.linspace(self.road_l + 1.5, self.road_r - 1.5, 3)
        for _ in range(int(rng.poisson(1.0))):  # moving traffic
            Z = depth(6, 60)
            add(Z, self.car, float(rng.choice(lanes)) + rng.uniform(-0.3, 0.3), Z)
        if rng.random() < 0.12:  # pedestrian crossing the road
            Z = depth(6, 30)
            add(Z, self.pedestrian, rng.uniform(self.road_l + 0.5, self.road_r - 0.5), Z)

        for _, draw in sorted(objs, key=lambda o: -o[0]):
            draw()
        if rng.random() < 0.3:
            self.bonnet()
        return self._finish(), self.cv.lab

    def _finish(self) -> np.ndarray:
        rng, img = self.rng, self.cv.img
        if rng.random() < 0.5:
            img = gaussian_filter(img, sigma=(rng.uniform(0.3, 0.8) * self.h / 120.0,) * 2 + (0,))
        mean = img.mean(axis=(0, 1), keepdims=True)
        img = (img - mean) * rng.uniform(0.75, 1.2) + mean
        if self.dusk:
            gain = rng.uniform(0.4, 0.7) * np.array([1.12, 0.95, 0.78], np.float32)
        else:
            gain = rng.uniform(0.75, 1.2) * rng.uniform(0.9, 1.1, 3).astype(np.float32)
        img = img * gain
        img = 255.0 * np.clip(img / 255.0, 0, 1) ** rng.uniform(0.8, 1.25)
        img = img + rng.uniform(2.0, 8.0) * rng.standard_normal(img.shape).astype(np.float32)
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def render_scene(rng: np.random.Generator, height: int = 120, width: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic road scene: (RGB uint8 (H, W, 3), label uint8 (H, W) with values 0..11)."""
    if height < 8 or width < 8:
        raise ValueError(f"image too small: {height}x{width}")
    return _Scene(rng, int(height), int(width)).render()


# --------------------------------------------------------------------------------------------------
# the on-disk set
# --------------------------------------------------------------------------------------------------


def _manifest(split_sizes: Mapping[str, int], height: int, width: int, seed: int) -> dict:
    return {
        "generator": "segbench.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "split_sizes": {k: int(v) for k, v in sorted(split_sizes.items())},
        "height": int(height),
        "width": int(width),
        "seed": int(seed),
    }


def _read_manifest(root: Path) -> dict | None:
    try:
        return json.loads((root / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None


def _write_set(out: Path, manifest: dict, progress: bool) -> None:
    sizes, h, w, seed = manifest["split_sizes"], manifest["height"], manifest["width"], manifest["seed"]
    total = sum(sizes.values())
    bar = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("synthetic CamVid"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        bar.start()
        task = bar.add_task("generate", total=total)
    try:
        for split, n in sizes.items():
            (out / split).mkdir(parents=True)
            (out / f"{split}annot").mkdir()
            digits = max(4, len(str(n)))
            lines = []
            for i in range(n):
                name = f"{i + 1:0{digits}d}.png"
                img, lab = render_scene(image_rng(seed, split, i), h, w)
                Image.fromarray(img, "RGB").save(out / split / name)
                Image.fromarray(lab, "L").save(out / f"{split}annot" / name)
                lines.append(f"/SegNet/CamVid/{split}/{name} /SegNet/CamVid/{split}annot/{name}\n")
                if bar is not None:
                    bar.advance(task)
            (out / f"{split}.txt").write_text("".join(lines))
    finally:
        if bar is not None:
            bar.stop()
    # the manifest is written last: a set without one is incomplete
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")


def generate_synthetic_camvid(
    root: str | Path,
    split_sizes: Mapping[str, int] = DEFAULT_SPLIT_SIZES,
    height: int = 120,
    width: int = 160,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write (once) a synthetic CamVid-layout set under ``root`` and return ``root``.

    If ``root/synthetic.json`` matches the arguments (and ``GENERATOR_VERSION``) nothing is touched.
    Otherwise the set is generated into ``<root>.tmp-<pid>`` and renamed into place, replacing an
    outdated synthetic set. A non-empty ``root`` without a manifest (e.g. the real CamVid) is never
    overwritten: that raises ``DatasetError``.
    """
    root = Path(root)
    if any(int(v) < 0 for v in split_sizes.values()):
        raise ValueError(f"negative split size in {dict(split_sizes)}")
    manifest = _manifest(split_sizes, height, width, seed)
    if _read_manifest(root) == manifest:
        return root
    if root.exists() and not (root / MANIFEST_NAME).exists() and (not root.is_dir() or any(root.iterdir())):
        raise DatasetError(
            f"{root} exists and is not a synthetic CamVid set (no {MANIFEST_NAME}); "
            "refusing to overwrite it: choose another dataset.root"
        )

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f"{root.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir()
        _write_set(tmp, manifest, progress)
        if root.exists():
            if _read_manifest(root) == manifest:  # another process finished first
                shutil.rmtree(tmp)
                return root
            old = root.parent / f"{root.name}.old-{os.getpid()}"
            if old.exists():
                shutil.rmtree(old)
            os.replace(root, old)
            os.replace(tmp, root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.replace(tmp, root)
            except OSError:
                if _read_manifest(root) == manifest:  # lost a race to an identical set
                    shutil.rmtree(tmp)
                    return root
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
