"""Hydra/OmegaConf helpers shared by the entry points."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any

from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf


def wandb_offline() -> bool:
    """Log offline unless a W&B account is configured (API key in the environment or ~/.netrc)."""
    if os.environ.get("WANDB_API_KEY"):
        return False
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is None
    except (FileNotFoundError, netrc.NetrcParseError):
        return True


def constant(path: str) -> Any:
    """`${constant:segbench.data.camvid.CLASS_NAMES}`: a value from its single home in the package."""
    value = get_object(path)
    return list(value) if isinstance(value, tuple) else value


# The repository's config tree (the package is installed in editable mode from src/).
CONF_DIR = Path(__file__).resolve().parents[3] / "conf"


def compose_model(name: str, overrides: tuple[str, ...] = ()) -> Any:
    """The network `python src/train.py model=<name>` would build, outside a Hydra run (benchmarks, tests)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("train", overrides=[f"model={name}", *overrides])
    return instantiate(cfg.model)


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("wandb_offline"):
        OmegaConf.register_new_resolver("wandb_offline", wandb_offline)
    if not OmegaConf.has_resolver("constant"):
        OmegaConf.register_new_resolver("constant", constant)


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every `_target_` entry of a config group such as `callbacks` or `logger`."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if isinstance(node, DictConfig) and "_target_" in node]


register_resolvers()
