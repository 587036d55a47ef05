"""The config tree composes for every documented choice."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from pytorch_lightning.callbacks import ModelCheckpoint, RichProgressBar, Timer
from pytorch_lightning.loggers import CSVLogger

from segbench import conformance
from segbench.callbacks import BatchNormStatistics, GracefulInterrupt, PredictionImages, RngStateCheckpoint
from segbench.callbacks.network_summary import NetworkSummary
from segbench.callbacks.wandb_panels import QuietWandbLogger
from segbench.paper import TABLE1, table1_row
from segbench.study import variants, wandb_sweep
from segbench.utils import instantiate_group  # also registers the config resolvers

CONF = Path(__file__).resolve().parents[1] / "conf"


def compose_train(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


def test_defaults_are_the_paper_setting():
    cfg = compose_train()
    assert cfg.hydra.runtime.choices["model"] == "segnet_basic"
    assert cfg.hydra.runtime.choices["balancing"] == "median_frequency"
    assert cfg.dataset.batch_size == 12 and cfg.dataset.resolution is None
    # Sec. 3.2's fixed rate 0.1, momentum 0.9, and the released solver's weight decay
    assert (cfg.task.optimizer.lr, cfg.task.optimizer.momentum, cfg.task.optimizer.weight_decay) == (0.1, 0.9, 5e-4)
    assert not cfg.task.scheduler and not cfg.task.augment  # fixed rate, no augmentation: the paper preset
    assert cfg.trainer.precision == "32-true"
    assert cfg.callbacks.model_checkpoint.monitor == "val/G" and cfg.callbacks.model_checkpoint.mode == "max"
    assert cfg.callbacks.bn_statistics is not None


def test_paper_scale_validates_every_1000_iterations():
    cfg = compose_train("scale=paper")
    assert cfg.trainer.val_check_interval == 1000 and cfg.trainer.check_val_every_n_epoch is None
    assert cfg.trainer.max_steps == 40000 and cfg.dataset.resolution is None and cfg.trainer.precision == "32-true"


def test_cpu_scale_is_reduced_in_the_measured_precision_with_a_decaying_rate():
    cfg = compose_train("experiment=table1", "scale=cpu")
    assert list(cfg.dataset.resolution) == [120, 160] and cfg.trainer.precision == "auto"
    assert cfg.task.channels_last == "auto"
    assert cfg.trainer.max_epochs == 30 and cfg.task.scheduler._target_.endswith("PolynomialLR")
    assert cfg.hydra.runtime.choices["dataset"] == "camvid" and cfg.task.optimizer.lr == 0.1


def test_quickstart_is_synthetic_in_the_measured_precision():
    cfg = compose_train("experiment=quickstart")
    assert cfg.task_name == "quickstart" and cfg.trainer.precision == "auto"
    assert cfg.hydra.runtime.choices["dataset"] == "synthetic"


def test_table1_grid_sweeps_every_variant_and_both_balancings():
    cfg = compose_train("experiment=table1")
    assert cfg.hydra.sweeper.params.balancing == "median_frequency,natural"
    # The grid's variants are its own list; the paper's eight are among them.
    paper_names = {conformance.Variant(name).meta.paper_name for name in variants("table1")}
    assert all(table1_row(name) is not None for name in paper_names)
    assert len(paper_names) == len(variants("table1")) == len(TABLE1)  # each of Table 1's rows, once
    for file in (CONF.parent / "sweeps").glob("*.yaml"):  # each written from its experiment's grid
        assert file.read_text() == wandb_sweep(file.stem), f"sweeps/{file.name} is stale: make sweeps"
    sweep_file = (CONF.parent / "sweeps" / "table1.yaml").read_text()
    wandb_sweep_config = yaml.safe_load(sweep_file)
    assert wandb_sweep_config["parameters"]["model"]["values"] == variants("table1")
    # A W&B agent's job is the Hydra grid's job: the same recipe (clipping included) for one grid point.
    fixed = [arg for arg in wandb_sweep_config["command"] if not arg.startswith("${")]
    assert fixed == ["experiment=table1"]
    agent_job = compose_train(*fixed, "model=fcn_basic", "balancing=natural")
    assert agent_job.trainer.gradient_clip_val == 1.0 and agent_job.resume and agent_job.task_name == "table1"


LOGGER_TYPES = {"wandb": [QuietWandbLogger], "csv": [CSVLogger], "none": []}
TRAINER_SETTINGS = {  # (accelerator, precision, strategy) each trainer option asks for
    "default": ("auto", "32-true", "auto"),
    "cpu_fast": ("auto", "auto", "auto"),
    "gpu": ("gpu", "auto", "auto"),
    "ddp": ("gpu", "auto", "ddp"),
    "ddp_cpu": ("cpu", "32-true", "ddp"),
}


@pytest.mark.parametrize("trainer", sorted(TRAINER_SETTINGS))
@pytest.mark.parametrize("logger", sorted(LOGGER_TYPES))
def test_trainer_logger_and_callbacks_instantiate(trainer, logger, tmp_path):
    cfg = compose_train(f"trainer={trainer}", f"logger={logger}", f"paths.output_dir={tmp_path}")
    settings = (cfg.trainer.accelerator, cfg.trainer.precision, cfg.trainer.get("strategy", "auto"))
    assert settings == TRAINER_SETTINGS[trainer]
    loggers = instantiate_group(cfg.logger)
    assert [type(x) for x in loggers] == LOGGER_TYPES[logger]
    callbacks = instantiate_group(cfg.callbacks)
    expected = [ModelCheckpoint] * 3 + [
        RngStateCheckpoint,
        GracefulInterrupt,
        RichProgressBar,
        NetworkSummary,
        BatchNormStatistics,
        Timer,
        PredictionImages,
    ]
    assert [type(c) for c in callbacks] == expected
    best, last, every_n_steps = callbacks[:3]
    assert (best.monitor, best.mode, best.dirpath) == ("val/G", "max", str(tmp_path / "checkpoints"))
    assert (last.monitor, last.filename, last.dirpath) == (None, "last", str(tmp_path / "checkpoints"))
    # a resume point every 50 steps as well as after every evaluation, in the same last.ckpt
    assert (every_n_steps.filename, every_n_steps._every_n_train_steps) == ("last", 50)
    # Scoring the selected checkpoint neither saves checkpoints nor recomputes BN statistics.
    assert [type(c) for c in instantiate_group(cfg.scoring_callbacks)] == [RichProgressBar]
    if TRAINER_SETTINGS[trainer][0] == "auto":  # the GPU options cannot build a Trainer on a CPU machine
        # `auto` is resolved before the Trainer is built (segbench.precision, tests/test_precision.py)
        concrete = "32-true" if cfg.trainer.precision == "auto" else cfg.trainer.precision
        built = instantiate(cfg.trainer, precision=concrete, callbacks=callbacks, logger=loggers or False)
        assert built.loggers == loggers and built.checkpoint_callbacks == [best, last, every_n_steps]


def test_a_grid_globs_a_groups_top_level_configs_as_hydra_does(tmp_path):
    """Hydra's sweeper `glob(...)` matches a group's top-level option names: a subfolder's configs are not options."""
    for name in ("model/segnet_basic", "model/segnet_tiny", "model/fcn_basic", "model/zoo/segnet_zoo"):
        (tmp_path / f"{name}.yaml").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"{name}.yaml").write_text("{}\n")
    everything = ["fcn_basic", "segnet_basic", "segnet_tiny"]
    (tmp_path / "experiment").mkdir()
    for pattern, expected in (("segnet*", ["segnet_basic", "segnet_tiny"]), ("zoo/*", []), ("*", everything)):
        sweep = f"hydra:\n  sweeper:\n    params:\n      model: glob({pattern})\n"
        (tmp_path / "experiment" / "grid.yaml").write_text(sweep)
        assert variants("grid", tmp_path) == expected
