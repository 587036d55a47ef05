"""The Table 1 networks built from conf/model/*.yaml: sizes, shapes and the parts' behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from segbench.models import count_parameters
from segbench.paper import TABLE1

REPO_ROOT = Path(__file__).resolve().parents[2]

# Derived by hand (K = 11 classes, 64 channels, 7x7 kernels, BN = 2x64 params per conv):
#   encoder = 3*64*49 + 3*64*64*49 + 4*128 = 612,032;  classifier 1x1 = 64*11 + 11 = 715
#   SegNet decoder = 4*(64*64*49 + 128) = 803,328; single-channel decoder = 4*(64*49 + 128) = 13,056
#   FCN: deconv 8x8 K->K = 11*11*64 = 7,744 (x4), 1x1 reductions 64*11 = 704 (input + 3 skips),
#        classifier 11*11 + 11 = 132; NoDimReduction: deconv 64*64*64 = 262,144 (x4).
EXPECTED_PARAMS = {
    "segnet_basic": 612_032 + 803_328 + 715,
    "segnet_basic_encoder_addition": 612_032 + 803_328 + 715,
    "segnet_basic_single_channel_decoder": 612_032 + 13_056 + 715,
    "bilinear_interpolation": 612_032 + 13_056 + 715,
    "fcn_basic": 612_032 + 4 * 704 + 4 * 7_744 + 132,
    "fcn_basic_no_addition": 612_032 + 704 + 4 * 7_744 + 132,
    "fcn_basic_no_dim_reduction": 612_032 + 4 * 262_144 + 715,
    "fcn_basic_no_addition_no_dim_reduction": 612_032 + 4 * 262_144 + 715,
}


def test_every_table1_variant_has_a_config():
    assert sorted(p.stem for p in (REPO_ROOT / "conf" / "model").glob("*.yaml")) == sorted(TABLE1)


@pytest.mark.parametrize("model", sorted(EXPECTED_PARAMS))
def test_parameter_count_is_exact_and_within_3_percent_of_table1(model, build_model):
    params = count_parameters(build_model(model))
    assert params == EXPECTED_PARAMS[model]
    assert abs(params / 1e6 - TABLE1[model]["params_m"]) / TABLE1[model]["params_m"] < 0.03


@pytest.mark.parametrize("model", sorted(EXPECTED_PARAMS))
@pytest.mark.parametrize("size", [(360, 480), (101, 77)])
def test_logits_have_the_input_size(model, size, build_model):
    net = build_model(model).eval()
    with torch.no_grad():
        logits = net(torch.rand(1, 3, *size) * 255)
    assert logits.shape == (1, 11, *size)
    assert torch.isfinite(logits).all()


def test_configured_input_norm_is_the_release_lcn(build_model):
    # LocalResponseNorm(5, 1e-4, 0.75, 1) on 0-255 RGB; a window of 5 around each of the 3
    # channels covers all three, so every channel is divided by the same factor.
    lcn = build_model("segnet_basic").input_norm
    x = torch.tensor([255.0, 0.0, 100.0]).view(1, 3, 1, 1)
    denominator = (1 + 1e-4 / 5 * (255.0**2 + 100.0**2)) ** 0.75
    assert torch.allclose(lcn(x).flatten(), torch.tensor([255.0, 0.0, 100.0]) / denominator)


@pytest.mark.parametrize("model", ["segnet_basic_single_channel_decoder", "bilinear_interpolation"])
def test_single_channel_decoders_are_depthwise(model, build_model):
    convs = [m for m in build_model(model).decoder.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4
    assert all(conv.groups == 64 and conv.weight.shape == (64, 1, 7, 7) for conv in convs)


def test_fcn_basic_compresses_to_k_channels_and_upsamples_by_learnt_8x8_deconvolution(build_model):
    decoder = build_model("fcn_basic").decoder
    deconvs = [m for m in decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [tuple(d.weight.shape) for d in deconvs] == [(11, 11, 8, 8)] * 4
    assert all(d.weight.requires_grad for d in deconvs)
    reductions = [m for m in decoder.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert [tuple(r.weight.shape) for r in reductions] == [(11, 64, 1, 1)] * 4
