"""Monte Carlo dropout at test time (Bayesian SegNet; Kendall, Badrinarayanan and Cipolla, beyond the paper).

A network trained with dropout is sampled N times with its dropout still dropping (batch norm keeps its
running statistics): the mean of the N softmax outputs is the prediction, and how much the samples
disagree — the predictive entropy of the mean — is the per-pixel model uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from segbench.inference import logits_at

DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def dropout_layers(net: nn.Module) -> list[nn.Module]:
    return [module for module in net.modules() if isinstance(module, DROPOUT_TYPES) and module.p > 0]


@contextmanager
def dropout_active(net: nn.Module) -> Iterator[None]:
    """Dropout layers in training mode (sampling), everything else as it was (BN in eval mode)."""
    layers = dropout_layers(net)
    modes = [layer.training for layer in layers]
    for layer in layers:
        layer.train()
    try:
        yield
    finally:
        for layer, mode in zip(layers, modes):
            layer.train(mode)


@torch.no_grad()
def mc_softmax(net: nn.Module, images: torch.Tensor, samples: int, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Mean of `samples` softmax outputs with dropout active (N, K, H, W), at `size` if given (logits upsampled
    bilinearly before the softmax, as scoring on the native labels does). A network without dropout gives its
    deterministic softmax, whatever `samples` is."""
    if samples < 1:
        raise ValueError(f"mc_samples must be at least 1, not {samples}")
    total = None
    with dropout_active(net):
        for _ in range(samples if dropout_layers(net) else 1):
            probabilities = logits_at(net(images).float(), size).softmax(dim=1)
            total = probabilities if total is None else total + probabilities
    return total / (samples if dropout_layers(net) else 1)


def predictive_entropy(probabilities: torch.Tensor) -> torch.Tensor:
    """Entropy of the mean class distribution per pixel (N, H, W), divided by log K: 0 certain, 1 uniform."""
    entropy = -(probabilities * probabilities.clamp_min(1e-12).log()).sum(dim=1)
    return entropy / math.log(probabilities.shape[1])
