"""The config tree composes for every documented choice."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir

import segbench.utils  # noqa: F401  (registers the config resolvers)
from segbench.paper import TABLE1

CONF = Path(__file__).resolve().parents[1] / "conf"


def compose_train(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


def test_defaults_are_the_paper_setting():
    cfg = compose_train()
    assert cfg.hydra.runtime.choices["model"] == "segnet_basic"
    assert cfg.hydra.runtime.choices["balancing"] == "median_frequency"
    assert cfg.dataset.batch_size == 12 and cfg.dataset.resolution is None
    assert (cfg.task.optimizer.lr, cfg.task.optimizer.momentum) == (0.1, 0.9)
    assert cfg.trainer.precision == "32-true"
    assert cfg.callbacks.model_checkpoint.monitor == "val/G" and cfg.callbacks.model_checkpoint.mode == "max"
    assert cfg.callbacks.bn_statistics is not None


def test_paper_protocol_validates_every_1000_iterations():
    cfg = compose_train("experiment=paper_protocol")
    assert cfg.trainer.val_check_interval == 1000 and cfg.trainer.check_val_every_n_epoch is None


def test_quickstart_is_synthetic_bf16():
    cfg = compose_train("experiment=quickstart")
    assert cfg.task_name == "quickstart" and cfg.trainer.precision == "bf16-mixed"
    assert cfg.hydra.runtime.choices["dataset"] == "synthetic"


def test_table1_grid_sweeps_every_variant_and_both_balancings():
    cfg = compose_train("experiment=table1")
    assert cfg.hydra.sweeper.params == {"model": "glob(*)", "balancing": "median_frequency,natural"}
    wandb_sweep = yaml.safe_load((CONF.parent / "sweeps" / "table1.yaml").read_text())
    assert sorted(wandb_sweep["parameters"]["model"]["values"]) == sorted(TABLE1)


@pytest.mark.parametrize("trainer", ["default", "cpu_fast", "gpu", "ddp"])
@pytest.mark.parametrize("logger", ["wandb", "csv", "none"])
def test_trainer_and_logger_options_compose(trainer, logger):
    cfg = compose_train(f"trainer={trainer}", f"logger={logger}")
    assert cfg.trainer._target_ == "pytorch_lightning.Trainer"
