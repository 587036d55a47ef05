"""Batch norm folded into the convolution before it, for inference.

Every SegNet layer is a bias-free convolution followed by batch norm (Sec. 3.1). At inference BN is a fixed
per-channel affine map, so it can live in the convolution's weight and bias: the network computes the same
function with one pass over each feature map fewer. torch's `fuse_conv_bn_eval` does the arithmetic; this
module only finds the pairs, which all sit next to each other in an `nn.Sequential`.
"""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _foldable(conv: nn.Module, norm: nn.Module) -> bool:
    if not isinstance(norm, nn.BatchNorm2d) or not norm.track_running_stats:
        return False
    if isinstance(conv, nn.ConvTranspose2d):
        return conv.groups == 1  # torch's folding scales a transposed weight's dim 1, which groups would split
    return isinstance(conv, nn.Conv2d)


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """An eval-mode copy of `net` with each conv -> BN pair replaced by one conv (and an `nn.Identity`).

    The copy is for inference only: its state_dict no longer matches a checkpoint's, and training it would
    train a network without batch norm. `net` itself is left as it was.
    """
    folded = copy.deepcopy(net).eval()
    for module in folded.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, norm = module._modules[first], module._modules[second]
            if _foldable(conv, norm):
                module._modules[first] = fuse_conv_bn_eval(conv, norm, transpose=isinstance(conv, nn.ConvTranspose2d))
                module._modules[second] = nn.Identity()
    return folded


def count_batchnorms(net: nn.Module) -> int:
    return sum(isinstance(module, nn.modules.batchnorm._BatchNorm) for module in net.modules())
