"""The VGG16 encoder of SegNet, FCN, DeepLab-LargeFOV and DeconvNet (Sec. 3, Fig. 2; Sec. 4, Table 3).

Thirteen 3x3 convolutions in five blocks (64, 64 | 128, 128 | 256 x 3 | 512 x 3 | 512 x 3), each
followed by batch norm and ReLU (Sec. 4: "we added batch normalization layers after each
convolutional layer"), each block ending in a max-pool that keeps its indices. It hands the decoder
the same `EncoderLevel`s as SegNet-Basic's encoder, so every decoder part works on it unchanged.

An ImageNet start (Sec. 3: "we can therefore initialize the training process from weights trained
for classification") comes from a local file in torchvision's `vgg16` or `vgg16_bn` state-dict layout;
nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from segbench.errors import SegbenchError, first_line
from segbench.models.encoder import DEFAULT_INDICES, EncoderBlock, LevelEncoder
from segbench.models.segmenter import mark_pretrained

# VGG16's configuration "D" (Simonyan & Zisserman, ref. [1]): widths of the 13 convs, block by block.
VGG16_BLOCKS: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


class PretrainedWeightsError(SegbenchError, ValueError):
    """model.encoder.pretrained names a file that is missing or is not a VGG16 state dict of the right shape."""


def torchvision_vgg16_conv_indices(batch_norm: bool) -> list[int]:
    """Indices of the 13 convs in torchvision's `features` Sequential (`features.N.weight`).

    torchvision builds `features` as conv, [BN,] ReLU per layer and one MaxPool per block, so the conv
    indices are 0, 2, 5, 7, 10, ... in `vgg16` and 0, 3, 7, 10, 14, ... in `vgg16_bn` (its BN is at N + 1).
    """
    indices, index = [], 0
    for block in VGG16_BLOCKS:
        for _ in block:
            indices.append(index)
            index += 3 if batch_norm else 2
        index += 1  # the block's MaxPool2d
    return indices


class VGG16Encoder(LevelEncoder):
    """VGG16's 13 convolutional layers as an encoder of five levels (Sec. 3, Fig. 2).

    Args:
        in_channels: 3 (RGB).
        dilations: atrous rate of each block's convs. DeepLab-LargeFOV: conv5 at rate 2 (Sec. 4, ref. [3]).
        pool_kernel_size: 2 (SegNet's 2x2 windows, Caffe's ceil mode), or 3 for DeepLab's padded 3x3 windows.
        pool_strides: each block's pooling stride. DeepLab-LargeFOV: 2, 2, 2, 1, 1 — output stride 8,
            the 45x60 prediction of Sec. 4 at 360x480. Sec. 4 "changed the max pooling 3 stride to 1";
            we read "max pooling 3" as DeepLab's 3x3 max-pooling, at stride 1 after conv4 and conv5 as in
            DeepLab-LargeFOV itself [3], where atrous conv5 (rate 2) makes up for pool4's stride 1 and
            fc6 (rate 12) gives the large field of view. (A stride-1 pool3 and a stride-2 pool4 would also
            give 45x60, but would run conv4 at 90x120 and leave nothing for an atrous conv5 to make up.)
        dropout: rate of the dropout after the pooling of the blocks in `dropout_after` (Sec. 4).
        dropout_after: block indices (0-4) followed by dropout; SegNet: 2, 3, 4 (the central encoders).
        pretrained: a local torchvision `vgg16` / `vgg16_bn` state dict to start from, or None for He
            initialisation. Its conv weights (and, from `vgg16_bn`, the BN parameters and statistics)
            are copied; `classifier.*` is not used.
        indices: how the pooling indices are held in training and in eval mode (`segbench.models.encoder`);
            packed 2-bit codes need 2x2 windows, so DeepLab's 3x3 windows keep none.
    """

    def __init__(
        self,
        in_channels: int = 3,
        dilations: Sequence[int] = (1, 1, 1, 1, 1),
        pool_kernel_size: int = 2,
        pool_strides: Sequence[int] = (2, 2, 2, 2, 2),
        dropout: float = 0.0,
        dropout_after: Sequence[int] = (),
        pretrained: str | Path | None = None,
        indices: str | Mapping[str, str] = DEFAULT_INDICES,
    ) -> None:
        super().__init__()
        if len(dilations) != len(VGG16_BLOCKS) or len(pool_strides) != len(VGG16_BLOCKS):
            raise ValueError(f"dilations and pool_strides need one value per VGG16 block ({len(VGG16_BLOCKS)})")
        self.out_channels = [block[-1] for block in VGG16_BLOCKS]
        self.blocks = nn.ModuleList()
        for index, widths in enumerate(VGG16_BLOCKS):
            self.blocks.append(
                EncoderBlock(
                    in_channels,
                    widths,
                    kernel_size=3,
                    dilation=dilations[index],
                    pool_kernel_size=pool_kernel_size,
                    pool_stride=pool_strides[index],
                    dropout=dropout if index in dropout_after else 0.0,
                    indices=indices,
                )
            )
            in_channels = widths[-1]
        if pretrained is not None:
            self.load_vgg16(pretrained)

    def conv_bn_pairs(self) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
        """The 13 (conv, BN) pairs in VGG16's order."""
        pairs = []
        for block in self.blocks:
            layers = list(block.features)
            pairs += [(layers[i], layers[i + 1]) for i in range(0, len(layers), 3)]
        return pairs

    @torch.no_grad()
    def load_vgg16(self, path: str | Path) -> None:
        """Copy VGG16's ImageNet weights from a torchvision `vgg16` or `vgg16_bn` state dict file.

        `vgg16`: conv weights only; its conv biases are dropped, since the BN that follows every conv
        here subtracts any per-channel constant. `vgg16_bn`: also BN weight, bias and running
        statistics, the conv bias folded into the running mean, so the layer computes the same in eval
        mode. Raises PretrainedWeightsError (one line naming the file) if it is missing or does not fit.
        """
        path = Path(path)
        option = f"model.encoder.pretrained={path}"
        if not path.is_file():
            raise PretrainedWeightsError(f"{option}: no such file (a torchvision vgg16 or vgg16_bn state dict)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise PretrainedWeightsError(f"{option}: not a readable state dict ({first_line(error)})") from None
        if not isinstance(state, dict):
            raise PretrainedWeightsError(f"{option}: holds a {type(state).__name__}, not a state dict")
        batch_norm = "features.1.weight" in state  # features.1 is vgg16_bn's first BN, vgg16's first ReLU
        for (conv, norm), index in zip(self.conv_bn_pairs(), torchvision_vgg16_conv_indices(batch_norm)):
            weight = _tensor(state, f"features.{index}.weight", conv.weight.shape, option)
            conv.weight.copy_(weight)
            mark_pretrained(conv)
            if batch_norm:
                for name in ("weight", "bias", "running_mean", "running_var"):
                    getattr(norm, name).copy_(_tensor(state, f"features.{index + 1}.{name}", norm.weight.shape, option))
                if f"features.{index}.bias" in state:
                    norm.running_mean.sub_(_tensor(state, f"features.{index}.bias", norm.weight.shape, option))


def _tensor(state: dict, key: str, shape: torch.Size, option: str) -> torch.Tensor:
    value = state.get(key)
    if not isinstance(value, torch.Tensor):
        raise PretrainedWeightsError(f"{option}: no {key} (not a torchvision vgg16 / vgg16_bn state dict)")
    if value.shape != shape:
        raise PretrainedWeightsError(
            f"{option}: {key} has shape {tuple(value.shape)}, this encoder needs {tuple(shape)}"
        )
    return value
