"""Reports read what real runs leave: Lightning CSVLogger files and results.json."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import pytorch_lightning as pl
from conftest import markdown_rows, recorded
from pytorch_lightning.loggers import CSVLogger

from segbench.data.datamodule import SegmentationDataModule
from segbench.reporting.curves import read_curve, write_curves
from segbench.reporting.grid_report import runs_section
from segbench.reporting.grid_runs import find_runs


def fit(task, datamodule, run_dir: Path, epochs: int, ckpt_path: str | None = None) -> pl.Trainer:
    """A short real training with the CSV logger train.py's `logger=csv` uses (run_dir/csv/version_N)."""
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        logger=CSVLogger(run_dir, name="csv"),
        log_every_n_steps=1,
        default_root_dir=run_dir,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path)
    return trainer


def logged_values(run_dir: Path, version: int, metric: str) -> list[tuple[int, int, float]]:
    with (run_dir / "csv" / f"version_{version}" / "metrics.csv").open() as handle:
        return [(int(r["epoch"]), int(r["step"]), float(r[metric])) for r in csv.DictReader(handle) if r.get(metric)]


@pytest.fixture
def datamodule(tiny_camvid) -> SegmentationDataModule:
    return SegmentationDataModule(root=str(tiny_camvid), batch_size=1, progress=False)


def test_curve_of_a_real_run_is_its_validations_during_training(tmp_path, datamodule, tiny_task):
    run = tmp_path / "run"
    trainer = fit(tiny_task(), datamodule, run, epochs=3)
    # Scores of the final weights logged after fitting, as train.py's selected/* rows: not a curve point.
    trainer.validate(trainer.lightning_module, datamodule=datamodule, verbose=False)
    logged = logged_values(run, 0, "val/G")
    assert len(logged) == 4  # three evaluations during training, one after
    assert read_curve(run, "val/G") == logged[:3]
    assert [(epoch, step) for epoch, step, _ in logged[:3]] == [(0, 2), (1, 5), (2, 8)]  # 3 training images


def test_a_resumed_run_reads_as_one_curve_and_the_later_log_wins(tmp_path, datamodule, tiny_task):
    run = tmp_path / "run"
    first = fit(tiny_task(), datamodule, run, epochs=2)
    checkpoint = run / "epoch1.ckpt"
    first.save_checkpoint(checkpoint)
    fit(tiny_task(), datamodule, run, epochs=3, ckpt_path=str(checkpoint))  # writes csv/version_1
    before, after = logged_values(run, 0, "val/G"), logged_values(run, 1, "val/G")
    assert [step for _, step, _ in after] == [8]
    assert read_curve(run, "val/G") == before + after


def test_curves_table_and_plot(tmp_path, datamodule, tiny_task):
    first, second = tmp_path / "a", tmp_path / "b"
    fit(tiny_task(), datamodule, first, epochs=3)
    fit(tiny_task(optimizer={"_target_": "torch.optim.SGD", "lr": 0.1}), datamodule, second, epochs=2)
    curves = write_curves({"off": first, "on": second}, "val/G", tmp_path / "out" / "bn", command="cmd")
    text = (tmp_path / "out" / "bn.md").read_text()
    assert "Written by `cmd`" in text
    off = [value for *_, value in curves["off"]]
    drop = max(a - b for a, b in zip(off, off[1:]))
    assert (
        f"- off: best {100 * max(off):.2f}, last {100 * off[-1]:.2f}, "
        f"largest drop between consecutive evaluations {100 * max(drop, 0):.2f} points"
    ) in text
    # the second run has no third evaluation: its cell is empty
    assert markdown_rows(text, "3") == [["3", f"{100 * off[2]:.2f}", ""]]
    assert (tmp_path / "out" / "bn.png").stat().st_size > 1000


def test_runs_section_recreates_each_run_from_its_saved_overrides(tmp_path):
    run = tmp_path / "multirun" / "0"
    run.mkdir(parents=True)
    results = {
        "choices": {"model": "segnet_basic", "balancing": "median_frequency"},
        "epochs_trained": 3,
        "global_step": 90,
        "fit_seconds": 150.0,
        "test": {"test/G": 0.8, "test/C": 0.5, "test/mIoU": 0.4, "test/BF": 0.3},
        "train": {"train/G": 0.9, "train/C": 0.6, "train/mIoU": 0.5},
    }
    (run / "results.json").write_text(json.dumps(recorded(results)))
    (run / ".hydra").mkdir()
    (run / ".hydra" / "overrides.yaml").write_text(
        "- model=segnet_basic\n- dataset.resolution=[180,240]\n- ckpt_path=/x/last.ckpt\n- hydra.run.dir=/x\n"
    )
    # A job of a grid continued elsewhere: where the grid looked for finished jobs is not a resumed segment.
    fresh = tmp_path / "multirun" / "1"
    fresh.mkdir()
    (fresh / "results.json").write_text(json.dumps(recorded(results)))
    (fresh / ".hydra").mkdir()
    (fresh / ".hydra" / "overrides.yaml").write_text("- model=segnet_basic\n- finished_runs=[docs/results/x/runs]\n")
    runs = find_runs([tmp_path / "multirun"])
    lines = runs_section(runs, shown=runs)
    assert lines[-2:] == [
        f"- `{run}`: `python src/train.py model=segnet_basic 'dataset.resolution=[180,240]' "
        "(trained in resumed segments)`",
        f"- `{fresh}`: `python src/train.py model=segnet_basic`",
    ]
    assert markdown_rows("\n".join(lines), str(run)) == [
        [str(run), "segnet_basic", "median_frequency", "complete", "3", "90", "2 min", "yes"]
    ]
