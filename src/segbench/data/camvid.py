"""CamVid (SegNet split) and reading any data set in its layout: validate once, decode once, cache uint8.

Layout (the SegNet tutorial's): `train/ trainannot/ val/ valannot/ test/ testannot/`, RGB PNG
images and single-channel PNG label maps of the same file name, classes 0..K-1, void = K.
The synthetic road scenes are written in the same layout and read by this same code.

The facts about CamVid below are the single home of each: `conf/dataset/camvid.yaml` reads them
through the `${constant:...}` resolver, the synthetic generator and the tests import them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from rich.progress import Progress

from segbench.errors import DatasetError

SPLITS = ("train", "val", "test")

# CamVid in the SegNet split: 11 classes plus void, 367/101/233 images at 360x480.
CLASS_NAMES: tuple[str, ...] = (
    "Sky",
    "Building",
    "Pole",
    "Road",
    "Pavement",
    "Tree",
    "SignSymbol",
    "Fence",
    "Car",
    "Pedestrian",
    "Bicyclist",
)
NUM_CLASSES = len(CLASS_NAMES)
VOID_INDEX = NUM_CLASSES
# The CamVid colour code of each class, void last.
COLOURS: tuple[tuple[int, int, int], ...] = (
    (128, 128, 128),
    (128, 0, 0),
    (192, 192, 128),
    (128, 64, 128),
    (60, 40, 222),
    (128, 128, 0),
    (192, 128, 128),
    (64, 64, 128),
    (64, 0, 128),
    (64, 64, 0),
    (0, 128, 192),
    (0, 0, 0),
)
SPLIT_SIZES = {"train": 367, "val": 101, "test": 233}
NATIVE_HEIGHT, NATIVE_WIDTH = NATIVE_RESOLUTION = (360, 480)
CACHE_FORMAT_VERSION = 1


def resolve_root(root: str | os.PathLike | None, default: str | os.PathLike = "data/camvid") -> Path:
    """The data set root: `dataset.root` if given, else $CAMVID_ROOT, else `default`."""
    candidates = [("dataset.root", root), ("$CAMVID_ROOT", os.environ.get("CAMVID_ROOT")), ("default", default)]
    name, value = next((n, v) for n, v in candidates if v)
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DatasetError(
            f"CamVid not found: {path} (from {name}) is not a folder; "
            "point at your copy with CAMVID_ROOT=/path/to/CamVid or dataset.root=/path/to/CamVid"
        )
    return path


def list_pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    """(image, label) paths of a split, matched by file name; any unmatched file is an error."""
    image_dir, label_dir = root / split, root / f"{split}annot"
    for folder in (image_dir, label_dir):
        if not folder.is_dir():
            raise DatasetError(f"missing split folder {folder} (expected the CamVid layout {split}/ and {split}annot/)")
    images = {p.name: p for p in image_dir.iterdir() if p.suffix.lower() == ".png"}
    labels = {p.name: p for p in label_dir.iterdir() if p.suffix.lower() == ".png"}
    if unlabelled := sorted(images.keys() - labels.keys()):
        raise DatasetError(
            f"image {image_dir / unlabelled[0]} has no label {label_dir / unlabelled[0]} ({len(unlabelled)} such)"
        )
    if orphans := sorted(labels.keys() - images.keys()):
        raise DatasetError(
            f"label {label_dir / orphans[0]} has no image {image_dir / orphans[0]} ({len(orphans)} such)"
        )
    if not images:
        raise DatasetError(f"split folder {image_dir} holds no PNG images")
    return [(images[name], labels[name]) for name in sorted(images)]


def _open_png(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise DatasetError(f"cannot read {path}: {error}") from None
    return image


def decode_pair(
    image_path: Path, label_path: Path, max_label: int, resolution: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Decode and check one pair; resize the image bilinearly and the label by nearest neighbour."""
    image, label = _open_png(image_path), _open_png(label_path)
    if label.mode not in ("L", "P"):
        raise DatasetError(f"label {label_path} has mode {label.mode}; expected a single-channel class-index PNG")
    if image.size != label.size:
        raise DatasetError(
            f"size mismatch: image {image_path} is {image.size[0]}x{image.size[1]} (WxH), "
            f"label {label_path} is {label.size[0]}x{label.size[1]}"
        )
    labels = np.asarray(label, dtype=np.uint8)
    if (highest := int(labels.max())) > max_label:
        raise DatasetError(f"label {label_path} holds class value {highest}; expected values 0..{max_label}")
    image = image.convert("RGB")
    if resolution is not None and tuple(resolution) != (image.height, image.width):
        height, width = resolution
        image = image.resize((width, height), Image.BILINEAR)
        label = label.resize((width, height), Image.NEAREST)
        labels = np.asarray(label, dtype=np.uint8)
    return np.asarray(image, dtype=np.uint8), labels


def _cache_key(pairs: list[tuple[Path, Path]], resolution: tuple[int, int] | None, max_label: int) -> str:
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for pair in pairs for p in pair]
    blob = json.dumps([CACHE_FORMAT_VERSION, resolution and list(resolution), max_label, stats])
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def load_split(
    root: Path,
    split: str,
    max_label: int,
    resolution: tuple[int, int] | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images (N, H, W, 3) and labels (N, H, W) as uint8, and the file names.

    Decoded once: the arrays are saved under `cache_dir` keyed by the files' paths, sizes and
    modification times and the resolution, so a changed file or setting decodes again.
    """
    pairs = list_pairs(root, split)
    names = [image.name for image, _ in pairs]
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"{root.name}-{split}-{_cache_key(pairs, resolution, max_label)}.npz"
        if cache_file.is_file():
            with np.load(cache_file) as cached:
                return cached["images"], cached["labels"], names
    decoded = []
    with Progress(disable=not progress, transient=True) as bar:
        for image_path, label_path in bar.track(pairs, description=f"decoding {root.name}/{split}"):
            decoded.append(decode_pair(image_path, label_path, max_label, resolution))
    for (image_path, _), (image, _) in zip(pairs, decoded):
        if image.shape != decoded[0][0].shape:
            raise DatasetError(
                f"image {image_path} is {image.shape[1]}x{image.shape[0]} (WxH) but {pairs[0][0]} is "
                f"{decoded[0][0].shape[1]}x{decoded[0][0].shape[0]}; set dataset.resolution=[H,W] to resize them"
            )
    images, labels = np.stack([i for i, _ in decoded]), np.stack([label for _, label in decoded])
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(f".tmp-{os.getpid()}.npz")
        np.savez(partial, images=images, labels=labels)
        partial.replace(cache_file)
    return images, labels, names
