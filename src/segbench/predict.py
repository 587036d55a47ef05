"""predict.py: label maps and colour overlays for any images, from a checkpoint or the shipped weights."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from PIL import Image, UnidentifiedImageError
from rich.progress import track

from segbench.data.camvid import COLOURS
from segbench.errors import SegbenchError
from segbench.inference import logits_at, save_label_map
from segbench.models.mc_dropout import mc_softmax, predictive_entropy
from segbench.pretrained import Predictor, load_predictor
from segbench.utils.hydra_callbacks import write_done_file

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
RESIZE_CHOICES = ("training", "input")


@dataclass
class Prediction:
    labels: np.ndarray  # class index per pixel, uint8 H x W (the image's size)
    milliseconds: float  # the network's time (all samples)
    uncertainty: np.ndarray | None = None  # normalised predictive entropy, float H x W in 0..1 (mc_samples only)


@torch.no_grad()
def predict_image(predictor: Predictor, image: np.ndarray, resize: str = "training", mc_samples: int = 0) -> Prediction:
    """Class indices at the image's own size for one RGB uint8 image (H x W x 3).

    resize="training": the network sees the image at the size it was trained at and its logits are upsampled
    bilinearly to the image's size, as its scores on the native labels were computed (Sec. 3.3 scoring).
    mc_samples > 0: the mean of that many Monte Carlo dropout samples, and its predictive entropy
    (Bayesian SegNet; `segbench.models.mc_dropout`).
    """
    batch = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float()
    size = tuple(image.shape[:2])
    if resize == "training" and predictor.input_resolution and tuple(predictor.input_resolution) != size:
        batch = F.interpolate(batch, size=predictor.input_resolution, mode="bilinear", align_corners=False)
    start = time.perf_counter()
    if mc_samples:
        with predictor.compute_path.autocast():
            probabilities = mc_softmax(predictor.net, batch, mc_samples, size=size)
        elapsed = 1000 * (time.perf_counter() - start)
        labels = probabilities.argmax(dim=1)[0].to(torch.uint8).numpy()
        return Prediction(labels, elapsed, predictive_entropy(probabilities)[0].numpy())
    logits = predictor.logits(batch)
    elapsed = 1000 * (time.perf_counter() - start)
    return Prediction(logits_at(logits, size).argmax(dim=1)[0].to(torch.uint8).numpy(), elapsed)


def uncertainty_image(uncertainty: np.ndarray) -> np.ndarray:
    """Normalised entropy (0..1) as 8-bit grey: black certain, white uniform over the classes."""
    return np.round(255 * np.clip(uncertainty, 0, 1)).astype(np.uint8)


def colour_overlay(image: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The image with each pixel's class colour (CamVid's palette) blended over it, uint8 RGB."""
    colours = np.asarray(COLOURS, dtype=np.float32)[labels]
    return np.round((1 - alpha) * image.astype(np.float32) + alpha * colours).astype(np.uint8)


def find_images(inputs: Path) -> list[Path]:
    """`inputs` itself, or the files with an image suffix in the folder (sorted); a SegbenchError if none."""
    if inputs.is_file():
        return [inputs]
    if not inputs.is_dir():
        raise SegbenchError(f"inputs={inputs} is neither an image nor a folder")
    images = sorted(p for p in inputs.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise SegbenchError(f"inputs={inputs} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return images


def read_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise SegbenchError(f"{path}: not a readable image ({type(error).__name__}: {error})") from None


def predict(cfg: DictConfig) -> list[Path]:
    """Write `<stem>_labels.png` and `<stem>_overlay.png` (and `<stem>_uncertainty.png` with mc_samples) for
    every image of `inputs`; returns the label files.

    An image that cannot be read is reported in one line and skipped; the others are still written, and the
    exit status is 1 if any was skipped.
    """
    if cfg.resize not in RESIZE_CHOICES:
        raise SegbenchError(f"resize={cfg.resize}: one of {', '.join(RESIZE_CHOICES)}")
    images = find_images(Path(cfg.inputs))
    predictor = load_predictor(cfg.ckpt_path)
    first_size = None if cfg.resize == "training" else read_rgb(images[0]).shape[:2]
    predictor.compute_in(str(cfg.precision), first_size)
    out = Path(cfg.out or cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    log.info("%s: %d image(s) -> %s", predictor.source, len(images), out)
    written, failed = [], 0
    for path in track(images, description="predicting", disable=not cfg.progress or len(images) == 1):
        try:
            image = read_rgb(path)
        except SegbenchError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        prediction = predict_image(predictor, image, cfg.resize, cfg.mc_samples)
        save_label_map(out / f"{path.stem}_labels.png", prediction.labels)
        overlay = colour_overlay(image, prediction.labels, cfg.overlay_alpha)
        Image.fromarray(overlay).save(out / f"{path.stem}_overlay.png")
        if prediction.uncertainty is not None:
            Image.fromarray(uncertainty_image(prediction.uncertainty)).save(out / f"{path.stem}_uncertainty.png")
        log.info("%s: %.0f ms", path.name, prediction.milliseconds)
        written.append(out / f"{path.stem}_labels.png")
    print(f"{len(written)} image(s) segmented into {out}" + (f"; {failed} skipped" if failed else ""), flush=True)
    if failed:
        raise SystemExit(1)
    # A sweep's closing check counts the job done by this file (`SweepFailures`).
    record = {"network": predictor.source, "inputs": str(cfg.inputs), "out": str(out), "resize": cfg.resize}
    write_done_file(cfg, "predict.json", record | {"labels": [path.name for path in written]})
    return written
