"""Data set layouts: where a data set's files lie and what its label values mean, behind one interface.

`SegmentationDataModule` reads every data set through a `Layout` chosen by the config (`dataset.layout`):
the layout pairs image and label files per split and says how a label file's values become class
indices; the decoding, the checks and the uint8 cache below are shared, so every data set is validated
as strictly as CamVid (one `DatasetError` line naming the bad file) and decoded once.

Layouts: `segbench.data.camvid.CamVidLayout` (CamVid, and the synthetic scenes written in its layout)
and `segbench.data.sunrgbd.SunRGBDLayout` (SUN RGB-D, Sec. 4.2).
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
# Bump when what a cached .npz holds changes for the same files and settings.
CACHE_FORMAT_VERSION = 1
# Label PNG modes that hold one class value per pixel (8-bit grey or palette, or 16/32-bit grey).
LABEL_MODES = ("L", "P", "I;16", "I")

Pair = tuple[Path, Path]


class Layout:
    """How one data set sits on disk. Subclasses list the (image, label) pairs of a split.

    Attributes:
        title: the data set's name in messages ("CamVid").
        root_variable: the environment variable that may name the root ("CAMVID_ROOT").
        splits: the split names the data module serves; each must be listable (or an alias, see `source`).
    """

    title = "data set"
    root_variable = "DATASET_ROOT"
    fetch_command: str | None = None  # how to download it, for the "not found" message
    splits: tuple[str, ...] = SPLITS

    def resolve_root(self, root: str | os.PathLike | None, default: str | os.PathLike) -> Path:
        """`dataset.root` if given, else $<root_variable>, else `default`; it must be a folder."""
        return find_root(root, default, self.title, self.root_variable, self.fetch_command)

    def list_pairs(self, root: Path, split: str) -> list[Pair]:
        """(image, label) paths of `split` in a fixed order; any file that breaks the layout is a DatasetError."""
        raise NotImplementedError

    def sequence(self, name: str) -> str | None:
        """The video sequence an image file belongs to, for per-sequence scores; None when the layout has none."""
        return None

    def source(self, split: str) -> str:
        """The split whose images `split` serves; a layout may serve one split as another (no copy is decoded)."""
        return split

    def label_coding(self, ignore_index: int) -> tuple[int, np.ndarray | None]:
        """(highest value a label file may hold, lookup table from file values to class indices or None).

        By default files hold class indices with void = `ignore_index` (CamVid's convention).
        """
        return ignore_index, None

    def load_split(
        self,
        root: Path,
        split: str,
        ignore_index: int,
        resolution: tuple[int, int] | None = None,
        cache_dir: Path | None = None,
        progress: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Images (N, H, W, 3) and class-index labels (N, H, W) as uint8, and the image file names."""
        max_label, label_map = self.label_coding(ignore_index)
        return load_pairs(
            self.list_pairs(root, split),
            f"{root.name}-{split}",
            max_label,
            resolution=resolution,
            cache_dir=cache_dir,
            progress=progress,
            label_map=label_map,
        )


def find_root(
    root: str | os.PathLike | None,
    default: str | os.PathLike,
    title: str,
    variable: str,
    fetch_command: str | None = None,
) -> Path:
    """The data set root: `dataset.root` if given, else $`variable`, else `default`."""
    candidates = [("dataset.root", root), (f"${variable}", os.environ.get(variable)), ("default", default)]
    name, value = next((n, v) for n, v in candidates if v)
    path = Path(value).expanduser()
    if not path.is_dir():
        folder = title.replace(" ", "")
        raise DatasetError(
            f"{title} not found: {path} (from {name}) is not a folder; "
            f"point at your copy with {variable}=/path/to/{folder} or dataset.root=/path/to/{folder}"
            + (f", or download it with {fetch_command}" if fetch_command else "")
        )
    return path


def open_image(path: Path) -> Image.Image:
    """The decoded image; an unreadable or truncated file is a DatasetError naming it."""
    try:
        image = Image.open(path)
        image.load()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise DatasetError(f"cannot read {path}: {error}") from None
    return image


def decode_pair(
    image_path: Path,
    label_path: Path,
    max_label: int,
    resolution: tuple[int, int] | None = None,
    label_map: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode and check one pair; resize the image bilinearly and the label by nearest neighbour.

    The label file's values must lie in 0..`max_label`; `label_map[value]` then gives the class index
    (None: the values are the class indices). Nearest neighbour never invents a value, so mapping
    before or after resizing is the same.
    """
    image, label = open_image(image_path), open_image(label_path)
    if label.mode not in LABEL_MODES:
        raise DatasetError(f"label {label_path} has mode {label.mode}; expected a single-channel class-index PNG")
    if image.size != label.size:
        raise DatasetError(
            f"size mismatch: image {image_path} is {image.size[0]}x{image.size[1]} (WxH), "
            f"label {label_path} is {label.size[0]}x{label.size[1]}"
        )
    values = np.asarray(label)
    lowest, highest = int(values.min()), int(values.max())
    if highest > max_label or lowest < 0:
        value = highest if highest > max_label else lowest
        raise DatasetError(f"label {label_path} holds class value {value}; expected values 0..{max_label}")
    labels = values.astype(np.uint8)
    if label_map is not None:
        labels = label_map[labels]
    image = image.convert("RGB")
    if resolution is not None and tuple(resolution) != (image.height, image.width):
        height, width = resolution
        image = image.resize((width, height), Image.BILINEAR)
        labels = np.asarray(Image.fromarray(labels).resize((width, height), Image.NEAREST), dtype=np.uint8)
    return np.asarray(image, dtype=np.uint8), labels


def _cache_key(
    pairs: list[Pair], resolution: tuple[int, int] | None, max_label: int, label_map: np.ndarray | None
) -> str:
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for pair in pairs for p in pair]
    key = [CACHE_FORMAT_VERSION, resolution and list(resolution), max_label, stats]
    if label_map is not None:  # only then: caches written before label maps existed stay valid
        key.append(label_map.tolist())
    return hashlib.sha1(json.dumps(key).encode()).hexdigest()[:16]


def load_pairs(
    pairs: list[Pair],
    name: str,
    max_label: int,
    resolution: tuple[int, int] | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    label_map: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images (N, H, W, 3) and labels (N, H, W) as uint8, and the image file names, of `pairs`.

    Decoded once: the arrays are saved under `cache_dir` as `<name>-<key>.npz`, keyed by the files'
    paths, sizes and modification times, the resolution and the label coding, so a changed file or
    setting decodes again.
    """
    names = [image.name for image, _ in pairs]
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"{name}-{_cache_key(pairs, resolution, max_label, label_map)}.npz"
        if cache_file.is_file():
            with np.load(cache_file) as cached:
                return cached["images"], cached["labels"], names
    decoded = []
    with Progress(disable=not progress, transient=True) as bar:
        for image_path, label_path in bar.track(pairs, description=f"decoding {name}"):
            decoded.append(decode_pair(image_path, label_path, max_label, resolution, label_map))
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
