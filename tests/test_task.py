"""The LightningModule on a tiny CamVid-layout folder: what it logs and counts."""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_lightning as pl

from segbench.data.camvid import CLASS_NAMES
from segbench.data.datamodule import SegmentationDataModule


def trainer() -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def test_test_scores_cover_every_labelled_pixel_once(tiny_camvid, tiny_task):
    datamodule = SegmentationDataModule(root=str(tiny_camvid), batch_size=1, progress=False)
    task = tiny_task()
    scores = trainer().test(task, datamodule=datamodule, verbose=False)[0]
    assert {"test/G", "test/C", "test/mIoU", "test/BF", "test/accuracy/Sky", "test/IoU/Bicyclist"} <= set(scores)
    labels = datamodule.split("test").labels
    confusion = np.array(task.test_outcome.confusion)
    assert confusion.sum() == int((labels != 11).sum())
    # G is the confusion matrix's trace over its total (void ignored), computed over the whole split
    assert abs(scores["test/G"] - np.trace(confusion) / confusion.sum()) < 1e-6
    # each class's accuracy is its diagonal entry over its row
    road = CLASS_NAMES.index("Road")
    assert abs(scores["test/accuracy/Road"] - confusion[road, road] / confusion[road].sum()) < 1e-6


def test_validation_can_log_the_approximate_bf(tiny_camvid, tiny_task):
    datamodule = SegmentationDataModule(root=str(tiny_camvid), batch_size=2, progress=False)
    scores = trainer().validate(tiny_task(val_boundary="approximate"), datamodule=datamodule, verbose=False)[0]
    assert {"val/G", "val/BF_approx"} <= set(scores) and "val/BF" not in scores
    assert 0.0 <= scores["val/BF_approx"] <= 1.0


def test_poly_schedule_decays_the_rate_to_zero_over_the_run(tiny_camvid, tiny_task):
    datamodule = SegmentationDataModule(root=str(tiny_camvid), batch_size=1, progress=False)
    poly = {"_target_": "torch.optim.lr_scheduler.PolynomialLR", "power": 0.9, "interval": "step", "over_the_run": True}
    task = tiny_task(optimizer={"_target_": "torch.optim.SGD", "lr": 0.1}, scheduler=poly)
    rates = []

    class RecordRate(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            rates.append(trainer.optimizers[0].param_groups[0]["lr"])

    fit = pl.Trainer(accelerator="cpu", max_epochs=2, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, callbacks=[RecordRate()])  # fmt: skip
    fit.fit(task, datamodule=datamodule)
    # 3 training images at batch 1, 2 epochs: 6 steps; step k runs at 0.1 * (1 - k / 6) ** 0.9
    assert rates == pytest.approx([0.1 * (1 - k / 6) ** 0.9 for k in range(6)])
    assert fit.optimizers[0].param_groups[0]["lr"] == 0.0


def thin_column_layout(root):
    """8x8 images whose labels are Sky (0) with a 1-pixel Road (3) column at x = 2: nearest 8 -> 4 drops it."""
    from PIL import Image

    labels = np.zeros((8, 8), dtype=np.uint8)
    labels[:, 2] = 3
    for split in ("train", "val", "test"):
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir(parents=True)
        Image.fromarray(np.full((8, 8, 3), 100, dtype=np.uint8)).save(root / split / "a.png")
        Image.fromarray(labels, mode="L").save(root / f"{split}annot" / "a.png")
    return root


@pytest.mark.parametrize(("scoring", "road_pixels", "total"), [("native", 8, 64), ("input", 0, 16)])
def test_native_scoring_sees_a_thin_class_that_downsampled_labels_lose(
    tmp_path, tiny_task, scoring, road_pixels, total
):
    root = thin_column_layout(tmp_path / "camvid")
    datamodule = SegmentationDataModule(
        root=str(root), resolution=[4, 4], batch_size=1, progress=False, scoring_resolution=scoring
    )
    task = tiny_task()
    trainer().test(task, datamodule=datamodule, verbose=False)
    confusion = np.array(task.test_outcome.confusion)
    assert confusion.sum() == total and confusion[CLASS_NAMES.index("Road")].sum() == road_pixels
    assert datamodule.split("test").images.shape[1:3] == (4, 4)  # the network still sees the reduced input


def test_the_per_image_record_recomputes_the_split_scores_exactly(tiny_camvid, tiny_task, tmp_path):
    """Per-image confusions and boundary counts (per_image.npz) give back G/C/mIoU/BF of the split, and of any
    subset of its images the scores of testing that subset alone."""
    import torch

    from segbench.inference import predict_labels
    from segbench.metrics import segmentation_metrics
    from segbench.record.per_image import PerImageRecord

    datamodule = SegmentationDataModule(root=str(tiny_camvid), batch_size=2, progress=False)
    task = tiny_task()
    scores = trainer().test(task, datamodule=datamodule, verbose=False)[0]
    record = PerImageRecord.load(task.test_outcome.images.save(tmp_path / "per_image.npz"))
    assert list(record.names) == datamodule.split("test").names and len(record) == 2
    assert record.confusion.sum(axis=0).tolist() == task.test_outcome.confusion
    recomputed = record.scores()
    # the split's scores as torchmetrics and the BoundaryF1Score metric compute them from the predicted maps
    independent = segmentation_metrics(11, 11, prefix="", boundary="exact")
    split = datamodule.split("test")
    predicted = torch.from_numpy(predict_labels(task, split.images, split.labels.shape[1:])).long()
    independent.update(predicted, torch.from_numpy(split.labels).long())
    for measure, value in independent.compute().items():
        assert recomputed[measure] == pytest.approx(float(value), abs=1e-6) == scores[f"test/{measure}"]
    # image 1 alone: the record's subset scores equal a test of a split holding that image only
    alone = SegmentationDataModule(root=str(tiny_camvid), batch_size=1, progress=False)
    alone.prepare_data()
    split = alone.split("test")
    split.images, split.labels, split.names = split.images[1:2], split.labels[1:2], split.names[1:2]
    single = trainer().test(tiny_task(), datamodule=alone, verbose=False)[0]
    subset = record.scores(np.array([1]))
    for measure in ("G", "C", "mIoU", "BF"):
        assert subset[measure] == pytest.approx(single[f"test/{measure}"], abs=1e-6)


def test_the_model_summary_lists_the_network_with_its_flops_and_no_metrics(tiny_task):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from segbench.callbacks.network_summary import NetworkSummary

    task = tiny_task()
    task.example_input_array = torch.zeros(1, 3, 8, 8)
    summary = NetworkSummary(max_depth=1)._summary(trainer(), task)
    assert summary.layer_names == ["net", "criterion"]
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        task.net.eval()(task.example_input_array)
    assert summary.total_flops == counter.get_total_flops() > 0  # the network's own, one image at the input size
