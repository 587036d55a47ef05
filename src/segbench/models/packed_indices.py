"""Max-pooling indices as 2-bit codes, four to a byte: the storage Sec. 3 argues for.

Sec. 3: the argmax of each 2x2 pooling window "can be done using 2 bits for each 2x2 pooling window and
is thus much more efficient to store as compared to memorizing feature map(s) in float precision".
PyTorch's `max_pool2d(return_indices=True)` keeps an int64 flat index per window instead (8 bytes, twice
the fp32 pooled map). Here each window's argmax is its code 2 * dy + dx (0 top-left, 1 top-right,
2 bottom-left, 3 bottom-right), and the codes of four neighbouring windows along a row share a byte:

    packed[n, c, i, j] = sum over k < 4 of code[n, c, i, 4 j + k] << 2 k    (uint8, shape N, C, h, ceil(w / 4))

for a pooled map of N, C, h, w — N * C * h * ceil(w / 4) bytes, 1/16 of the fp32 pooled map when 4
divides w (360x480: 64 x 180 x 60 = 691,200 bytes at SegNet-Basic's first level).

The pooled map is `max_pool2d`'s own (value and gradient). The codes come from comparing each window's
four positions with it, and pick the position PyTorch's CPU kernel picks: it scans the window row by row
and takes a position only when it beats the running maximum or is NaN, so the code is the first position
equal to the maximum (ties go to the first in row-major order: an all-zero window after a ReLU gives
code 0), or the last NaN. Unpooling is a comparison with each position's code and a `where`, so autograd
gives its gradient. Pooled map, unpooled map and both gradients equal `max_pool2d` (2x2, stride 2, Caffe's
ceil mode) + `max_unpool2d` bit for bit (but for the sign of a -0.0 gradient, which unpooling's backward
returns as 0.0). Everything is plain tensor ops: `torch.use_deterministic_algorithms(True)` accepts them
(`max_unpool2d` does not), and the dynamo ONNX exporter translates them at any input size.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

CODES_PER_BYTE = 4


def packed_shape(pooled_shape: torch.Size | tuple[int, ...]) -> tuple[int, ...]:
    """Shape of the packed codes of a pooled map of shape (..., h, w): (..., h, ceil(w / 4))."""
    *leading, width = pooled_shape
    return (*leading, -(-width // CODES_PER_BYTE))


def _memory_order(x: torch.Tensor) -> tuple[torch.Tensor, int, tuple[int, ...] | None]:
    """`x` with its dims in memory order, the index of its height dim there, and the permutation back.

    A channels-last map is handled as N, H, W, C, so that every window position below is a view whose
    innermost dim is contiguous (a strided NCHW view of it would be several times slower to read).
    """
    if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return x.permute(0, 2, 3, 1), 1, (0, 3, 1, 2)
    return x, 2, None


def _restore_order(x: torch.Tensor, back: tuple[int, ...] | None) -> torch.Tensor:
    return x if back is None else x.permute(back)


def max_pool_2x2_codes(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """2x2 max-pooling, stride 2, ceil mode (Sec. 3): the pooled map and each window's code (uint8, 0-3).

    The pooled map is `F.max_pool2d`'s (its values and its gradient); the codes are found by comparing the
    window's four positions with it, which is integer work that autograd does not record.
    """
    pooled = F.max_pool2d(x, 2, 2, ceil_mode=True)
    height, width = x.shape[-2:]
    # Ceil mode: an odd size leaves a partial window at the bottom or right border. Its missing positions
    # are -inf, never the first maximum unless the window's real positions are -inf too, and then the
    # kernel keeps position 0 (which is always real), as does the first match below.
    padded = F.pad(x.detach(), (0, width % 2, 0, height % 2), value=float("-inf"))
    windows = padded.unflatten(3, (-1, 2)).unflatten(2, (-1, 2))  # N, C, h, dy, w, dx
    positions = [windows[:, :, :, dy, :, dx] for dy in (0, 1) for dx in (0, 1)]
    # The kernel takes a position if it beats the running maximum or is NaN: the first position equal
    # to the maximum, or the last NaN. Codes are uint8 arithmetic on booleans: n0 * (1 + n1 * (1 + n2)).
    differs = [(position != pooled).to(torch.uint8) for position in positions[:3]]
    first_maximum = differs[0] * (1 + differs[1] * (1 + differs[2]))
    last_nan = positions[1].isnan().to(torch.uint8)
    for code in (2, 3):
        last_nan = torch.maximum(last_nan, positions[code].isnan().to(torch.uint8) * code)
    return pooled, torch.where(pooled.detach().isnan(), last_nan, first_maximum)


def pack_codes(codes: torch.Tensor) -> torch.Tensor:
    """Four 2-bit codes per byte along the width: (..., h, w) uint8 0-3 -> (..., h, ceil(w / 4)) uint8."""
    width = codes.shape[-1]
    quads = F.pad(codes, (0, -width % CODES_PER_BYTE)).unflatten(-1, (-1, CODES_PER_BYTE)).unbind(-1)
    # Sums of multiples of 4**k rather than shifts and ors: the ONNX exporter translates uint8 shifts as
    # signed, and these never carry (at most 3 + 12 + 48 + 192 = 255).
    packed = quads[0]
    for slot in range(1, CODES_PER_BYTE):
        packed = packed + quads[slot] * 4**slot
    return packed


def unpack_codes(packed: torch.Tensor, width: int) -> torch.Tensor:
    """The inverse of `pack_codes`: the `width` codes of each row, uint8 0-3."""
    places = torch.tensor([4**slot for slot in range(CODES_PER_BYTE)], dtype=torch.uint8, device=packed.device)
    codes = packed.unsqueeze(-1) // places % 4
    return codes.flatten(-2).narrow(-1, 0, width)


def max_pool_2x2_packed(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """2x2 max-pooling (ceil mode) keeping its argmaxes as packed 2-bit codes (see the module docstring)."""
    pooled, codes = max_pool_2x2_codes(x)
    return pooled, pack_codes(codes)


def max_unpool_2x2_packed(x: torch.Tensor, packed: torch.Tensor, size: torch.Size | tuple[int, int]) -> torch.Tensor:
    """SegNet's upsampling (Sec. 3, Fig. 3) from packed codes: each value of `x` back at its window's argmax.

    Equals `F.max_unpool2d(x, indices, 2, 2, output_size=size)`, value and gradient, where `indices` are
    max_pool2d's for the same windows; `size` is the map's size before pooling (odd sizes included).
    """
    height, width = size
    codes = unpack_codes(packed, x.shape[-1])
    view, h_dim, back = _memory_order(x)
    if back is not None:
        codes = codes.permute(0, 2, 3, 1)
    # Each window position gets the value where the code names it, else 0; stacking the four positions
    # as (dy, dx) beside (h, w) lays the windows out. Quarter-size selections (not one broadcast over the
    # output) make the backward four selections too, instead of a reduction over the output (3x faster).
    rows = [torch.stack([torch.where(codes == 2 * dy + dx, view, 0) for dx in (0, 1)], dim=h_dim + 2) for dy in (0, 1)]
    upsampled = torch.stack(rows, dim=h_dim + 1).flatten(h_dim + 2, h_dim + 3).flatten(h_dim, h_dim + 1)
    return _restore_order(upsampled.narrow(h_dim, 0, height).narrow(h_dim + 1, 0, width), back)
