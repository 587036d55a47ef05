"""Sec. 3's 2-bit pooling indices: packed codes that unpool exactly as max_pool2d's int64 indices do."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from segbench.benchmarks.measure_efficiency import storage_multiplier, stored_bytes
from segbench.models.encoder import EncoderBlock, max_pool_keeping_indices
from segbench.models.packed_indices import (
    max_pool_2x2_codes,
    max_pool_2x2_packed,
    max_unpool_2x2_packed,
    pack_codes,
    packed_shape,
    unpack_codes,
)
from segbench.models.upsample import MaxUnpool
from segbench.utils.config import compose_model

NAN, INF = float("nan"), float("inf")
DTYPES = [torch.float32, torch.bfloat16]
FORMATS = [torch.contiguous_format, torch.channels_last]
# Even, odd and mixed sizes: ceil mode leaves partial windows at the bottom and right borders of odd ones.
SIZES = [(8, 12), (7, 9), (6, 5), (1, 3)]


def reference(x: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """max_pool2d + max_unpool2d with int64 indices (the path the packed one replaces): pooled, unpooled."""
    pooled, indices = F.max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True)
    return pooled, F.max_unpool2d(values(pooled), indices, 2, 2, output_size=x.shape[-2:])


def packed(x: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pooled, codes = max_pool_2x2_packed(x)
    return pooled, max_unpool_2x2_packed(values(pooled), codes, x.shape[-2:])


def bits(t: torch.Tensor) -> torch.Tensor:
    """The raw bits, so that -0.0 differs from 0.0 and NaNs compare by payload."""
    return t.view({torch.float32: torch.int32, torch.bfloat16: torch.int16}[t.dtype])


def rectified_noise(shape: tuple[int, ...], dtype: torch.dtype, memory_format, seed: int = 0) -> torch.Tensor:
    """Random values, about a third of them 0 (as after a ReLU), so many windows hold ties."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator)
    x = torch.where(torch.rand(shape, generator=generator) < 0.35, 0.0, x)
    return x.to(dtype).contiguous(memory_format=memory_format)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("memory_format", FORMATS, ids=["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "bf16"])
def test_outputs_and_gradients_are_bit_identical_to_max_pool2d_and_max_unpool2d(dtype, memory_format, size):
    """Pooled map, unpooled map, and the gradient reaching the input through both, bit for bit."""
    x = rectified_noise((2, 6, *size), dtype, memory_format)
    results = []
    for path in (reference, packed):
        leaf = x.clone().requires_grad_()
        pooled, unpooled = path(leaf, lambda pooled: pooled * 3)  # the decoder's input is not the pooled map
        generator = torch.Generator().manual_seed(1)
        loss = (pooled.float() * torch.randn(pooled.shape, generator=generator)).sum()
        loss = loss + (unpooled.float() * torch.randn(unpooled.shape, generator=generator)).sum()
        loss.backward()
        results.append((pooled.detach(), unpooled.detach(), leaf.grad))
    for name, expected, actual in zip(("pooled", "unpooled", "gradient"), *results):
        assert actual.shape == expected.shape and actual.dtype == expected.dtype, name
        assert torch.equal(bits(actual), bits(expected)), name
    cropped = size[0] % 2 or size[1] % 2  # odd sizes unpool to a view cropping the padded map
    assert results[1][1].is_contiguous(memory_format=memory_format) or cropped


def windows(*values: list[list[float]]) -> torch.Tensor:
    """One 2x2 window per channel: a (1, channels, 2, 2) map."""
    return torch.tensor(values).unsqueeze(0)


# Hand-made windows: the code (2 * dy + dx) PyTorch's CPU kernel picks. It scans row by row and takes a
# position only when it beats the running maximum or is NaN: ties go to the first, NaNs to the last.
TIE_WINDOWS = {
    "four equal values": ([[1.0, 1.0], [1.0, 1.0]], 0),
    "all zero (a ReLU's dead window)": ([[0.0, 0.0], [0.0, 0.0]], 0),
    "tie top-right and bottom-right": ([[0.0, 2.0], [1.0, 2.0]], 1),
    "tie bottom-left and bottom-right": ([[0.0, 1.0], [2.0, 2.0]], 2),
    "single maximum bottom-right": ([[0.0, 1.0], [2.0, 3.0]], 3),
    "-0.0 before 0.0": ([[-0.0, 0.0], [-1.0, -1.0]], 0),
    "0.0 before -0.0": ([[0.0, -0.0], [-1.0, -1.0]], 0),
    "all -inf": ([[-INF, -INF], [-INF, -INF]], 0),
    "NaN top-right and bottom-left": ([[0.0, NAN], [NAN, 1.0]], 2),
    "NaN top-left and bottom-right": ([[NAN, 5.0], [1.0, NAN]], 3),
    "NaN top-left only": ([[NAN, 5.0], [1.0, 2.0]], 0),
}


@pytest.mark.parametrize("memory_format", FORMATS, ids=["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "bf16"])
def test_ties_and_nans_pick_the_position_pytorchs_kernel_picks(dtype, memory_format):
    # Channels-last needs more than one channel to differ from contiguous: 11 windows side by side.
    x = windows(*(window for window, _ in TIE_WINDOWS.values())).to(dtype).contiguous(memory_format=memory_format)
    expected_codes = [code for _, code in TIE_WINDOWS.values()]
    _, flat = F.max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True)
    assert flat.flatten().tolist() == expected_codes  # in a 2x2 map the flat index is the code
    pooled, codes = max_pool_2x2_codes(x)
    assert codes.dtype == torch.uint8 and codes.flatten().tolist() == expected_codes
    assert torch.equal(bits(pooled), bits(F.max_pool2d(x, 2, 2, ceil_mode=True)))
    signs = [math.copysign(1, value) for value in pooled.flatten()[5:7].tolist()]
    assert signs == [-1, 1]  # the first of -0.0 and 0.0 is the maximum, sign included


def test_partial_border_windows_of_an_odd_size():
    """A 3x3 map pools to 2x2 in ceil mode; the border windows hold 2, 2 and 1 real values."""
    x = torch.tensor([[1.0, 5.0, 2.0], [3.0, 0.0, 9.0], [-7.0, -4.0, -6.0]]).view(1, 1, 3, 3)
    pooled, codes = max_pool_2x2_codes(x)
    assert pooled.flatten().tolist() == [5.0, 9.0, -4.0, -6.0]
    assert codes.flatten().tolist() == [1, 2, 1, 0]  # 9 is below 2 (dy = 1, dx = 0); -6 alone in its window
    restored = max_unpool_2x2_packed(pooled, pack_codes(codes), (3, 3))
    expected = torch.tensor([[0.0, 5.0, 0.0], [0.0, 0.0, 9.0], [0.0, -4.0, -6.0]]).view(1, 1, 3, 3)
    assert torch.equal(restored, expected)


def test_codes_pack_four_to_a_byte_lowest_bits_first():
    codes = torch.tensor([[1, 2, 3, 0, 2], [3, 3, 3, 3, 1]], dtype=torch.uint8).view(1, 1, 2, 5)
    packed_codes = pack_codes(codes)
    assert packed_codes.dtype == torch.uint8
    # 1 + 2*4 + 3*16 + 0*64 = 57 and 255; the fifth code starts a second byte of each row.
    assert packed_codes.tolist() == [[[[57, 2], [255, 1]]]]
    assert torch.equal(unpack_codes(packed_codes, 5), codes)


@pytest.mark.parametrize("width", range(1, 10))
def test_unpack_inverts_pack_at_every_width(width):
    codes = torch.randint(0, 4, (2, 3, 5, width), generator=torch.Generator().manual_seed(width), dtype=torch.uint8)
    packed_codes = pack_codes(codes)
    assert packed_codes.shape == (2, 3, 5, math.ceil(width / 4)) == packed_shape(codes.shape)
    assert torch.equal(unpack_codes(packed_codes, width), codes)


@pytest.mark.parametrize(
    ("pooled_shape", "expected_bytes"),
    [((2, 3, 4, 8), 2 * 3 * 4 * 2), ((2, 3, 5, 9), 2 * 3 * 5 * 3), ((1, 64, 180, 240), 64 * 180 * 60)],
)
def test_stored_bytes_are_n_c_h_ceil_w_over_4(pooled_shape, expected_bytes):
    """N * C * h * ceil(w / 4) bytes for a pooled map of N, C, h, w: 1/16 of the fp32 map when 4 divides w."""
    n, c, h, w = pooled_shape
    pooled, codes = max_pool_2x2_packed(torch.rand(n, c, 2 * h, 2 * w))
    assert pooled.shape == pooled_shape
    assert codes.dtype == torch.uint8 and stored_bytes([codes]) == expected_bytes
    assert codes.untyped_storage().nbytes() == expected_bytes  # no larger buffer behind it
    if w % 4 == 0:
        assert 16 * stored_bytes([codes]) == stored_bytes([pooled])


def test_segnet_basic_stores_less_than_fcn_basic_at_360x480(build_model):
    """Table 1's storage at 360x480: SegNet-Basic's packed indices (64 x 180 x 60 bytes) against FCN-Basic's
    11 float maps of 180 x 240 (11 x 180 x 240 x 4 bytes); the int64 indices were 64 x 180 x 240 x 8 bytes."""
    image = torch.rand(1, 3, 360, 480, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        segnet = build_model("segnet_basic").eval().kept_from_encoder(image)
        fcn = build_model("fcn_basic").eval().kept_from_encoder(image)
    assert [t.dtype for t in segnet] == [torch.uint8] and storage_multiplier(segnet) == 1
    assert stored_bytes(segnet) == 691_200 < stored_bytes(fcn) == 1_900_800 < 64 * 180 * 240 * 8


def test_the_int64_path_refuses_deterministic_mode_and_the_packed_path_runs_under_it():
    x = rectified_noise((2, 4, 9, 10), torch.float32, torch.contiguous_format).requires_grad_()
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        with pytest.raises(RuntimeError, match="does not have a deterministic implementation"):
            reference(x, lambda pooled: pooled)
        gradients = []
        for _ in range(2):
            x.grad = None
            pooled, unpooled = packed(x, lambda pooled: pooled * 3)
            (pooled.sum() + (unpooled * torch.arange(10.0)).sum()).backward()
            gradients.append(x.grad.clone())
    finally:
        torch.use_deterministic_algorithms(previous)
    assert torch.equal(gradients[0], gradients[1]) and gradients[0].count_nonzero() > 0


def with_indices(name: str, indices: str) -> torch.nn.Module:
    """The network of conf/model/<name>.yaml holding its pooling indices as `indices` in both modes (seeded)."""
    torch.manual_seed(0)
    return compose_model(name, (f"model.encoder.indices.train={indices}", f"model.encoder.indices.eval={indices}"))


@pytest.mark.parametrize("model", ["segnet_basic", "segnet_basic_encoder_addition"])
def test_a_network_with_packed_indices_computes_what_it_computes_with_int64_indices(model):
    """Eval logits and training gradients of every parameter, bit for bit, at an odd size (BN in eval mode
    with non-trivial statistics, so that eval is not training)."""
    nets = {kind: with_indices(model, kind) for kind in ("int64", "packed")}
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for buffer in nets["int64"].buffers():
            if buffer.is_floating_point():
                buffer.copy_(torch.rand(buffer.shape, generator=generator) + 0.5)
    nets["packed"].load_state_dict(nets["int64"].state_dict())
    image = torch.rand(2, 3, 45, 61, generator=generator) * 255
    labels = torch.randint(0, 11, (2, 45, 61), generator=generator)
    with torch.no_grad():
        logits = {kind: net.eval()(image) for kind, net in nets.items()}
        levels = nets["packed"].encoder(nets["packed"].input_norm(image))
    assert torch.equal(logits["packed"], logits["int64"])
    assert [level.indices.dtype for level in levels] == [torch.uint8] * 4
    assert [tuple(level.indices.shape) for level in levels] == [
        (2, 64, 23, 8),
        (2, 64, 12, 4),
        (2, 64, 6, 2),
        (2, 64, 3, 1),
    ]
    for net in nets.values():
        F.cross_entropy(net.train()(image), labels).backward()
    for (name, expected), actual in zip(nets["int64"].named_parameters(), nets["packed"].parameters()):
        assert torch.equal(actual.grad, expected.grad), name


def test_default_indices_are_int64_in_training_and_packed_in_eval(build_model):
    net = build_model("segnet_basic")
    assert all(block.indices == {"train": "int64", "eval": "packed"} for block in net.encoder.blocks)
    x = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        trained = net.train().encoder(x)[0].indices
        evaluated = net.eval().encoder(x)[0].indices
    assert (trained.dtype, tuple(trained.shape)) == (torch.int64, (1, 64, 8, 10))
    assert (evaluated.dtype, tuple(evaluated.shape)) == (torch.uint8, (1, 64, 8, 3))


def test_deeplab_keeps_no_indices_and_packed_codes_need_2x2_windows(build_model):
    levels = build_model("table3/deeplab_largefov").eval().encoder(torch.rand(1, 3, 32, 32))
    assert [level.indices for level in levels] == [None] * 5
    with pytest.raises(ValueError, match="packed 2-bit indices need 2x2 windows of stride 2, not 3x3"):
        EncoderBlock(3, [8], pool_kernel_size=3, pool_stride=1, indices={"train": "int64", "eval": "packed"})
    with pytest.raises(ValueError, match="indices must be one of"):
        EncoderBlock(3, [8], indices="int32")
    level = max_pool_keeping_indices(torch.rand(1, 2, 4, 4), indices="none")
    with pytest.raises(ValueError, match="the encoder keeps none"):
        MaxUnpool(2)(level.pooled, level)
