"""Label maps predicted by a trained network, saved as colour-coded PNGs (the qualitative panels of Fig. 4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from segbench.data.camvid import COLOURS


def logits_at(logits: torch.Tensor, size: Sequence[int] | None) -> torch.Tensor:
    """Logits at the label size `size` (None: as they are), upsampled bilinearly: how every score on the native
    labels is computed (Sec. 3.3), never the labels resized to the logits."""
    if size is None or tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)


@torch.no_grad()
def predict_labels(net: torch.nn.Module, images: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Class index per pixel (uint8, N x H x W) for uint8 images (N x H x W x 3), one image at a time.

    `size`: the label size to predict at (the native labels; logits upsampled bilinearly, as scoring does).
    """
    parameter = next(net.parameters())
    was_training = net.training
    net.eval()
    maps = []
    try:
        for image in images:
            batch = torch.from_numpy(image).permute(2, 0, 1)[None].to(parameter.device, torch.float32)
            maps.append(logits_at(net(batch), size).argmax(dim=1)[0].to(torch.uint8).cpu().numpy())
    finally:
        net.train(was_training)
    return np.stack(maps)


def save_label_map(path: Path, labels: np.ndarray, colours: Sequence[tuple[int, int, int]] = COLOURS) -> None:
    """A palette PNG: the pixel values are the class indices, shown in `colours` (CamVid's code by default)."""
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    palette = [channel for colour in colours for channel in colour]
    image.putpalette(palette + [0] * (768 - len(palette)))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def evenly_spaced(indices: Sequence[int], count: int) -> list[int]:
    """`count` indices spread over `indices` (the same ones every run: panels compare models on the same images)."""
    if count <= 0 or not indices:
        return []
    count = min(count, len(indices))
    return [indices[(2 * k + 1) * len(indices) // (2 * count)] for k in range(count)]
