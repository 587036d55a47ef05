"""BN folded into the convolutions (inference, `segbench.models.batchnorm_folding`): the same logits, no BN left."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from segbench.conformance import with_batch_norm_statistics
from segbench.models.batchnorm_folding import count_batchnorms, fold_batchnorm

# Every BN in these networks follows a convolution, so folding leaves none. The conformance suite folds every
# config at a small size (tests/conformance); here the VGG16 networks, which CI checks only cheaply there, and
# SegNet-Basic at the CPU recipe's input size (folding is the same at any size; float64 convolutions are slow).
NETWORKS = ["segnet_basic", "table3/segnet", "table3/deconvnet", "table3/fcn", "table3/deeplab_largefov"]
SIZES = {"table3": (67, 93)}  # VGG16's five poolings at a small odd size


@pytest.mark.parametrize("model", NETWORKS)
def test_folding_leaves_eval_logits_unchanged_within_1e_5(model, build_model):
    # In float64: a fold changes each activation by a rounding, which in fp32 can flip a near-tie of a max-pooling
    # window (seen in DeconvNet on an AVX2 CPU) and send a value to another unpooling position; in float64 that
    # takes a tie within 1e-16, so what is compared is the fold itself.
    net = with_batch_norm_statistics(build_model(model)).eval().double()
    size = SIZES.get(model.split("/")[0], (120, 160))
    image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 255
    folded = fold_batchnorm(net)
    with torch.no_grad():
        expected, got = net(image), folded(image)
    assert count_batchnorms(net) > 0 and count_batchnorms(folded) == 0
    assert (got - expected).abs().max().item() < 1e-5 * max(1.0, expected.abs().max().item())
    assert torch.equal(got.argmax(1), expected.argmax(1))


def test_folding_copies_and_counts_segnet_basics_layers(build_model):
    net = build_model("segnet_basic").train()
    folded = fold_batchnorm(net)
    assert net.training and not folded.training  # the original is untouched, the copy is for inference
    assert count_batchnorms(net) == 8 and count_batchnorms(folded) == 0
    biased = [m for m in folded.modules() if isinstance(m, nn.Conv2d) and m.bias is not None]
    assert len(biased) == 8 + 1  # the eight folded convolutions and the 1x1 classifier
