"""The whole network: `head(decoder(encoder(input_norm(x))))` (Sec. 3, Fig. 2), optionally refined at test time."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def mark_pretrained(layer: nn.Module) -> None:
    """Mark a layer whose weights came from a file (an ImageNet VGG16): He initialisation leaves it alone."""
    layer.initialised_from_file = True


def he_initialise(module: nn.Module) -> None:
    """He et al. initialisation of every conv (Sec. 3.2); transposed convs keep their bilinear init.

    Convs loaded from a pretrained file (`mark_pretrained`) keep those weights.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d) and not getattr(layer, "initialised_from_file", False):
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class Segmenter(nn.Module):
    """An encoder, a decoder and a classifier to K classes, after input normalisation.

    `input_norm` is the local contrast normalisation of Sec. 3.2 — the paper's release applies
    `LocalResponseNorm(5, 1e-4, 0.75, 1)` to the 0-255 RGB input — or None to skip it.

    `head` builds the classifier from (decoder.out_channels, num_classes); the default is a 1x1 conv
    (the soft-max classifier of Sec. 3). Networks whose decoder already scores K classes (FCN-8s,
    DeepLab-LargeFOV, Sec. 4) take `torch.nn.Identity`.

    `refine`, if given, maps (scores, input image) to refined scores of the same shape: a test-time
    post-processing such as the dense CRF of DeepLab-LargeFOV-denseCRF (Sec. 4). It runs only in
    inference, when no module of the network is in training mode: not in training, and not in the
    batch-norm statistics pass (BN layers in training mode inside an evaluating network), whose
    statistics it could not change.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        num_classes: int,
        input_norm: nn.Module | None = None,
        head: Callable[..., nn.Module] | None = None,
        refine: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.input_norm = input_norm if input_norm is not None else nn.Identity()
        self.encoder = encoder
        self.decoder = decoder
        if head is None:
            self.head = nn.Conv2d(decoder.out_channels, num_classes, kernel_size=1)
        else:
            self.head = head(decoder.out_channels, num_classes)
            if isinstance(self.head, nn.Identity) and decoder.out_channels != num_classes:
                raise ValueError(
                    f"an identity head needs a decoder of {num_classes} channels, not {decoder.out_channels}"
                )
        self.refine = refine
        he_initialise(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.head(self.decoder(self.encoder(self.input_norm(x))))
        if self.refine is not None and not any(module.training for module in self.modules()):
            scores = self.refine(scores, x)
        return scores

    def kept_from_encoder(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Tensors this network stores from encoder to decoder at the first encoder level (Table 1)."""
        return self.decoder.kept_from_encoder(self.encoder(self.input_norm(x)), depth_index=0)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
