"""Fully connected CRF refinement at test time: DeepLab-LargeFOV-denseCRF (Sec. 4, Table 3).

Krähenbühl & Koltun's dense CRF [62] with Gaussian edge potentials, solved by mean-field inference
(the efficient permutohedral-lattice implementation of `pydensecrf2`). The unary term is the network's
-log softmax; the pairwise term is a smoothness kernel (pixel positions) plus an appearance kernel
(positions and RGB colour), both with Potts compatibility:

    k(i, j) = w1 exp(-|p_i - p_j|^2 / 2 theta_alpha^2 - |I_i - I_j|^2 / 2 theta_beta^2)
            + w2 exp(-|p_i - p_j|^2 / 2 theta_gamma^2)

It is a composable refinement part: `Segmenter` applies it to (scores, input image) in inference only
and it returns the log of the CRF's marginals, so the network still outputs (N, K, H, W) scores whose
argmax is the labelling and whose cross-entropy is that of the marginals.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from segbench.extras import require


class DenseCRF(nn.Module):
    """Mean-field inference of a fully connected CRF over each image's pixels (no learnt parameters).

    Args:
        iterations: mean-field steps (DeepLab: 10).
        bilateral_weight, bilateral_position_std, bilateral_colour_std: w1, theta_alpha (pixels),
            theta_beta (RGB levels 0-255) of the appearance kernel.
        gaussian_weight, gaussian_position_std: w2, theta_gamma (pixels) of the smoothness kernel.
    The defaults are the values of DeepLab-LargeFOV's release for PASCAL VOC; Sec. 4 grid-searched
    CamVid's on a training subset but does not report them.
    """

    def __init__(
        self,
        iterations: int = 10,
        bilateral_weight: float = 4.0,
        bilateral_position_std: float = 121.0,
        bilateral_colour_std: float = 5.0,
        gaussian_weight: float = 3.0,
        gaussian_position_std: float = 3.0,
    ) -> None:
        super().__init__()
        self.iterations = iterations
        self.bilateral = dict(sxy=bilateral_position_std, srgb=bilateral_colour_std, compat=bilateral_weight)
        self.gaussian = dict(sxy=gaussian_position_std, compat=gaussian_weight)

    def extra_repr(self) -> str:
        return f"iterations={self.iterations}, bilateral={self.bilateral}, gaussian={self.gaussian}"

    @torch.no_grad()
    def forward(self, scores: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """log CRF marginals (N, K, H, W) from class scores (N, K, H, W) and 0-255 RGB images (N, 3, H, W)."""
        # Imported here: the library (the `crf` extra) is only needed where a CRF runs, not to build anything else.
        dcrf = require("pydensecrf.densecrf", "crf")

        batch, classes, height, width = scores.shape
        unaries = -F.log_softmax(scores.float(), dim=1).cpu().numpy()
        pixels = images.detach().float().clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        marginals = np.empty((batch, classes, height * width), dtype=np.float32)
        for index in range(batch):
            crf = dcrf.DenseCRF2D(width, height, classes)
            crf.setUnaryEnergy(np.ascontiguousarray(unaries[index].reshape(classes, -1)))
            crf.addPairwiseGaussian(**self.gaussian)
            crf.addPairwiseBilateral(rgbim=np.ascontiguousarray(pixels[index]), **self.bilateral)
            marginals[index] = np.asarray(crf.inference(self.iterations), dtype=np.float32)
        log_marginals = torch.from_numpy(marginals).view(batch, classes, height, width).clamp_min(1e-12).log()
        return log_marginals.to(device=scores.device, dtype=scores.dtype)
