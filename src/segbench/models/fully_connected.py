"""VGG16's fully connected layers run as convolutions (Sec. 4, Table 3, Table 6).

FCN [2], DeepLab-LargeFOV [3] and DeconvNet [4] keep VGG16's fc6 and fc7 as convolutions between
the encoder's pool5 and their decoder; SegNet discards them ("from 134 to 14.7 M" parameters,
Sec. 3). Here they are the decoder's input projection, followed by a last layer chosen by config:
a 1x1 score conv to K classes (FCN's score_fr, DeepLab's fc8) or DeconvNet's deconv-fc6.

fc6 keeps the spatial size (padding (k // 2) x dilation): FCN's original instead pads the image by
100 and crops, DeconvNet's reduces a 7x7 pool5 to 1x1; neither works at every input size, and the
padding does not change the parameter count.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from segbench.models.layers import conv_bn


class FullyConnectedConv(nn.Conv2d):
    """fc6 and fc7: a convolution computed, on a CPU without dilation, as im2col and one matrix product.

    oneDNN's backward pass of a wide convolution on the small maps after pool5 (FCN's 512 -> 4,096 7x7 fc6 on a 4x5
    map) can be tens of times slower than the same product as a GEMM, and its forward pass, less so, too (`make
    bench-fc6`, docs/results/fc6.md); a dilated one (DeepLab-LargeFOV's rate-12 fc6: no consistent gain either way in
    the benchmark), other devices and a graph being exported or compiled keep the library's convolution. Same
    parameters and state-dict keys as `nn.Conv2d`.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        traced = torch.compiler.is_compiling() or torch.compiler.is_exporting()
        gemm = x.device.type == "cpu" and not traced and self.groups == 1 and self.dilation == (1, 1)
        return self.as_matrix_product(x) if gemm else super().forward(x)

    def as_matrix_product(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution as im2col (`F.unfold`) and one matrix product: the same numbers, other kernels."""
        columns = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride)
        out = self.weight.flatten(1) @ columns  # (N, out_channels, L)
        if self.bias is not None:
            out = out + self.bias[:, None]
        height, width = (
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, p, d, k, s in zip(x.shape[2:], self.padding, self.dilation, self.kernel_size, self.stride)
        )
        return out.view(x.shape[0], self.out_channels, height, width)


class FullyConnectedAsConv(nn.Sequential):
    """fc6 (k x k conv, `width` maps), fc7 (1x1 conv, `width` maps), each with BN, ReLU, dropout; then `project`.

    Args:
        in_channels: pool5's 512 maps.
        out_channels: what the decoder's deepest stage takes (K for FCN and DeepLab, 512 for DeconvNet).
        width: 4096 in FCN [2]; 1024 in DeepLab-LargeFOV [3] and in Sec. 4's DeconvNet ("we restricted
            the feature size in the fully connected layers of DeconvNet to 1,024").
        kernel_size, dilation: fc6's window: 7x7 (VGG16's 7x7x512 input to fc6) or DeepLab-LargeFOV's
            3x3 at rate 12.
        dropout: 0.5 after fc6 and after fc7, as the original networks and Sec. 4's recipe.
        project: factory called with (in_channels=width, out_channels=out_channels) for the last layer,
            e.g. `torch.nn.Conv2d` with kernel_size 1 (a score layer) or `layers.DeconvBNReLU`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        project: Callable[..., nn.Module],
        width: int = 4096,
        kernel_size: int = 7,
        dilation: int = 1,
        dropout: float = 0.5,
    ) -> None:
        layers: list[nn.Module] = []
        for fc_in, k, d in ((in_channels, kernel_size, dilation), (width, 1, 1)):
            layers += [*conv_bn(fc_in, width, k, dilation=d, conv=FullyConnectedConv), nn.ReLU(inplace=True)]
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(project(in_channels=width, out_channels=out_channels))
        super().__init__(*layers)
