"""Trained networks as weights-only files: the one shipped in the package, and any checkpoint, for inference.

A weights file is `torch.save` of a plain dict — the network's state dict, its model config (YAML), the
input size it was trained at and its class names — so `torch.load(weights_only=True)` reads it and no
pickled object can run code. `segbench/pretrained/segnet_basic_camvid.pt` is SegNet-Basic trained on CamVid
by this project (the command and scores are in `segbench/pretrained/segnet_basic_camvid.md`, written by
`python -m segbench.pretrained ship`); predict.py and the demo use it when no checkpoint is given.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from segbench.checkpoints import SAFE_LOADING, load_task, read_checkpoint
from segbench.errors import SegbenchError
from segbench.utils import exit_on_user_error

SHIPPED_NAME = "segnet_basic_camvid"


@dataclass
class Predictor:
    """A network ready for inference, with what predicting needs to know about its training."""

    net: nn.Module
    input_resolution: tuple[int, int] | None  # [H, W] it was trained at; None: any size as given
    class_names: list[str]
    source: str  # the file it came from, for messages and the demo's model list


def shipped_weights() -> Path:
    return Path(str(resources.files("segbench") / "pretrained" / f"{SHIPPED_NAME}.pt"))


def load_weights(path: str | Path) -> Predictor:
    """A weights file written by `save_weights`."""
    path = Path(path)
    if not path.is_file():
        raise SegbenchError(f"{path} is not a file")
    try:
        saved = torch.load(path, map_location="cpu", **SAFE_LOADING)
        net = instantiate(OmegaConf.create(saved["model_config"]))
        net.load_state_dict(saved["state_dict"])
    except (KeyError, RuntimeError, OSError, ValueError) as error:
        raise SegbenchError(f"{path} is not a segbench weights file ({type(error).__name__}: {error})") from None
    resolution = saved.get("input_resolution")
    return Predictor(net.eval(), tuple(resolution) if resolution else None, list(saved["class_names"]), str(path))


def load_predictor(ckpt_path: str | Path | None) -> Predictor:
    """A Lightning checkpoint or a weights file (.pt) by path; the shipped weights when None."""
    if ckpt_path is None:
        return load_weights(shipped_weights())
    if Path(ckpt_path).suffix == ".pt":
        return load_weights(ckpt_path)
    task = load_task(ckpt_path)
    resolution = task.hparams.get("data_resolution")
    return Predictor(
        task.net.eval(),
        tuple(resolution) if resolution else None,
        list(task.hparams.get("class_names") or []),
        str(ckpt_path),
    )


def save_weights(ckpt_path: str | Path, out: str | Path) -> Path:
    """The checkpoint's network as a weights-only file (fp32 state dict, config, training size, class names)."""
    checkpoint = read_checkpoint(ckpt_path)
    hparams = checkpoint["hyper_parameters"]
    state = {
        k.removeprefix("net."): v.contiguous() for k, v in checkpoint["state_dict"].items() if k.startswith("net.")
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": state,
            "model_config": hparams["model_config"],
            "input_resolution": list(hparams.get("data_resolution") or []),
            "class_names": list(hparams.get("class_names") or []),
        },
        out,
    )
    return out


def model_card(run_dir: Path, weights: Path, command: str) -> str:
    """The shipped model's card: how it was trained and what it scores, from the run's results.json."""
    results = json.loads((run_dir / "results.json").read_text())
    overrides = OmegaConf.load(run_dir / ".hydra" / "overrides.yaml")
    train_command = "python src/train.py " + " ".join(str(o) for o in overrides)
    scores = " | ".join(f"{100 * results['test'][f'test/{m}']:.1f}" for m in ("G", "C", "mIoU", "BF"))
    height, width = results["input_resolution"]
    return f"""# {weights.name}: SegNet-Basic trained on CamVid by segbench

Written by `{command}` (do not edit by hand) from the run's results.json.

- Network: SegNet-Basic (Sec. 3.1, Table 1), {results["params"]:,} parameters, fp32 weights-only file
  (`torch.load(..., weights_only=True)`), {weights.stat().st_size / 2**20:.1f} MB.
- Trained with `{train_command}` on CamVid's 367 training images at {height}x{width},
  {results["global_step"]:,} iterations at batch 12; the checkpoint with the best validation G
  ({Path(results["best_checkpoint"]).stem}).
- Predicting: images are resized to {height}x{width} and the logits upsampled bilinearly to the image's own size,
  as its scores below were computed (on the native 360x480 labels).

| CamVid test (233 images) | G | C | mIoU | BF |
|---|---|---|---|---|
| this model | {scores} |
"""


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a run's selected checkpoint as the shipped weights")
    parser.add_argument("command", choices=["ship"])
    parser.add_argument("run_dir", type=Path, help="a finished training run (its results.json names the checkpoint)")
    parser.add_argument("--out", type=Path, default=shipped_weights())
    args = parser.parse_args(argv)
    results = json.loads((args.run_dir / "results.json").read_text())
    weights = save_weights(results["best_checkpoint"], args.out)
    card = model_card(args.run_dir, weights, f"python -m segbench.pretrained ship {args.run_dir}")
    weights.with_suffix(".md").write_text(card)
    print(weights)


if __name__ == "__main__":
    main()
