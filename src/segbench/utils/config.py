"""Hydra/OmegaConf helpers shared by the entry points."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
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


def _hydra_node(root: DictConfig | None) -> DictConfig | None:
    """Hydra's own config: the running job's, else the `hydra` node of a config composed with return_hydra_config
    (the compose API sets no HydraConfig, and `${hydra:...}` fails there)."""
    if HydraConfig.initialized():
        return HydraConfig.get()
    return root.get("hydra") if root is not None else None


def _choices(root: DictConfig | None) -> DictConfig | dict:
    hydra = _hydra_node(root)
    return hydra.runtime.choices if hydra is not None else {}


def sweep_group(task_name: str, output_dir: str | None = None, *, _root_: DictConfig | None = None) -> str:
    """`${sweep_group:${task_name},${paths.output_dir}}`: one W&B group per sweep, so that the dashboard compares
    a sweep's jobs only.

    `<task_name>/<sweep folder>` in a Hydra multirun — the sweep folder the job's run folder is in, so that a
    job resumed by a later sitting of the sweep (resume=true, which continues in the earlier folder) stays in
    its sweep's group; `<task_name>/sweep-<id>` under a W&B sweep's agent (each of its runs is a single Hydra
    run); `task_name` otherwise.
    """
    hydra = _hydra_node(_root_)
    if hydra is not None and hydra.mode == RunMode.MULTIRUN:
        return f"{task_name}/{Path(output_dir).parent.name if output_dir else Path(hydra.sweep.dir).name}"
    if sweep_id := os.environ.get("WANDB_SWEEP_ID"):
        return f"{task_name}/sweep-{sweep_id}"
    return task_name


def choice(group: str, default: Any = None, *, _root_: DictConfig | None = None) -> Any:
    """`${choice:model}`: the option of a config group this run uses; `default` when it is null or not a group here."""
    value = _choices(_root_).get(group)
    return default if value is None else value


def choice_tags(*groups: str, _root_: DictConfig | None = None) -> list[str]:
    """`${choice_tags:balancing,scale}`: ["balancing:natural", "scale:none"]; groups this config lacks are left out."""
    choices = _choices(_root_)
    return [f"{group}:{choices[group] or 'none'}" for group in groups if group in choices]


def choice_path(*groups: str, _root_: DictConfig | None = None) -> str | None:
    """`${choice_path:model,balancing}`: "segnet_basic/natural", from the groups that have an option here."""
    choices = _choices(_root_)
    return "/".join(str(choices[group]) for group in groups if choices.get(group) is not None) or None


def constant(path: str) -> Any:
    """`${constant:segbench.data.camvid.CLASS_NAMES}`: a value from its single home in the package."""
    value = get_object(path)
    return list(value) if isinstance(value, tuple) else value


# The repository's config tree (the package is installed in editable mode from src/).
CONF_DIR = Path(__file__).resolve().parents[3] / "conf"


def compose_model(name: str, overrides: tuple[str, ...] = ()) -> Any:
    """The network `python src/train.py model=<name>` would build, outside a Hydra run (benchmarks, tests)."""
    from hydra import compose, initialize_config_dir

    from segbench.models.config import build_network

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("train", overrides=[f"model={name}", *overrides])
    return build_network(cfg.model)


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("wandb_offline"):
        OmegaConf.register_new_resolver("wandb_offline", wandb_offline)
    if not OmegaConf.has_resolver("constant"):
        OmegaConf.register_new_resolver("constant", constant)
    for name, resolver in (
        ("sweep_group", sweep_group),
        ("choice", choice),
        ("choice_tags", choice_tags),
        ("choice_path", choice_path),
    ):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every `_target_` entry of a config group such as `callbacks` or `logger`."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if isinstance(node, DictConfig) and "_target_" in node]


register_resolvers()


def config_choices(cfg: DictConfig | None = None) -> dict[str, str | None]:
    """Which option of each config group made this run (model, dataset, balancing, ...); outside Hydra (a config
    composed by hand) the network's class names the model."""
    if HydraConfig.initialized():
        return {k: v for k, v in HydraConfig.get().runtime.choices.items() if not k.startswith("hydra/")}
    target = OmegaConf.select(cfg, "model._target_", default=None) if cfg is not None else None
    return {"model": str(target).rsplit(".", 1)[-1] if target else None}
