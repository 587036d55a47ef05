"""The CamVid-layout loader on folders the tests make: what it reads, and every bad input it refuses."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segbench.data.camvid import SPLIT_SIZES, CamVidLayout, list_pairs
from segbench.data.datamodule import SegmentationDataModule
from segbench.errors import DatasetError


def test_reads_pairs_in_name_order_as_uint8(tiny_camvid):
    images, labels, names = CamVidLayout().load_split(tiny_camvid, "train", ignore_index=11)
    assert names == ["train_000.png", "train_001.png", "train_002.png"]
    assert images.shape == (3, 12, 16, 3) and images.dtype == np.uint8
    assert labels.shape == (3, 12, 16) and labels.dtype == np.uint8
    assert np.array_equal(labels[1], np.asarray(Image.open(tiny_camvid / "trainannot" / "train_001.png")))


def test_resolution_resizes_images_bilinear_and_labels_nearest(tiny_camvid):
    images, labels, _ = CamVidLayout().load_split(tiny_camvid, "train", ignore_index=11, resolution=(6, 8))
    assert images.shape == (3, 6, 8, 3)
    original = np.asarray(Image.open(tiny_camvid / "trainannot" / "train_000.png"))
    # Nearest neighbour never invents a class: every value comes from the original map.
    assert np.isin(labels[0], np.unique(original)).all()
    assert np.array_equal(labels[0], np.asarray(Image.fromarray(original).resize((8, 6), Image.NEAREST)))


def test_decoded_arrays_are_cached_and_invalidated_by_a_changed_file(tiny_camvid, tmp_path):
    cache = tmp_path / "cache"
    first = CamVidLayout().load_split(tiny_camvid, "val", ignore_index=11, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 1
    again = CamVidLayout().load_split(tiny_camvid, "val", ignore_index=11, cache_dir=cache)
    assert np.array_equal(first[0], again[0])
    Image.fromarray(np.zeros((12, 16), np.uint8), mode="L").save(tiny_camvid / "valannot" / "val_000.png")
    changed = CamVidLayout().load_split(tiny_camvid, "val", ignore_index=11, cache_dir=cache)
    assert changed[1][0].max() == 0 and len(list(cache.glob("*.npz"))) == 2


def test_missing_split_folder_is_named(tiny_camvid):
    (tiny_camvid / "testannot").rename(tiny_camvid / "elsewhere")
    with pytest.raises(DatasetError, match=r"missing split folder .*testannot"):
        list_pairs(tiny_camvid, "test")


def test_image_without_label_is_named(tiny_camvid):
    (tiny_camvid / "trainannot" / "train_001.png").unlink()
    with pytest.raises(DatasetError, match=r"image .*train/train_001.png has no label"):
        list_pairs(tiny_camvid, "train")


def test_label_without_image_is_named(tiny_camvid):
    (tiny_camvid / "val" / "val_001.png").unlink()
    with pytest.raises(DatasetError, match=r"label .*valannot/val_001.png has no image"):
        list_pairs(tiny_camvid, "val")


def test_corrupt_png_is_named(tiny_camvid):
    (tiny_camvid / "train" / "train_002.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(DatasetError, match=r"cannot read .*train/train_002.png"):
        CamVidLayout().load_split(tiny_camvid, "train", ignore_index=11)


def test_size_mismatch_is_named(tiny_camvid):
    Image.fromarray(np.zeros((10, 16), np.uint8), mode="L").save(tiny_camvid / "trainannot" / "train_000.png")
    with pytest.raises(DatasetError, match=r"size mismatch: image .*train/train_000.png is 16x12"):
        CamVidLayout().load_split(tiny_camvid, "train", ignore_index=11)


def test_label_value_out_of_range_is_named(tiny_camvid):
    Image.fromarray(np.full((12, 16), 12, np.uint8), mode="L").save(tiny_camvid / "testannot" / "test_001.png")
    with pytest.raises(DatasetError, match=r"testannot/test_001.png holds class value 12; expected values 0..11"):
        CamVidLayout().load_split(tiny_camvid, "test", ignore_index=11)


def test_images_of_different_sizes_name_the_odd_one(tiny_camvid):
    for folder, array in (("train", np.zeros((10, 16, 3), np.uint8)), ("trainannot", np.zeros((10, 16), np.uint8))):
        Image.fromarray(array).save(tiny_camvid / folder / "train_002.png")
    with pytest.raises(
        DatasetError, match=r"image .*train/train_002.png is 16x10 \(WxH\) but .*train_000.png is 16x12"
    ):
        CamVidLayout().load_split(tiny_camvid, "train", ignore_index=11)
    resized, _, _ = CamVidLayout().load_split(tiny_camvid, "train", ignore_index=11, resolution=(12, 16))
    assert resized.shape == (3, 12, 16, 3)


def test_rgb_label_is_refused(tiny_camvid):
    Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(tiny_camvid / "valannot" / "val_000.png")
    with pytest.raises(DatasetError, match=r"valannot/val_000.png has mode RGB"):
        CamVidLayout().load_split(tiny_camvid, "val", ignore_index=11)


def test_root_resolution_order(tmp_path, monkeypatch, tiny_camvid):
    monkeypatch.setenv("CAMVID_ROOT", str(tiny_camvid))
    assert CamVidLayout().resolve_root(None, "data/camvid") == tiny_camvid
    assert CamVidLayout().resolve_root(str(tmp_path), "data/camvid") == tmp_path
    monkeypatch.delenv("CAMVID_ROOT")
    with pytest.raises(DatasetError, match=r"CamVid not found: .*nowhere \(from default\).*CAMVID_ROOT="):
        CamVidLayout().resolve_root(None, default=tmp_path / "nowhere")


def test_datamodule_serves_uint8_batches_and_shuffles_only_training(tiny_camvid):
    # shuffle_seed 0: epochs 0-2 of 3 images come in orders (not all equal; 1 in 36 seeds gives three equal)
    datamodule = SegmentationDataModule(root=str(tiny_camvid), batch_size=2, progress=False, shuffle_seed=0)
    datamodule.setup("fit")
    images, labels = next(iter(datamodule.val_dataloader()))
    assert images.shape == (2, 3, 12, 16) and images.dtype == torch_uint8()
    assert labels.shape == (2, 12, 16)
    # training batches come in a new order every epoch, evaluation batches always in file order
    train = datamodule.train_dataloader()
    orders = []
    for epoch in range(3):
        train.sampler.set_epoch(epoch)
        orders.append(list(train.sampler))
    assert all(sorted(order) == [0, 1, 2] for order in orders) and len({tuple(o) for o in orders}) > 1
    assert list(datamodule.val_dataloader().sampler) == [0, 1]


def torch_uint8():
    import torch

    return torch.uint8


def test_real_camvid_split_sizes(real_camvid_root):
    sizes = {split: len(list_pairs(real_camvid_root, split)) for split in ("train", "val", "test")}
    assert sizes == SPLIT_SIZES == {"train": 367, "val": 101, "test": 233}


def test_a_view_validates_on_another_split_and_shares_the_arrays(tiny_camvid):
    datamodule = SegmentationDataModule(root=str(tiny_camvid), batch_size=2, progress=False)
    datamodule.setup("fit")
    view = datamodule.validating_on("train")
    assert len(view.val_dataloader().dataset) == 3 and len(datamodule.val_dataloader().dataset) == 2
    assert view.split("train") is datamodule.split("train")
