"""The written contracts of a decoder's parts (Sec. 3.1, Fig. 3): what `Decoder` gives each kind and expects back.

A decoder stage computes `skip(densify(upsample(x, level)), encoder_map)`. Any class that honours the
contract of its kind can stand in a model config, from this package or from a user's own module. The
decoder builds every part through `build_part`, which refuses a part that breaks its contract with one
line naming the part and the rule; the shape rules are checked on real tensors by `make conformance`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from segbench.errors import SegbenchError
from segbench.models.encoder import EncoderLevel


class PartContractError(SegbenchError, TypeError):
    """A decoder part that does not honour the contract of its kind."""


@runtime_checkable
class Upsample(Protocol):
    """Restores one encoder level's resolution.

    Built as `factory(channels=C)`. `forward(x, level)`: x is N x C x h x w at the deeper level's size; the
    result is N x C x `level.size` exactly (ceil-mode pooling makes odd sizes: crop or interpolate to it).
    `kept_from_encoder(level)`: the tensors of `level` this part needs at inference (e.g. the pooling
    indices), which is what Table 1's storage column counts; [] when it needs none.
    """

    def forward(self, x: torch.Tensor, level: EncoderLevel) -> torch.Tensor: ...

    def kept_from_encoder(self, level: EncoderLevel) -> list[torch.Tensor]: ...


@runtime_checkable
class Densify(Protocol):
    """Turns the upsampled (possibly sparse) maps into dense ones.

    Built as `factory(channels=C)`, or `factory(channels=C, out_channels=C2)` where its stage changes the width
    (per-level widths, Table 3's networks). `forward(x)`: N x C x H x W in, N x C2 x H x W out (C2 = C
    unless given). It reads nothing from the encoder.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Skip(Protocol):
    """Brings in the encoder's pooled map one level up, which has the stage's output size (Fig. 3).

    Built as `factory(encoder_channels=E, channels=C)`. `forward(x, encoder_map)`: x is N x C x H x W, the
    map N x E x H x W; the result is N x C x H x W. `kept_from_encoder(encoder_map)`: what it must store of
    the map at inference (the map itself, a reduction of it, or []).
    """

    def forward(self, x: torch.Tensor, encoder_map: torch.Tensor) -> torch.Tensor: ...

    def kept_from_encoder(self, encoder_map: torch.Tensor) -> list[torch.Tensor]: ...


@runtime_checkable
class InputProjection(Protocol):
    """Maps the deepest pooled map to the deepest stage's width (VGG16's fc6/fc7 as convolutions, Sec. 4).

    Built as `factory(in_channels=E, out_channels=C)`. `forward(x)`: N x E x h x w in, N x C x h' x w' out.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor: ...


CONTRACTS: dict[str, tuple[type, tuple[str, ...]]] = {
    # kind: (protocol, the arguments `forward` takes after self)
    "upsample": (Upsample, ("x", "level")),
    "densify": (Densify, ("x",)),
    "skip": (Skip, ("x", "encoder_map")),
    "input_projection": (InputProjection, ("x",)),
}


def part_name(factory: Callable[..., Any]) -> str:
    """`segbench.models.upsample.MaxUnpool` for a class or a Hydra partial of one."""
    target = getattr(factory, "func", factory)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def build_part(kind: str, factory: Callable[..., nn.Module], where: str, **arguments: int) -> nn.Module:
    """`factory(**arguments)`, checked against the contract of `kind` (upsample, densify, skip, input_projection).

    `where` says which stage asked (e.g. "decoder stage 1"), for the message.
    """
    protocol, forward_arguments = CONTRACTS[kind]
    name, contract = part_name(factory), protocol.__name__
    call = ", ".join(f"{key}={value}" for key, value in arguments.items())
    try:
        part = factory(**arguments)
    except TypeError as error:
        raise PartContractError(
            f"{where} {kind} {name}: the {contract} contract builds it as factory({call}), which it refused ({error})"
        ) from error
    if not isinstance(part, nn.Module):
        raise PartContractError(f"{where} {kind} {name}: a part must be a torch.nn.Module, got {type(part).__name__}")
    if not isinstance(part, protocol):
        missing = [method for method in ("forward", "kept_from_encoder") if hasattr(protocol, method)]
        missing = [method for method in missing if not callable(getattr(part, method, None))]
        raise PartContractError(f"{where} {kind} {name}: the {contract} contract needs {', '.join(missing)}()")
    parameters = list(inspect.signature(part.forward).parameters.values())
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_varargs = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    required = [p for p in positional if p.default is p.empty]
    if not takes_varargs and not len(required) <= len(forward_arguments) <= len(positional):
        raise PartContractError(
            f"{where} {kind} {name}: the {contract} contract's forward takes ({', '.join(forward_arguments)}), "
            f"not ({', '.join(p.name for p in positional)})"
        )
    return part
