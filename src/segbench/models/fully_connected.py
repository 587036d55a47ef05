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

from torch import nn

from segbench.models.layers import conv_bn


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
            layers += [*conv_bn(fc_in, width, k, dilation=d), nn.ReLU(inplace=True)]
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(project(in_channels=width, out_channels=out_channels))
        super().__init__(*layers)
