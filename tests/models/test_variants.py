"""The Table 1 networks built from conf/model/*.yaml: sizes, shapes and the parts' behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from segbench import conformance
from segbench.models.encoder import EncoderLevel, max_pool_keeping_indices
from segbench.paper import TABLE1, table1_row

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


def test_table1_is_reproduced_by_the_configs_naming_its_rows():
    """Each row of Table 1 has a config whose meta.paper_name is the row's; its pinned parameter count (which the
    conformance suite checks against the built network) is the hand derivation above, within 3% of Table 1's."""
    metas = {variant.name: variant.meta for variant in conformance.variants()}
    in_table1 = {name for name, meta in metas.items() if table1_row(meta.paper_name) is not None}
    assert in_table1 == set(EXPECTED_PARAMS)
    assert len({metas[name].paper_name for name in in_table1}) == len(TABLE1)  # each row once
    for model, params in EXPECTED_PARAMS.items():
        assert metas[model].params == params
        table1 = table1_row(metas[model].paper_name)
        assert abs(params / 1e6 - table1["params_m"]) / table1["params_m"] < 0.03


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


# What each variant's decoder stage d > 0 adds from the encoder, written down from Sec. 3.1 / Table 1:
# "map": the 64 pooled maps of encoder level d-1 as they are; "reduced": their 1x1 reduction to K channels.
SKIP_ADDS = {
    "segnet_basic": None,
    "segnet_basic_encoder_addition": "map",
    "segnet_basic_single_channel_decoder": None,
    "bilinear_interpolation": None,
    "fcn_basic": "reduced",
    "fcn_basic_no_addition": None,
    "fcn_basic_no_dim_reduction": "map",
    "fcn_basic_no_addition_no_dim_reduction": None,
}


def random_levels(height: int = 45, width: int = 59, channels: int = 64, depth: int = 4) -> list[EncoderLevel]:
    """Encoder levels of unrelated random maps (each level pooled from its own map), odd sizes included."""
    generator = torch.Generator().manual_seed(0)
    levels = []
    for _ in range(depth):
        levels.append(max_pool_keeping_indices(torch.randn(1, channels, height, width, generator=generator)))
        height, width = levels[-1].pooled.shape[-2:]
    return levels


def record_stages(decoder: nn.Module) -> dict[int, dict[str, torch.Tensor]]:
    """Hooks recording, per stage, the densified map (before the skip) and the stage's output."""
    records = {index: {} for index in range(len(decoder.stages))}
    for index, stage in enumerate(decoder.stages):
        stage.densify.register_forward_hook(lambda m, args, out, index=index: records[index].update(densified=out))
        stage.register_forward_hook(lambda m, args, out, index=index: records[index].update(output=out))
    return records


@pytest.mark.parametrize("model", sorted(SKIP_ADDS))
def test_each_stage_adds_the_pooled_map_of_the_level_above_and_stage_0_adds_nothing(model, build_model):
    """Stage d > 0 outputs densified + (encoder level d-1's pooled map, or its 1x1 reduction); stage 0 adds nothing.

    Pins the right map at the right stage: the expected addition is recomputed from the hand-made levels,
    not taken from what the decoder handed its skip.
    """
    decoder = build_model(model).decoder.eval()
    levels = random_levels()
    records = record_stages(decoder)
    with torch.no_grad():
        decoder(levels)
        for depth_index, record in records.items():
            densified, output = record["densified"], record["output"]
            if depth_index == 0 or SKIP_ADDS[model] is None:
                assert torch.equal(output, densified), f"stage {depth_index} added something"
            elif SKIP_ADDS[model] == "map":
                assert torch.equal(output, densified + levels[depth_index - 1].pooled)
            else:
                reduce = decoder.stages[depth_index].skip.reduce
                assert reduce.weight.shape == (11, 64, 1, 1)
                assert torch.equal(output, densified + reduce(levels[depth_index - 1].pooled))
                # The reduced map is far from zero, so the equality above cannot hold by adding nothing.
                assert not torch.allclose(output, densified, atol=1e-3)


def test_bilinear_interpolation_upsamplers_have_no_parameters_and_interpolate_exactly(build_model):
    """Bilinear-Interpolation: every upsampler is parameter- and buffer-free and equals F.interpolate(bilinear)."""
    decoder = build_model("bilinear_interpolation").decoder
    levels = random_levels()
    x = torch.randn(1, 64, *levels[-1].pooled.shape[-2:], generator=torch.Generator().manual_seed(1))
    for stage, level in zip(reversed(decoder.stages), reversed(levels), strict=True):
        assert list(stage.upsample.parameters()) == [] and list(stage.upsample.buffers()) == []
        upsampled = stage.upsample(x, level)
        assert torch.equal(upsampled, F.interpolate(x, size=tuple(level.size), mode="bilinear", align_corners=False))
        x = upsampled


def test_bilinear_interpolation_training_step_learns_nothing_in_the_upsamplers(build_model):
    """After a backward pass and an SGD step only the encoder, decoder filters and classifier carry gradients."""
    net = build_model("bilinear_interpolation").train()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 25, 31, generator=generator) * 255
    labels = torch.randint(0, 11, (2, 25, 31), generator=generator)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    F.cross_entropy(net(images), labels).backward()
    optimizer.step()
    with_gradient = {name for name, p in net.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert not [name for name in with_gradient if ".upsample." in name]
    assert {f"decoder.stages.{d}.densify.0.weight" for d in range(4)} <= with_gradient


def perturb_channel(x: torch.Tensor, channel: int) -> torch.Tensor:
    perturbed = x.clone()
    perturbed[:, channel] += torch.linspace(1.0, 2.0, x[0, 0].numel()).view(x.shape[-2:])
    return perturbed


@pytest.mark.parametrize("model", ["segnet_basic_single_channel_decoder", "bilinear_interpolation"])
def test_single_channel_decoder_output_channel_depends_only_on_its_input_channel(model, build_model):
    """Perturbing densify input channel j changes output channel j and leaves every other channel bit-identical."""
    decoder = build_model(model).decoder.eval()
    x = torch.randn(1, 64, 12, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for stage in decoder.stages:
            output = stage.densify(x)
            for channel in (0, 17, 63):
                changed = (stage.densify(perturb_channel(x, channel)) != output).flatten(2).any(-1).squeeze(0)
                assert changed.nonzero().flatten().tolist() == [channel]


def test_multi_channel_decoder_mixes_channels(build_model):
    """Control for the depthwise test: SegNet-Basic's 64-channel filters spread one channel's change to all."""
    densify = build_model("segnet_basic").decoder.stages[0].densify.eval()
    x = torch.randn(1, 64, 12, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        changed = (densify(perturb_channel(x, 17)) != densify(x)).flatten(2).any(-1)
    assert changed.all()
