"""A model config is the network to build plus a `meta:` block about it, which instantiation never sees.

    meta:
      paper_name: SegNet-Basic    # where the paper's tables have it (absent: the paper columns show "—")
      params: 1416075             # exact trainable parameters at the data set's K, pinned beside the config
      conformance: full           # which checks `make conformance` runs in CI: full, or cheap (VGG16 sizes)

Every place that builds or stores a network from `cfg.model` goes through here, so a user's own config
needs nothing but its YAML file.
"""

from __future__ import annotations

from typing import Any, Literal

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict
from torch import nn

META_KEY = "meta"


class ModelMeta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    paper_name: str | None = None
    params: int | None = None
    conformance: Literal["full", "cheap"] = "full"


def network_config(model: DictConfig | dict[str, Any]) -> DictConfig:
    """The model config resolved (in its run's config, where `${dataset.num_classes}` has a value), without meta."""
    container = OmegaConf.to_container(model, resolve=True) if isinstance(model, DictConfig) else dict(model)
    container.pop(META_KEY, None)
    return OmegaConf.create(container)


def build_network(model: DictConfig | dict[str, Any]) -> nn.Module:
    # Built under its key, so that an error names the node as the user writes it (`model.encoder`).
    return instantiate(OmegaConf.create({"model": network_config(model)}))["model"]


def network_yaml(model: DictConfig | dict[str, Any]) -> str:
    """The network's identity as stored in checkpoints and precision caches: resolved YAML without meta."""
    return OmegaConf.to_yaml(network_config(model))


def model_meta(model: DictConfig | dict[str, Any] | None) -> ModelMeta:
    meta = model.get(META_KEY) if model is not None else None
    if isinstance(meta, DictConfig):
        meta = OmegaConf.to_container(meta, resolve=True)
    return ModelMeta.model_validate(meta or {})
