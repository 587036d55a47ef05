"""The conformance suite: what every model config must honour for the rest of segbench to rely on it.

Run over every config it finds (`conf/model/**`, plus a user's config folder), like
segmentation_models.pytorch's shared model tester, so that a new variant needs its YAML and nothing else:

    make conformance                      every check on every config of conf/
    make conformance CONF=/path/my_conf   ... and on the configs of my_conf/model/

CI runs every check on the configs whose `meta.conformance` is `full` and the cheap ones (`CHEAP`) on the
rest (VGG16 networks, whose full checks take minutes). Each check raises `ConformanceError` with one line
saying what is wrong and, for a parameter pin, the count to write.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.nn import functional as F

from segbench.benchmarks.measure_efficiency import stored_bytes
from segbench.errors import SegbenchError
from segbench.models import count_parameters
from segbench.models.batchnorm_folding import count_batchnorms, fold_batchnorm
from segbench.models.config import ModelMeta, build_network, model_meta, network_config
from segbench.models.encoder import EncoderLevel
from segbench.models.packed_indices import unpack_codes
from segbench.study import model_configs
from segbench.utils.config import CONF_DIR, register_resolvers

CHEAP = ("params", "shapes", "bf16")
# Environment of `make conformance`: extra config folders (os.pathsep-separated) and whether to run everything.
EXTRA_CONF_DIRS = "SEGBENCH_CONF"
ALL_CHECKS = "SEGBENCH_CONFORMANCE_ALL"


class ConformanceError(SegbenchError, AssertionError):
    """A model config that breaks what segbench relies on."""


def extra_conf_dirs() -> list[Path]:
    return [Path(folder).resolve() for folder in os.environ.get(EXTRA_CONF_DIRS, "").split(os.pathsep) if folder]


@dataclass(frozen=True)
class Variant:
    """One model config, composed as `python src/train.py model=<name>` would (with the default data set's K)."""

    name: str
    conf_dirs: tuple[Path, ...] = ()

    @cached_property
    def config(self) -> DictConfig:
        register_resolvers()
        overrides = [f"model={self.name}"]
        if self.conf_dirs:
            overrides.append(f"hydra.searchpath=[{','.join(f'file://{folder}' for folder in self.conf_dirs)}]")
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
            return compose("train", overrides=overrides)

    @property
    def meta(self) -> ModelMeta:
        return model_meta(self.config.model)

    @property
    def num_classes(self) -> int:
        return int(self.config.dataset.num_classes)

    @property
    def file(self) -> str:
        """The config file Hydra composes: conf/'s where both have one (the primary config folder is searched first)."""
        for folder in (CONF_DIR, *self.conf_dirs):
            if (path := Path(folder) / "model" / f"{self.name}.yaml").is_file():
                return str(path)
        return f"model/{self.name}.yaml"

    def build(self, **changes: object) -> nn.Module:
        """The network, seeded as train.py seeds it; `changes` set options of the model config (dotted keys)."""
        model = network_config(self.config.model)
        for key, value in changes.items():
            OmegaConf.update(model, key, value, merge=False)
        torch.manual_seed(0)
        return build_network(model)

    def sizes(self, net: nn.Module) -> tuple[tuple[int, int], tuple[int, int]]:
        """An even size whose every pooling window is whole, and an odd one with partial windows at each level."""
        depth = len(net.encoder.blocks)
        step = 2**depth
        return (2 * step, 3 * step), (2 * step - 5, 3 * step - 11)


def variants(conf_dirs: Sequence[Path] = ()) -> list[Variant]:
    """Every model config of conf/ and of `conf_dirs` (a name conf/ has already is conf/'s config)."""
    found = {name: Variant(name, tuple(conf_dirs)) for name in model_configs(CONF_DIR)}
    for folder in conf_dirs:
        found.update({name: Variant(name, tuple(conf_dirs)) for name in model_configs(folder)})
    return list(found.values())


def image(size: Sequence[int], batch: int = 1, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(batch, 3, *size, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 255


def with_batch_norm_statistics(net: nn.Module, seed: int = 0) -> nn.Module:
    """Eval-mode BN that is neither the identity nor training mode's batch statistics: random running
    statistics and affine parameters, so that a graph exporting BN any other way gives other logits."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                shape = module.running_mean.shape
                module.running_mean.copy_(torch.randn(shape, generator=generator))
                module.running_var.copy_(torch.rand(shape, generator=generator) * 3 + 0.25)
                module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(shape, generator=generator) * 0.5)
        # Logits of a trained network's scale (a standard deviation of 3), for which 1e-3 is a tolerance of
        # rounding: random weights give thousands.
        if isinstance(net.head, nn.Identity):  # FCN scores inside its decoder; its logits keep their scale
            return net
        scale = 3 / net.eval()(image((64, 96), seed=seed)).std()
        net.head.weight.mul_(scale)
        net.head.bias.mul_(scale)
    return net


def fail_unless(condition: bool, variant: Variant, message: str) -> None:
    if not condition:
        raise ConformanceError(f"{variant.file}: {message}")


def check_params(variant: Variant) -> None:
    """The exact trainable parameter count is pinned beside the config, as `meta.params`."""
    measured = count_parameters(variant.build())
    pinned = variant.meta.params
    fail_unless(pinned is not None, variant, f"no parameter pin: add `meta: {{params: {measured}}}` (measured)")
    fail_unless(pinned == measured, variant, f"meta.params is {pinned}, the network has {measured}")


def check_shapes(variant: Variant) -> None:
    """Logits of the input's size and K channels, finite, at an even and an odd size."""
    net = variant.build().eval()
    for size in variant.sizes(net):
        with torch.no_grad():
            logits = net(image(size))
        fail_unless(logits.shape == (1, variant.num_classes, *size), variant, f"logits {tuple(logits.shape)} at {size}")
        fail_unless(bool(torch.isfinite(logits).all()), variant, f"non-finite logits at {size}")


def check_training_step(variant: Variant) -> None:
    """A training forward (batch statistics) and backward at an odd size: every trainable parameter that takes part
    gets a finite gradient."""
    net = variant.build().train()
    _, odd = variant.sizes(net)
    logits = net(image(odd, batch=2))
    fail_unless(logits.shape == (2, variant.num_classes, *odd), variant, "training logits of another shape")
    logits.logsumexp(1).mean().backward()
    gradients = [p.grad for p in net.parameters() if p.requires_grad and p.grad is not None]
    fail_unless(bool(gradients), variant, "no parameter got a gradient")
    fail_unless(all(bool(torch.isfinite(g).all()) for g in gradients), variant, "a non-finite gradient")


def check_bf16(variant: Variant) -> None:
    """A bf16-mixed forward (the fast path where a CPU has bf16 units) gives logits of the right shape, finite."""
    net = variant.build().eval()
    even, _ = variant.sizes(net)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = net(image(even))
    fail_unless(logits.shape == (1, variant.num_classes, *even), variant, "bf16 logits of another shape")
    fail_unless(bool(torch.isfinite(logits.float()).all()), variant, "non-finite bf16 logits")


def check_channels_last(variant: Variant) -> None:
    """The channels-last layout (one of the compute paths `precision: auto` may pick) gives the same logits."""
    net = with_batch_norm_statistics(variant.build()).eval()
    _, odd = variant.sizes(net)
    with torch.no_grad():
        expected = net(image(odd))
        got = net.to(memory_format=torch.channels_last)(image(odd).contiguous(memory_format=torch.channels_last))
    # Another conv algorithm sums in another order: fp32 rounding, relative to the logits' size.
    difference, scale = (got - expected).abs().max().item(), max(1.0, expected.abs().max().item())
    fail_unless(difference <= 1e-3 * scale, variant, f"channels-last logits differ by {difference:.3g} of {scale:.3g}")


def check_packed_indices(variant: Variant) -> None:
    """Packed 2-bit indices (inference) and max_pool2d's int64 ones give bit-identical logits (Sec. 3)."""
    packed = variant.build(**{"encoder.indices": "packed"}).eval()
    flat = variant.build(**{"encoder.indices": "int64"}).eval()
    _, odd = variant.sizes(packed)
    with torch.no_grad():
        fail_unless(torch.equal(packed(image(odd)), flat(image(odd))), variant, "packed and int64 indices differ")


def with_level_replaced(levels: list[EncoderLevel], depth_index: int, level: EncoderLevel) -> list[EncoderLevel]:
    return levels[:depth_index] + [level] + levels[depth_index + 1 :]


def with_argmax_moved_across_each_window(level: EncoderLevel) -> EncoderLevel:
    """Same pooled values, each argmax moved to the other column of its 2x2 window.

    Eval mode keeps packed 2-bit codes 2 * dy + dx, four to a byte: XOR with 0b01010101 flips every dx.
    """
    return replace(level, indices=level.indices ^ 0b01010101)


def decoder_inputs(net: nn.Module, x: torch.Tensor) -> list[EncoderLevel]:
    """The encoder levels the decoder receives in a real forward pass, recorded by a hook."""
    received = []
    hook = net.decoder.register_forward_pre_hook(lambda module, args: received.append(args[0]))
    try:
        net(x)
    finally:
        hook.remove()
    return received[0]


def output_changes(decoder: nn.Module, levels: list[EncoderLevel], changed: list[EncoderLevel]) -> bool:
    """Whether the decoder's output differs between the two level lists (bit-identical or clearly different)."""
    difference = (decoder(changed) - decoder(levels)).abs().max().item()
    if 0 < difference <= 1e-3:
        raise ConformanceError(f"an ambiguous change of the decoder's output ({difference:.3g})")
    return difference > 0


def check_stored_bytes(variant: Variant) -> None:
    """Table 1's storage is what the decoder really reads at the first encoder level, in the efficiency table's bytes.

    A hook records the levels the decoder receives; moving every pooling argmax changes the output iff the
    indices are declared kept (`kept_from_encoder`), shifting the level's pooled map (in the list handed to the
    decoder only) changes it iff a float map is, and every declared map is derived from that pooled map and no
    larger. The declared tensors' bytes are the efficiency table's `stored_bytes`.
    """
    net = variant.build().eval()
    even, _ = variant.sizes(net)
    with torch.no_grad():
        levels = decoder_inputs(net, image(even))
        level = levels[0]
        kept = net.decoder.kept_from_encoder(levels, 0)
        shifted = with_level_replaced(levels, 0, replace(level, pooled=level.pooled + 1))
        kept_after_shift = net.decoder.kept_from_encoder(shifted, 0)
        declares_indices = any(not t.is_floating_point() and torch.equal(t, level.indices) for t in kept)
        maps = [(t, moved) for t, moved in zip(kept, kept_after_shift, strict=True) if t.is_floating_point()]
        fail_unless(
            len(kept) == declares_indices + len(maps), variant, "kept_from_encoder holds neither indices nor maps"
        )
        reads_indices = level.indices is not None and output_changes(
            net.decoder, levels, with_level_replaced(levels, 0, with_argmax_moved_across_each_window(level))
        )
        reads_map = output_changes(net.decoder, levels, shifted)
        segmenter_kept = net.kept_from_encoder(image(even))
    fail_unless(reads_indices == declares_indices, variant, f"reads the indices: {reads_indices}, declares them kept")
    fail_unless(reads_map == bool(maps), variant, f"reads the pooled map: {reads_map}, declares a map kept")
    fail_unless(
        all(not torch.equal(t, moved) for t, moved in maps), variant, "a kept map not derived from the encoder's"
    )
    fail_unless(
        all(t.numel() <= level.pooled.numel() for t, _ in maps), variant, "a kept map larger than the encoder's"
    )
    fail_unless(stored_bytes(segmenter_kept) == stored_bytes(kept), variant, "Segmenter.kept_from_encoder disagrees")


def check_batchnorm_folding(variant: Variant) -> None:
    """BN folded into the convolutions (inference) leaves the logits unchanged (float64, 1e-5) and no BN."""
    # In float64: in fp32 a fold's rounding can flip a near-tie of a pooling window and move a value elsewhere.
    net = with_batch_norm_statistics(variant.build()).eval().double()
    _, odd = variant.sizes(net)
    folded = fold_batchnorm(net)
    with torch.no_grad():
        expected, got = net(image(odd, dtype=torch.float64)), folded(image(odd, dtype=torch.float64))
    left = count_batchnorms(folded)
    fail_unless(left == 0 or count_batchnorms(net) == 0, variant, f"{left} batch norms left after folding")
    difference = (got - expected).abs().max().item()
    fail_unless(
        difference < 1e-5 * max(1.0, expected.abs().max().item()), variant, f"folding moved logits {difference}"
    )


class LogitsAndIndices(nn.Module):
    """The network's logits and each encoder level's pooling indices (packed codes): exported for the checks only."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        levels = self.net.encoder(self.net.input_norm(image))
        return self.net.head(self.net.decoder(levels)), *(level.indices for level in levels)


def window_values(feature: torch.Tensor) -> torch.Tensor:
    """The four values of each 2x2 pooling window (ceil mode, -inf outside the map): N, C, h, w, 4."""
    height, width = feature.shape[-2:]
    padded = F.pad(feature, (0, width % 2, 0, height % 2), value=float("-inf"))
    return padded.unflatten(3, (-1, 2)).unflatten(2, (-1, 2)).permute(0, 1, 2, 4, 3, 5).flatten(-2)


def assert_same_decided_argmax(logits: torch.Tensor, expected: torch.Tensor) -> None:
    """The same class at every pixel whose two best classes differ by more than twice the largest logit
    difference (elsewhere rounding decides, as between any two fp32 runtimes), and that is nearly all: 0.1% of
    the pixels may be near-ties, or two at a small size."""
    best, second = expected.topk(2, dim=1).values.unbind(1)
    decided = best - second > 2 * (logits - expected).abs().max()
    assert torch.equal(logits.argmax(1)[decided], expected.argmax(1)[decided])
    assert (~decided).sum().item() <= max(2, decided.numel() // 1000), f"{(~decided).sum().item()} near-ties"


def onnx_parity(net: nn.Module, session, image: torch.Tensor) -> dict[str, float]:
    """onnxruntime against PyTorch on one batch; asserts what must hold, returns the measured differences.

    A pooling window whose two largest values differ by less than the rounding of the convolutions before
    it has no well-defined argmax: PyTorch itself moves such argmaxes between its own conv backends (with
    random weights at 360x480 a few windows do, and the logits then differ locally by units). So: every
    argmax onnxruntime places elsewhere than PyTorch must be such a tie, and given onnxruntime's argmaxes,
    PyTorch's decoder must give onnxruntime's logits within 1e-3 and the same (decided) class per pixel.
    """
    features = []
    hooks = [
        block.features.register_forward_hook(lambda m, a, out: features.append(out)) for block in net.encoder.blocks
    ]
    try:
        with torch.no_grad():
            levels = net.encoder(net.input_norm(image))
            torch_logits = net.head(net.decoder(levels))
    finally:
        for hook in hooks:
            hook.remove()
    onnx_logits, *onnx_indices = (torch.from_numpy(t) for t in session.run(None, {"image": image.numpy()}))
    moved = 0
    for level, feature, indices in zip(levels, features, onnx_indices):
        assert indices.dtype == level.indices.dtype == torch.uint8 and indices.shape == level.indices.shape
        width = level.pooled.shape[-1]
        ours, theirs = unpack_codes(level.indices, width).long(), unpack_codes(indices, width).long()
        values = window_values(feature)
        gap = (values.gather(-1, ours[..., None]) - values.gather(-1, theirs[..., None])).abs()
        assert gap.max() <= 1e-5 * feature.abs().max(), "onnxruntime picked a window position that is not a maximum"
        moved += int((ours != theirs).sum())
    with torch.no_grad():
        given = [replace(level, indices=indices) for level, indices in zip(levels, onnx_indices)]
        logits_given_onnx_indices = net.head(net.decoder(given))
    difference = (onnx_logits - logits_given_onnx_indices).abs().max().item()
    assert difference <= 1e-3
    assert_same_decided_argmax(onnx_logits, logits_given_onnx_indices)
    return {
        "moved_argmaxes": moved,
        "max_abs_logit_difference": (onnx_logits - torch_logits).abs().max().item(),
        "argmax_agreement": (onnx_logits.argmax(1) == torch_logits.argmax(1)).double().mean().item(),
        "max_abs_logit_difference_given_indices": difference,
    }


def check_onnx(variant: Variant, folder: Path) -> None:
    """Exported to ONNX at one small odd size (a graph of fixed shape: `make export`'s dynamic sizes are tested
    apart), onnxruntime computes PyTorch's logits (`onnx_parity`)."""
    import onnxruntime

    from segbench.export import export_onnx, exportable

    net = with_batch_norm_statistics(exportable(variant.build(), variant.name))
    _, odd = variant.sizes(net)
    names = ["logits", *(f"indices{level}" for level in range(len(net.encoder.blocks)))]
    exported = LogitsAndIndices(net).eval()
    with torch.no_grad():
        if any(level is None for level in exported(image(odd))[1:]):
            exported, names = net.eval(), names[:1]
    path = export_onnx(exported, folder / "net.onnx", example_shape=(1, 3, *odd), output_names=names, dynamic=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if len(names) > 1:
        onnx_parity(net, session, image(odd, seed=1))
        return
    (logits,) = (torch.from_numpy(t) for t in session.run(None, {"image": image(odd, seed=1).numpy()}))
    with torch.no_grad():
        expected = net(image(odd, seed=1))
    assert_same_decided_argmax(logits, expected)


CHECKS: dict[str, Callable[..., None]] = {
    "params": check_params,
    "shapes": check_shapes,
    "training_step": check_training_step,
    "bf16": check_bf16,
    "channels_last": check_channels_last,
    "packed_indices": check_packed_indices,
    "stored_bytes": check_stored_bytes,
    "batchnorm_folding": check_batchnorm_folding,
    "onnx": check_onnx,
}


def applies(variant: Variant, check: str) -> str | None:
    """None when `check` runs on `variant` here, else why not (a pytest skip reason)."""
    if check not in CHEAP and variant.meta.conformance == "cheap" and not os.environ.get(ALL_CHECKS):
        return f"meta.conformance: cheap ({variant.file}); make conformance runs it"
    if check in ("packed_indices",) and variant.config.model.encoder.get("indices") in (None, "none"):
        return "keeps no pooling indices"
    return None
