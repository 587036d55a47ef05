"""CamVid (SegNet split) and its folder layout, `CamVidLayout`: the data module's default layout.

Layout (the SegNet tutorial's): `train/ trainannot/ val/ valannot/ test/ testannot/`, RGB PNG
images and single-channel PNG label maps of the same file name, classes 0..K-1, void = K.
The synthetic road scenes are written in the same layout and read by this same code. Decoding,
checks and the uint8 cache are shared by every layout (`segbench.data.layouts`).

The facts about CamVid below are the single home of each: `conf/dataset/camvid.yaml` reads them
through the `${constant:...}` resolver, the synthetic generator and the tests import them.
"""

from __future__ import annotations

from pathlib import Path

from segbench.data.layouts import SPLITS as SPLITS  # CamVid's split names: those of every layout
from segbench.data.layouts import Layout
from segbench.errors import DatasetError

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
NATIVE_HEIGHT, NATIVE_WIDTH = 360, 480


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


class CamVidLayout(Layout):
    """The SegNet tutorial's CamVid folders (see the module docstring); label files hold class indices, void = K.

    K comes from the data module (`dataset.ignore_index`), so the 5-class synthetic scenes use it too.
    """

    title = "CamVid"
    root_variable = "CAMVID_ROOT"
    fetch_command = "`make data` (python -m segbench.data.fetch camvid --dest data/camvid)"

    def list_pairs(self, root: Path, split: str) -> list[tuple[Path, Path]]:
        return list_pairs(root, split)

    def sequence(self, name: str) -> str | None:
        """CamVid file names start with their sequence: `0001TP_008550.png`, `Seq05VD_f00000.png`."""
        return name.split("_", 1)[0] if "_" in name else None
