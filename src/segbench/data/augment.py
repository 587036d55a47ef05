"""Training-time augmentation of device batches (beyond the paper: Sec. 3.2 trains without any).

367 training images are few; flips and random rescaling are the usual remedy. Off by default
(`augment=none`, the paper preset); `augment=flip_scale_crop` turns it on.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class FlipScaleCrop(nn.Module):
    """Each image flipped left-right with probability `flip`; the batch rescaled by a factor drawn uniformly
    from `scale`, then cropped (when larger) or padded (when smaller: black image, void labels) back to its
    size at a random position. Draws from torch's global RNG, whose state checkpoints keep (exact resume).
    """

    def __init__(self, ignore_index: int, flip: float = 0.5, scale: tuple[float, float] = (0.75, 1.25)) -> None:
        super().__init__()
        self.ignore_index, self.flip, self.scale = ignore_index, flip, tuple(scale)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flipped = (torch.rand(len(images), device=images.device) < self.flip).view(-1, 1, 1)
        images = torch.where(flipped[:, None], images.flip(-1), images)
        labels = torch.where(flipped, labels.flip(-1), labels)
        low, high = self.scale
        factor = low + (high - low) * torch.rand(()).item()
        height, width = labels.shape[-2:]
        size = (max(1, round(height * factor)), max(1, round(width * factor)))
        if size != (height, width):
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
            labels = F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()
        # one position for both: the image and its labels are cropped (or padded) alike
        offsets = (self._offset(size[0], height), self._offset(size[1], width))
        return (
            self._crop_or_pad(images, 0.0, height, width, offsets),
            self._crop_or_pad(labels, self.ignore_index, height, width, offsets),
        )

    @staticmethod
    def _offset(have: int, want: int) -> int:
        return int(torch.randint(abs(have - want) + 1, ()).item())

    @staticmethod
    def _crop_or_pad(
        tensor: torch.Tensor, fill: float, height: int, width: int, offsets: tuple[int, int]
    ) -> torch.Tensor:
        have_h, have_w = tensor.shape[-2:]
        top, left = offsets
        if have_h >= height:
            tensor = tensor[..., top : top + height, :]
        if have_w >= width:
            tensor = tensor[..., left : left + width]
        pad_h, pad_w = max(0, height - have_h), max(0, width - have_w)
        if pad_h or pad_w:
            tensor = F.pad(tensor, (left if pad_w else 0, pad_w - (left if pad_w else 0),
                                    top if pad_h else 0, pad_h - (top if pad_h else 0)), value=fill)  # fmt: skip
        return tensor
