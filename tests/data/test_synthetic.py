"""The synthetic CamVid-like set: layout, determinism, caching, atomic writes, class statistics."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segbench.data.camvid import VOID_INDEX
from segbench.data.synthetic import (
    GENERATOR_VERSION,
    MANIFEST_NAME,
    generate_synthetic_camvid,
    image_rng,
    render_scene,
)
from segbench.errors import DatasetError

SMALL = {"train": 4, "val": 2, "test": 3}
H, W = 48, 64


def _gen(root: Path, **kw) -> Path:
    args = dict(split_sizes=SMALL, height=H, width=W, seed=0, progress=False)
    args.update(kw)
    return generate_synthetic_camvid(root, **args)


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout(tmp_path):
    root = _gen(tmp_path / "camvid")
    assert root == tmp_path / "camvid"
    for split, n in SMALL.items():
        imgs = sorted(p.name for p in (root / split).glob("*.png"))
        labs = sorted(p.name for p in (root / f"{split}annot").glob("*.png"))
        assert len(imgs) == n and imgs == labs
        lines = (root / f"{split}.txt").read_text().splitlines()
        assert len(lines) == n
        listed = []
        for line in lines:
            img_path, lab_path = line.split()
            assert Path(img_path).parent.name == split and Path(lab_path).parent.name == f"{split}annot"
            assert Path(img_path).name == Path(lab_path).name
            listed.append(Path(img_path).name)
        assert sorted(listed) == imgs
        for name in imgs:
            with Image.open(root / split / name) as im:
                assert im.mode == "RGB" and im.size == (W, H)
            with Image.open(root / f"{split}annot" / name) as lab:
                assert lab.mode == "L" and lab.size == (W, H)
                a = np.asarray(lab)
                assert a.min() >= 0 and a.max() <= VOID_INDEX
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["split_sizes"] == SMALL and (manifest["height"], manifest["width"], manifest["seed"]) == (H, W, 0)
    # no temporary / backup directories left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camvid"]


def test_deterministic(tmp_path):
    a = _all_files(_gen(tmp_path / "a"))
    b = _all_files(_gen(tmp_path / "b"))
    assert a == b
    c = _all_files(_gen(tmp_path / "c", seed=1))
    assert c.keys() == a.keys()
    assert all(c[k] != a[k] for k in a if k.endswith(".png"))


def test_image_independent_of_split_sizes(tmp_path):
    # each image's RNG depends only on (seed, split, index), not on how many images come before it
    a = _gen(tmp_path / "a")
    b = _gen(tmp_path / "b", split_sizes={"train": 2, "val": 1, "test": 3})
    for rel in ("train/0002.png", "trainannot/0002.png", "val/0001.png", "test/0003.png"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    img, lab = render_scene(image_rng(0, "test", 2), H, W)
    assert np.array_equal(np.asarray(Image.open(a / "test" / "0003.png")), img)
    assert np.array_equal(np.asarray(Image.open(a / "testannot" / "0003.png")), lab)


def test_cached_and_regenerated(tmp_path):
    root = _gen(tmp_path / "camvid")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    old = 1_000_000_000 * 10**9  # push mtimes into the past so any rewrite is visible
    for p in files:
        os.utime(p, ns=(old, old))
    assert _gen(tmp_path / "camvid") == root
    assert all(p.stat().st_mtime_ns == old for p in files)
    assert mtimes  # sanity

    # a changed parameter regenerates (the whole set is replaced)
    _gen(tmp_path / "camvid", height=40)
    with Image.open(root / "train" / "0001.png") as im:
        assert im.size == (W, 40)
    assert json.loads((root / MANIFEST_NAME).read_text())["height"] == 40
    assert all(p.stat().st_mtime_ns != old for p in root.rglob("*") if p.is_file())
    # fewer images: stale files from the previous set do not survive
    _gen(tmp_path / "camvid", height=40, split_sizes={"train": 2, "val": 1, "test": 1})
    assert sorted(p.name for p in (root / "train").iterdir()) == ["0001.png", "0002.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camvid"]


def test_outdated_version_regenerates(tmp_path):
    root = _gen(tmp_path / "camvid")
    m = json.loads((root / MANIFEST_NAME).read_text())
    m["generator_version"] = GENERATOR_VERSION - 1
    (root / MANIFEST_NAME).write_text(json.dumps(m))
    _gen(tmp_path / "camvid")
    assert json.loads((root / MANIFEST_NAME).read_text())["generator_version"] == GENERATOR_VERSION


def test_incomplete_set_is_not_trusted_and_foreign_dir_not_clobbered(tmp_path):
    # an interrupted run leaves only <root>.tmp-<pid>: no root, so the next call generates
    (tmp_path / f"camvid.tmp-{os.getpid()}" / "train").mkdir(parents=True)
    root = _gen(tmp_path / "camvid")
    assert (root / MANIFEST_NAME).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camvid"]
    # a non-empty directory without a manifest (e.g. the real CamVid) is never overwritten
    real = tmp_path / "real"
    (real / "train").mkdir(parents=True)
    with pytest.raises(DatasetError):
        _gen(real)
    assert (real / "train").is_dir() and not (real / MANIFEST_NAME).exists()
    # an empty directory is fine
    (tmp_path / "empty").mkdir()
    assert (_gen(tmp_path / "empty") / MANIFEST_NAME).exists()


def test_failure_leaves_nothing(tmp_path, monkeypatch):
    import segbench.data.synthetic as synthetic

    calls = {"n": 0}
    real_render = synthetic.render_scene

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_render(*a, **k)

    monkeypatch.setattr(synthetic, "render_scene", flaky)
    with pytest.raises(KeyboardInterrupt):
        _gen(tmp_path / "camvid")
    assert list(tmp_path.iterdir()) == []


def test_progress_bar_runs(tmp_path):
    root = generate_synthetic_camvid(
        tmp_path / "p", split_sizes={"train": 1, "val": 1, "test": 0}, height=24, width=32, progress=True
    )
    assert (root / "test.txt").read_text() == "" and len(list((root / "train").iterdir())) == 1


def test_class_statistics():
    # 40 train images of 90x120, rendered in memory (the same function the writer uses)
    counts = np.zeros(12, np.int64)
    for i in range(40):
        img, lab = render_scene(image_rng(0, "train", i), 90, 120)
        assert img.shape == (90, 120, 3) and img.dtype == np.uint8
        assert lab.shape == (90, 120) and lab.dtype == np.uint8 and lab.max() <= VOID_INDEX
        counts += np.bincount(lab.ravel(), minlength=12)
    frac = counts / counts.sum()
    assert (counts[:11] > 0).all(), f"missing classes: {np.flatnonzero(counts[:11] == 0)}"
    sky, building, pole, road, sign, pedestrian, bicyclist, void = (frac[k] for k in (0, 1, 2, 3, 6, 9, 10, 11))
    assert road > 0.10 and building > 0.10 and sky > 0.10
    assert pole < 0.03 and sign < 0.03 and pedestrian < 0.03 and bicyclist < 0.03
    assert 0 < void < 0.10


def test_large_resolution():
    img, lab = render_scene(image_rng(0, "train", 0), 360, 480)
    assert img.shape == (360, 480, 3) and lab.shape == (360, 480)
    assert len(np.unique(lab)) >= 6
