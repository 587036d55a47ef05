"""Reading checkpoints safely: tensors and plain containers only, one clear line for anything else."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from segbench.errors import SegbenchError, first_line
from segbench.models.config import build_network, network_config
from segbench.task import SegmentationTask

# Checkpoints hold tensors and plain containers only (configs are plain dicts, not Hydra partials),
# so they load with torch's weights-only unpickler: a crafted file cannot run code.
SAFE_LOADING = {"weights_only": True}


def read_checkpoint(path: str | Path, option: str = "ckpt_path") -> dict[str, Any]:
    """The checkpoint's contents, or a SegbenchError naming the file and what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise SegbenchError(f"{option}={path} is not a file; pass {option}=/path/to/run/checkpoints/<name>.ckpt")
    try:
        # Memory-mapped: callers read the config in it, and Lightning loads the tensors once more itself,
        # so an FCN checkpoint (1.6 GB with its momentum) is not read into memory twice.
        checkpoint = torch.load(path, map_location="cpu", mmap=True, **SAFE_LOADING)
    except pickle.UnpicklingError as error:
        # torch names the refused global in one of two wordings, depending on why it is refused.
        unsafe = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", str(error))
        if unsafe:
            raise SegbenchError(
                f"refusing {path}: loading it would call {unsafe.group(1)}, which can run arbitrary code "
                "(segbench checkpoints hold only tensors and plain containers)"
            ) from None
        raise SegbenchError(f"{path} is not a PyTorch checkpoint ({first_line(error)[:200]})") from None
    except Exception as error:  # torch.load raises many types for a file that is not a checkpoint
        raise SegbenchError(
            f"{path} is not a PyTorch checkpoint ({type(error).__name__}: {first_line(error)[:200]})"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise SegbenchError(f"{path} is not a Lightning checkpoint (no state_dict in it)")
    return checkpoint


def model_config_of(checkpoint: dict[str, Any], path: str | Path) -> str:
    model_config = checkpoint.get("hyper_parameters", {}).get("model_config")
    if model_config is None:
        raise SegbenchError(f"{path} holds no model_config: it was not written by segbench's train.py")
    return model_config


def load_task(ckpt_path: str | Path) -> SegmentationTask:
    """Rebuild the network from the config stored in a checkpoint, then load its weights."""
    checkpoint = read_checkpoint(ckpt_path)
    model_config = network_config(OmegaConf.create(model_config_of(checkpoint, ckpt_path)))
    if OmegaConf.select(model_config, "encoder.pretrained") is not None:
        # The checkpoint holds the trained weights: the ImageNet file it started from is not needed again.
        model_config.encoder.pretrained = None
    net = build_network(model_config)
    try:
        return SegmentationTask.load_from_checkpoint(ckpt_path, map_location="cpu", net=net, **SAFE_LOADING)
    except RuntimeError as error:  # weights that do not fit the network its own config builds
        raise SegbenchError(
            f"{ckpt_path}: its weights do not fit its model_config ({first_line(error)[:200]})"
        ) from None
