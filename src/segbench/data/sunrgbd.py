"""SUN RGB-D indoor scenes (Sec. 4.2, Tables 4 and 5): 37 classes, RGB only, read by `SunRGBDLayout`.

The facts below are the single home of each; `conf/dataset/sunrgbd.yaml` reads them through the
`${constant:...}` resolver and the tests import them.

Release read, unpacked as published (nothing renamed): the 37-class label maps of
github.com/ankurhanda/sunrgbd-meta-data (`sunrgbd_train_test_labels.tar.gz`, extracted from the
official toolbox's SUNRGBD2Dseg.mat) and the JPEGs that repository's README links to
(`SUNRGBD-train_images.tgz`, `SUNRGBD-test_images.tgz`, on www.doc.ic.ac.uk/~ahanda/)::

    <root>/SUNRGBD-train_images/img-000001.jpg .. img-005285.jpg    5,285 training images
    <root>/SUNRGBD-test_images/img-000001.jpg .. img-005050.jpg     5,050 test images
    <root>/sunrgbd_train_test_labels/img-000001.png .. img-010335.png

The label archive is one flat numbering, test first (README: "the first 5050 images ... contain labels
for test dataset while training set labels begin from 5051 and end at 10335"): test image N has label
img-N.png, training image N has label img-(N+5050).png. That archive unpacks without a folder of its
own: `mkdir sunrgbd_train_test_labels && tar -xzf sunrgbd_train_test_labels.tar.gz -C sunrgbd_train_test_labels`.
(Whether the image archives hold their folder was not checked here: the folders must end up named as above.)
Label PNGs hold one value per pixel: 0 = unlabelled (void, ignored by loss and scores; Fig. 5 shows it
black), 1..37 = the classes in the order of `CLASS_NAMES`, which the layout maps to 0..36 with void 37
(the project's convention, CamVid's: classes 0..K-1, void K). Images come from different sensors in various
sizes (Sec. 4.2); they are resized to `TARGET_RESOLUTION` (Sec. 4), bilinear images and nearest-neighbour labels.

Validation. SUN RGB-D has no validation split and the paper names none for it: Table 4 reports the test
set at fixed iteration counts (80 K, 140 K, > 140 K) and Fig. 5 shows "the model corresponding to the
highest mIoU accuracy in Table 4", i.e. the paper monitored the test set. The project selects
checkpoints by validation G (Sec. 3.3), so by default (`validation="holdout"`) a fixed, seeded
`HOLDOUT_FRACTION` of the training images (529 of 5,285) is held out as `val` and not trained on;
the seed is fixed, not the run's, so every run selects on the same images and test stays unseen. This
follows the paper's own answer to a missing validation set, "a subset of the training set" (Sec. 4.1,
the dense-CRF grid search). `validation="test"` is the paper's protocol instead: all 5,285 images
train and `val` is the test split (served from the same decoded arrays), so selection sees the test
set. Note Table 4's caption says "a corpus of 5,250 indoor scenes" where Sec. 4.2 says 5,285.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from segbench.data.layouts import Layout, Pair
from segbench.errors import DatasetError

# Table 5's class names, in the order of the public 37-class labelling (label value = index + 1).
CLASS_NAMES: tuple[str, ...] = (
    "Wall",
    "Floor",
    "Cabinet",
    "Bed",
    "Chair",
    "Sofa",
    "Table",
    "Door",
    "Window",
    "Bookshelf",
    "Picture",
    "Counter",
    "Blinds",
    "Desk",
    "Shelves",
    "Curtain",
    "Dresser",
    "Pillow",
    "Mirror",
    "Floor mat",
    "Clothes",
    "Ceiling",
    "Books",
    "Fridge",
    "TV",
    "Paper",
    "Towel",
    "Shower curtain",
    "Box",
    "Whiteboard",
    "Person",
    "Night stand",
    "Toilet",
    "Sink",
    "Lamp",
    "Bathtub",
    "Bag",
)
NUM_CLASSES = len(CLASS_NAMES)
VOID_INDEX = NUM_CLASSES  # after decoding; the label files write void as 0
MAX_FILE_LABEL = NUM_CLASSES  # file values 0..37
# File value -> class index: 0 (unlabelled) -> void, v -> v - 1.
LABEL_MAP = np.array([VOID_INDEX, *range(NUM_CLASSES)], dtype=np.uint8)
# The release's splits (Sec. 4.2: "5,285 training and 5,050 testing images").
SPLIT_SIZES = {"train": 5285, "test": 5050}
# Images vary in size with the sensor (Sec. 4.2), so there is no native size; all are resized to the
# paper's input size (Sec. 4: "The input RGB images for both tasks were 360x480").
TARGET_RESOLUTION = (360, 480)
# Sec. 4: "for indoor scenes with 37 classes we used a mini-batch size of 4".
BATCH_SIZE = 4

# The release's folders and file names (see the module docstring).
IMAGE_DIRS = {"train": "SUNRGBD-train_images", "test": "SUNRGBD-test_images"}
LABEL_DIR = "sunrgbd_train_test_labels"
IMAGE_NAME = re.compile(r"img-(\d{6})\.jpg")
LABEL_NAME = re.compile(r"img-(\d{6})\.png")
# Label number = image number + offset: test labels come first.
LABEL_OFFSETS = {"test": 0, "train": SPLIT_SIZES["test"]}

# The validation choice (see the module docstring); the yaml reads these.
VALIDATION = "holdout"
VALIDATION_CHOICES = ("holdout", "test")
HOLDOUT_FRACTION = 0.1
HOLDOUT_SEED = 0


def holdout_size(train_images: int, fraction: float = HOLDOUT_FRACTION) -> int:
    """Images held out of `train_images` for validation: `fraction` of them rounded half up, at least one."""
    return max(1, int(fraction * train_images + 0.5))


class SunRGBDLayout(Layout):
    """SUN RGB-D as the sunrgbd-meta-data release unpacks (module docstring), with a validation split chosen here.

    Args:
        validation: "holdout" (a seeded `holdout_fraction` of the training images is `val` and is not
            trained on) or "test" (the paper's protocol: `val` is the test split, training keeps every image).
        holdout_fraction: share of the training images held out, in (0, 1).
        holdout_seed: seeds which images are held out; fixed so that every run validates on the same ones.
    """

    title = "SUN RGB-D"
    root_variable = "SUNRGBD_ROOT"

    def __init__(
        self, validation: str = VALIDATION, holdout_fraction: float = HOLDOUT_FRACTION, holdout_seed: int = HOLDOUT_SEED
    ) -> None:
        if validation not in VALIDATION_CHOICES:
            raise DatasetError(f"dataset.layout.validation={validation!r}; expected one of {list(VALIDATION_CHOICES)}")
        if not 0 < holdout_fraction < 1:
            raise DatasetError(f"dataset.layout.holdout_fraction={holdout_fraction}; expected a share in (0, 1)")
        self.validation, self.holdout_fraction, self.holdout_seed = validation, holdout_fraction, holdout_seed

    def source(self, split: str) -> str:
        return "test" if split == "val" and self.validation == "test" else split

    def label_coding(self, ignore_index: int) -> tuple[int, np.ndarray | None]:
        if ignore_index != VOID_INDEX:
            raise DatasetError(
                f"dataset.ignore_index={ignore_index}, but SUN RGB-D labels decode to classes 0..{NUM_CLASSES - 1} "
                f"with void {VOID_INDEX}"
            )
        return MAX_FILE_LABEL, LABEL_MAP

    def list_pairs(self, root: Path, split: str) -> list[Pair]:
        source = self.source(split)
        if source == "test":
            return release_pairs(root, "test")
        if source not in ("train", "val"):
            raise DatasetError(f"SUN RGB-D has no split {split!r}; expected train, val or test")
        pairs = release_pairs(root, "train")
        if self.validation == "test":
            return pairs
        held = self.held_out(len(pairs))
        return [pair for i, pair in enumerate(pairs) if (i in held) == (split == "val")]

    def held_out(self, train_images: int) -> set[int]:
        """Positions, in image-number order, of the training images held out for validation."""
        count = holdout_size(train_images, self.holdout_fraction)
        if count >= train_images:
            raise DatasetError(
                f"{train_images} training image(s) cannot spare a validation hold-out of "
                f"{self.holdout_fraction:g}; add images or set dataset.layout.validation=test"
            )
        chosen = np.random.default_rng(self.holdout_seed).choice(train_images, size=count, replace=False)
        return set(chosen.tolist())


def release_pairs(root: Path, split: str) -> list[Pair]:
    """(image, label) paths of the release's `train` or `test` split in image-number order.

    Every JPEG must be named img-NNNNNN.jpg within the split's numbering and have its label; every label
    of the split's number range must have its image; anything else is a DatasetError naming the file.
    """
    image_dir, label_dir = root / IMAGE_DIRS[split], root / LABEL_DIR
    for folder in (image_dir, label_dir):
        if not folder.is_dir():
            raise DatasetError(
                f"missing folder {folder} (expected the SUN RGB-D layout {IMAGE_DIRS['train']}/, "
                f"{IMAGE_DIRS['test']}/ and {LABEL_DIR}/)"
            )
    size, offset = SPLIT_SIZES[split], LABEL_OFFSETS[split]
    images = {}
    for path in image_dir.iterdir():
        if path.suffix.lower() != ".jpg":
            continue  # not an image of the release (e.g. a desktop's index file): nothing to pair
        number = _number(path, IMAGE_NAME, "img-NNNNNN.jpg")
        if not 1 <= number <= size:
            raise DatasetError(
                f"image {path} is numbered {number}; {IMAGE_DIRS[split]} runs img-000001..img-{size:06d}.jpg "
                f"(its labels are img-{offset + 1:06d}..img-{offset + size:06d}.png)"
            )
        images[number] = path
    if not images:
        raise DatasetError(f"folder {image_dir} holds no img-NNNNNN.jpg images")
    labels = {}
    for path in label_dir.iterdir():
        if path.suffix.lower() != ".png":
            continue
        number = _number(path, LABEL_NAME, "img-NNNNNN.png")
        if not 1 <= number <= sum(SPLIT_SIZES.values()):
            raise DatasetError(
                f"label {path} is numbered {number}; the release's labels run img-000001..img-"
                f"{sum(SPLIT_SIZES.values()):06d}.png"
            )
        if offset < number <= offset + size:
            labels[number - offset] = path
    if unlabelled := sorted(images.keys() - labels.keys()):
        first = unlabelled[0]
        raise DatasetError(
            f"image {images[first]} has no label {label_dir / f'img-{first + offset:06d}.png'} ({len(unlabelled)} such)"
        )
    if orphans := sorted(labels.keys() - images.keys()):
        first = orphans[0]
        raise DatasetError(
            f"label {labels[first]} has no image {image_dir / f'img-{first:06d}.jpg'} ({len(orphans)} such)"
        )
    return [(images[number], labels[number]) for number in sorted(images)]


def _number(path: Path, pattern: re.Pattern, expected: str) -> int:
    if not (match := pattern.fullmatch(path.name)):
        raise DatasetError(f"unexpected file {path}: the SUN RGB-D layout names its files {expected}")
    return int(match.group(1))
