"""SUN RGB-D (Sec. 4.2) through its layout, on tiny folders in the release's layout: what it reads, what it refuses.

`write_sunrgbd_layout` makes those folders (also for a quick training run by hand, see its docstring).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image

from segbench.data import MedianFrequencyBalancing
from segbench.data.camvid import CamVidLayout
from segbench.data.datamodule import SegmentationDataModule
from segbench.data.layouts import LABEL_MODES
from segbench.data.sunrgbd import (
    CLASS_NAMES,
    IMAGE_DIRS,
    LABEL_DIR,
    LABEL_MAP,
    LABEL_OFFSETS,
    MAX_FILE_LABEL,
    NUM_CLASSES,
    SPLIT_SIZES,
    TARGET_RESOLUTION,
    VOID_INDEX,
    SunRGBDLayout,
    holdout_size,
    release_pairs,
)
from segbench.errors import DatasetError
from segbench.utils import register_resolvers

CONF = Path(__file__).resolve().parents[2] / "conf"
# (H, W) of the images in turn: SUN RGB-D's sensors give images of different sizes (Sec. 4.2).
SIZES = ((12, 16), (10, 14), (15, 19), (9, 13))


def write_sunrgbd_layout(root: Path, train: int = 4, test: int = 3, seed: int = 0) -> Path:
    """Random RGB JPEGs of varying sizes and 8-bit label PNGs (values 0..37, 0 = unlabelled), as the release unpacks.

    Training image N gets label img-(N+5050).png, test image N label img-N.png. A folder for a quick
    `src/train.py dataset=sunrgbd dataset.root=DIR` by hand (from tests/data, with the venv's python):
    `python -c 'from test_sunrgbd import *; write_sunrgbd_layout(Path("DIR"))'`
    """
    rng = np.random.default_rng(seed)
    (root / LABEL_DIR).mkdir(parents=True, exist_ok=True)
    index = 0
    for split, count in (("train", train), ("test", test)):
        (root / IMAGE_DIRS[split]).mkdir(parents=True, exist_ok=True)
        for number in range(1, count + 1):
            height, width = SIZES[index % len(SIZES)]
            index += 1
            image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            Image.fromarray(image).save(root / IMAGE_DIRS[split] / f"img-{number:06d}.jpg", quality=90)
            label = rng.integers(0, MAX_FILE_LABEL + 1, (height, width), dtype=np.uint8)
            path = root / LABEL_DIR / f"img-{number + LABEL_OFFSETS[split]:06d}.png"
            Image.fromarray(label).save(path)  # 2-D uint8: an 8-bit grey PNG
    return root


@pytest.fixture
def tiny_sunrgbd(tmp_path: Path) -> Path:
    return write_sunrgbd_layout(tmp_path / "sunrgbd")


def load(root: Path, split: str, layout: SunRGBDLayout | None = None, **kwargs):
    return (layout or SunRGBDLayout()).load_split(root, split, ignore_index=VOID_INDEX, progress=False, **kwargs)


def test_facts_are_table5_in_the_public_labelling_order():
    assert NUM_CLASSES == len(CLASS_NAMES) == 37 and VOID_INDEX == 37
    # Table 5 lists the classes in the order of the 37-class labels: 1 = wall ... 37 = bag.
    assert CLASS_NAMES[:3] == ("Wall", "Floor", "Cabinet") and CLASS_NAMES[-3:] == ("Lamp", "Bathtub", "Bag")
    assert CLASS_NAMES.index("Floor mat") == 19 and CLASS_NAMES.index("Ceiling") == 21
    assert CLASS_NAMES.index("Shower curtain") == 27 and CLASS_NAMES.index("Night stand") == 31
    assert SPLIT_SIZES == {"train": 5285, "test": 5050} and TARGET_RESOLUTION == (360, 480)
    # file value 0 (unlabelled) becomes void, v becomes class v - 1
    assert LABEL_MAP[0] == VOID_INDEX and LABEL_MAP[1:].tolist() == list(range(37))
    assert holdout_size(5285) == 529


def test_pairs_follow_the_release_numbering(tiny_sunrgbd):
    test = release_pairs(tiny_sunrgbd, "test")
    assert [(i.name, label.name) for i, label in test] == [(f"img-{n:06d}.jpg", f"img-{n:06d}.png") for n in (1, 2, 3)]
    train = release_pairs(tiny_sunrgbd, "train")
    assert [label.name for _, label in train] == [f"img-{5050 + n:06d}.png" for n in (1, 2, 3, 4)]
    assert all(image.parent.name == IMAGE_DIRS["train"] for image, _ in train)


def test_labels_decode_to_classes_with_void_last_and_images_resize(tiny_sunrgbd):
    images, labels, names = load(tiny_sunrgbd, "test", resolution=(6, 8))
    assert names == ["img-000001.jpg", "img-000002.jpg", "img-000003.jpg"]
    assert images.shape == (3, 6, 8, 3) and images.dtype == np.uint8 and labels.shape == (3, 6, 8)
    raw = Image.open(tiny_sunrgbd / LABEL_DIR / "img-000002.png")
    expected = LABEL_MAP[np.asarray(raw.resize((8, 6), Image.NEAREST))]
    assert np.array_equal(labels[1], expected)
    assert labels.max() <= VOID_INDEX and (labels == VOID_INDEX).any()


def test_images_of_varying_sizes_need_a_resolution(tiny_sunrgbd):
    with pytest.raises(
        DatasetError, match=r"img-000002.jpg is 14x10 \(WxH\) but .*img-000001.jpg is 16x12.*resolution"
    ):
        load(tiny_sunrgbd, "test")


def test_holdout_is_fixed_disjoint_and_seeded(tiny_sunrgbd):
    layout = SunRGBDLayout(holdout_fraction=0.25)
    train, val = layout.list_pairs(tiny_sunrgbd, "train"), layout.list_pairs(tiny_sunrgbd, "val")
    assert len(val) == holdout_size(4, 0.25) == 1 and not set(train) & set(val)
    assert sorted(train + val) == release_pairs(tiny_sunrgbd, "train")
    assert SunRGBDLayout(holdout_fraction=0.25).list_pairs(tiny_sunrgbd, "val") == val  # same images every run
    others = {
        tuple(SunRGBDLayout(holdout_fraction=0.25, holdout_seed=s).list_pairs(tiny_sunrgbd, "val")) for s in range(8)
    }
    assert len(others) > 1


def test_validating_on_test_shares_the_test_arrays(tiny_sunrgbd):
    layout = SunRGBDLayout(validation="test")
    assert layout.list_pairs(tiny_sunrgbd, "val") == release_pairs(tiny_sunrgbd, "test")
    assert layout.list_pairs(tiny_sunrgbd, "train") == release_pairs(tiny_sunrgbd, "train")
    datamodule = SegmentationDataModule(
        root=str(tiny_sunrgbd), resolution=[6, 8], num_classes=37, ignore_index=37, layout=layout, progress=False
    )
    datamodule.setup("fit")
    assert datamodule.split("val") is datamodule.split("test") and len(datamodule.split("train")) == 4


def test_datamodule_reads_the_layout_it_is_given(tiny_sunrgbd, tmp_path):
    datamodule = SegmentationDataModule(
        root=str(tiny_sunrgbd),
        resolution=[6, 8],
        batch_size=2,
        num_classes=NUM_CLASSES,
        ignore_index=VOID_INDEX,
        class_names=CLASS_NAMES,
        cache_dir=str(tmp_path / "cache"),
        layout=SunRGBDLayout(),
        progress=False,
        scoring_resolution=[6, 8],  # the files' sizes vary: scored at the input size, as the yaml's 360x480
    )
    datamodule.prepare_data()
    datamodule.setup("fit")
    assert (len(datamodule.split("train")), len(datamodule.split("val"))) == (3, 1)
    images, labels = next(iter(datamodule.val_dataloader()))
    assert images.shape == (1, 3, 6, 8) and labels.max() <= VOID_INDEX
    weights = datamodule.class_weights(MedianFrequencyBalancing())
    assert weights.shape == (NUM_CLASSES,)
    # decoded once: train and val are cached as .npz, and a second data module reads them back
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    again = SegmentationDataModule(
        root=str(tiny_sunrgbd),
        resolution=[6, 8],
        ignore_index=37,
        cache_dir=str(tmp_path / "cache"),
        layout=SunRGBDLayout(),
        progress=False,
    )
    assert np.array_equal(again.split("train").labels, datamodule.split("train").labels)
    assert isinstance(SegmentationDataModule().layout, CamVidLayout)  # CamVid stays the default


def test_config_composes_a_37_class_run_on_the_layout(tiny_sunrgbd, monkeypatch):
    register_resolvers()
    monkeypatch.setenv("SUNRGBD_ROOT", str(tiny_sunrgbd))
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("train", overrides=["dataset=sunrgbd", "dataset.resolution=[6,8]"])
    assert cfg.model.num_classes == cfg.task.num_classes == 37 and cfg.task.ignore_index == 37
    assert cfg.dataset.batch_size == 4 and cfg.dataset.layout.validation == "holdout"
    datamodule = instantiate(cfg.dataset, cache_dir=None, progress=False)
    assert isinstance(datamodule.layout, SunRGBDLayout) and datamodule.data_root == tiny_sunrgbd
    assert datamodule.class_names == list(CLASS_NAMES)
    datamodule.prepare_data()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        default = compose("train", overrides=["dataset=sunrgbd"])
    assert list(default.dataset.resolution) == [360, 480]


def test_missing_label_is_named(tiny_sunrgbd):
    (tiny_sunrgbd / LABEL_DIR / "img-005052.png").unlink()
    with pytest.raises(
        DatasetError, match=r"image .*SUNRGBD-train_images/img-000002.jpg has no label .*img-005052.png"
    ):
        release_pairs(tiny_sunrgbd, "train")


def test_label_without_image_is_named(tiny_sunrgbd):
    (tiny_sunrgbd / IMAGE_DIRS["test"] / "img-000003.jpg").unlink()
    with pytest.raises(DatasetError, match=r"label .*img-000003.png has no image .*SUNRGBD-test_images/img-000003.jpg"):
        release_pairs(tiny_sunrgbd, "test")


def test_unreadable_image_is_named(tiny_sunrgbd):
    path = tiny_sunrgbd / IMAGE_DIRS["train"] / "img-000001.jpg"
    path.write_bytes(path.read_bytes()[:200])  # a truncated JPEG
    with pytest.raises(DatasetError, match=r"cannot read .*SUNRGBD-train_images/img-000001.jpg"):
        load(tiny_sunrgbd, "train", resolution=(6, 8))


def test_label_value_out_of_range_is_named(tiny_sunrgbd):
    Image.fromarray(np.full((12, 16), 38, np.uint8)).save(tiny_sunrgbd / LABEL_DIR / "img-000001.png")
    with pytest.raises(DatasetError, match=r"label .*img-000001.png holds class value 38; expected values 0..37"):
        load(tiny_sunrgbd, "test", resolution=(6, 8))


def test_size_mismatch_is_named(tiny_sunrgbd):
    Image.fromarray(np.zeros((11, 16), np.uint8)).save(tiny_sunrgbd / LABEL_DIR / "img-000001.png")
    with pytest.raises(
        DatasetError, match=r"size mismatch: image .*img-000001.jpg is 16x12 \(WxH\), label .* is 16x11"
    ):
        load(tiny_sunrgbd, "test", resolution=(6, 8))


def test_rgb_label_is_refused(tiny_sunrgbd):
    Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(tiny_sunrgbd / LABEL_DIR / "img-000001.png")
    with pytest.raises(DatasetError, match=r"img-000001.png has mode RGB"):
        load(tiny_sunrgbd, "test", resolution=(6, 8))


def test_sixteen_bit_labels_in_range_are_read(tiny_sunrgbd):
    assert "I;16" in LABEL_MODES
    Image.fromarray(np.full((12, 16), 37, np.uint16)).save(tiny_sunrgbd / LABEL_DIR / "img-000001.png")
    _, labels, _ = load(tiny_sunrgbd, "test", resolution=(12, 16))
    assert (labels[0] == 36).all()  # file value 37 is "Bag", class 36


def test_empty_image_folder_is_named(tiny_sunrgbd):
    for path in (tiny_sunrgbd / IMAGE_DIRS["test"]).iterdir():
        path.unlink()
    with pytest.raises(DatasetError, match=r"folder .*SUNRGBD-test_images holds no img-NNNNNN.jpg images"):
        release_pairs(tiny_sunrgbd, "test")


def test_missing_folder_is_named(tiny_sunrgbd):
    (tiny_sunrgbd / LABEL_DIR).rename(tiny_sunrgbd / "labels")
    with pytest.raises(
        DatasetError, match=r"missing folder .*sunrgbd_train_test_labels \(expected the SUN RGB-D layout"
    ):
        release_pairs(tiny_sunrgbd, "train")


def test_misnamed_file_is_named(tiny_sunrgbd):
    (tiny_sunrgbd / IMAGE_DIRS["train"] / "img-000004.jpg").rename(tiny_sunrgbd / IMAGE_DIRS["train"] / "4.jpg")
    with pytest.raises(DatasetError, match=r"unexpected file .*SUNRGBD-train_images/4.jpg.*img-NNNNNN.jpg"):
        release_pairs(tiny_sunrgbd, "train")


def test_test_image_beyond_the_test_numbering_is_refused(tiny_sunrgbd):
    # img-005051.jpg in the test folder would take the first training image's label
    (tiny_sunrgbd / IMAGE_DIRS["test"] / "img-000003.jpg").rename(tiny_sunrgbd / IMAGE_DIRS["test"] / "img-005051.jpg")
    with pytest.raises(DatasetError, match=r"img-005051.jpg is numbered 5051; SUNRGBD-test_images runs .*img-005050"):
        release_pairs(tiny_sunrgbd, "test")


def test_config_mistakes_are_one_line(tiny_sunrgbd):
    with pytest.raises(DatasetError, match=r"validation='val'; expected one of \['holdout', 'test'\]"):
        SunRGBDLayout(validation="val")
    with pytest.raises(DatasetError, match=r"holdout_fraction=1.5"):
        SunRGBDLayout(holdout_fraction=1.5)
    with pytest.raises(
        DatasetError, match=r"ignore_index=0, but SUN RGB-D labels decode to classes 0..36 with void 37"
    ):
        SunRGBDLayout().load_split(tiny_sunrgbd, "test", ignore_index=0, resolution=(6, 8), progress=False)


def test_a_single_training_image_cannot_spare_a_holdout(tmp_path):
    root = write_sunrgbd_layout(tmp_path / "one", train=1, test=1)
    with pytest.raises(
        DatasetError, match=r"1 training image\(s\) cannot spare a validation hold-out of 0.1; .*validation=test"
    ):
        SunRGBDLayout().list_pairs(root, "train")
    assert len(SunRGBDLayout(validation="test").list_pairs(root, "train")) == 1


def test_root_comes_from_sunrgbd_root(tiny_sunrgbd, tmp_path, monkeypatch):
    monkeypatch.setenv("SUNRGBD_ROOT", str(tiny_sunrgbd))
    assert SunRGBDLayout().resolve_root(None, tmp_path / "nowhere") == tiny_sunrgbd
    monkeypatch.delenv("SUNRGBD_ROOT")
    with pytest.raises(DatasetError, match=r"SUN RGB-D not found: .*nowhere \(from default\).*SUNRGBD_ROOT="):
        SunRGBDLayout().resolve_root(None, tmp_path / "nowhere")


@pytest.fixture
def real_sunrgbd_root() -> Path:
    root = os.environ.get("SUNRGBD_ROOT")
    if not root or not Path(root, LABEL_DIR).is_dir():
        pytest.skip("real SUN RGB-D not available (set SUNRGBD_ROOT)")
    return Path(root)


def test_real_sunrgbd_split_sizes(real_sunrgbd_root):
    sizes = {split: len(release_pairs(real_sunrgbd_root, split)) for split in ("train", "test")}
    assert sizes == SPLIT_SIZES
    layout = SunRGBDLayout()
    assert len(layout.list_pairs(real_sunrgbd_root, "val")) == 529
    assert len(layout.list_pairs(real_sunrgbd_root, "train")) == 5285 - 529
