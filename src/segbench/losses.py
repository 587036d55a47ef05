"""The training loss (Sec. 3.2): class-weighted per-pixel cross-entropy, void ignored."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from segbench.data.camvid import VOID_INDEX


class PixelCrossEntropy(nn.Module):
    """Weighted cross-entropy summed over pixels, divided by the number of non-void pixels.

    This is the normalisation of the paper's Caffe release. PyTorch's `reduction="mean"` divides
    by the sum of the weights of the pixels instead, which with median-frequency weights changes
    the effective learning rate at the paper's lr of 0.1.
    """

    def __init__(self, weight: torch.Tensor | None = None, ignore_index: int = VOID_INDEX) -> None:
        super().__init__()
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight, dtype=torch.float32))
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = F.cross_entropy(
            logits.float(), target, weight=self.weight, ignore_index=self.ignore_index, reduction="sum"
        )
        return total / (target != self.ignore_index).sum().clamp_min(1)
