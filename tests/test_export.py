"""ONNX export: onnxruntime computes what PyTorch's eval mode computes, at any batch and image size."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import with_batch_norm_statistics
from test_entry_points import QUIET_TRAINING, TINY_SYNTHETIC, check, run
from torch import nn
from torch.nn import functional as F

from segbench.checkpoints import load_task
from segbench.errors import SegbenchError
from segbench.export import export_onnx, exportable
from segbench.models.packed_indices import unpack_codes
from segbench.paper import TABLE1
from segbench.utils.config import compose_model, register_resolvers

onnxruntime = pytest.importorskip("onnxruntime")

SIZES = [(360, 480), (180, 240), (101, 77)]  # CamVid's, the CPU recipe's, and an odd one (partial windows)


class LogitsAndIndices(nn.Module):
    """The network's logits and each encoder level's pooling indices (packed codes): exported for the test only."""

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
    difference (elsewhere rounding decides, as between any two fp32 runtimes), and that is nearly all."""
    best, second = expected.topk(2, dim=1).values.unbind(1)
    decided = best - second > 2 * (logits - expected).abs().max()
    assert torch.equal(logits.argmax(1)[decided], expected.argmax(1)[decided])
    assert decided.double().mean() > 0.999


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


def check_at_sizes(model: str, sizes: list[tuple[int, int]], tmp_path: Path) -> None:
    """Export `model` (non-trivial BN, logits and indices) once, then compare at each size (batch 1, then 2)."""
    register_resolvers()
    torch.manual_seed(0)
    net = with_batch_norm_statistics(exportable(compose_model(model), f"model={model}"))
    names = ["logits", *(f"indices{level}" for level in range(len(net.encoder.blocks)))]
    path = export_onnx(LogitsAndIndices(net).eval(), tmp_path / "net.onnx", output_names=names)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [d for d in session.get_inputs()[0].shape] == ["batch", 3, "height", "width"]
    generator = torch.Generator().manual_seed(1)
    for index, (height, width) in enumerate(sizes):
        image = torch.rand(1 + (index == len(sizes) - 1), 3, height, width, generator=generator) * 255
        parity = onnx_parity(net, session, image)
        print(model, height, width, parity)


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(TABLE1))
def test_onnxruntime_computes_every_table1_variant_at_any_size(model, tmp_path):
    check_at_sizes(model, SIZES, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["table3/segnet", "table3/deconvnet"])
def test_onnxruntime_computes_the_table3_networks_that_unpool(model, tmp_path):
    """VGG16's five levels (Sec. 4), at smaller sizes: an odd one, then one of 3x4 at the fifth pooling."""
    check_at_sizes(model, [(101, 77), (96, 128)], tmp_path)


def test_exportable_refuses_the_dense_crf_unless_dropped():
    """DeepLab-LargeFOV-denseCRF's CRF (Sec. 4) runs in pydensecrf: refused by name, or left out on request."""

    class Refined(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.refine = nn.Identity()

    with pytest.raises(SegbenchError, match=r"^model=x: its test-time Identity .* cannot be exported to ONNX; pass"):
        exportable(Refined(), "model=x")
    assert exportable(Refined(), "model=x", drop_refine=True).refine is None


def last_line(result) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ((), "error: ckpt_path is required: python src/export.py ckpt_path=/path/to/checkpoint.ckpt"),
        (("model=segnet_basic", "format=tflite"), "error: format=tflite: segbench exports onnx"),
        (("ckpt_path=missing.ckpt",), "error: ckpt_path=missing.ckpt is not a file"),
        (
            ("model=table3/deeplab_largefov_densecrf",),
            "error: model=table3/deeplab_largefov_densecrf: its test-time DenseCRF (DeepLab-LargeFOV-denseCRF's CRF, "
            "Sec. 4) cannot be exported to ONNX; pass drop_refine=true to export the network without it",
        ),
    ],
)
def test_export_errors_are_one_line(tmp_path, overrides, expected):
    line = last_line(run("export.py", tmp_path, *overrides, f"hydra.run.dir={tmp_path}/run"))
    assert line.startswith(expected)


@pytest.mark.slow
def test_export_py_writes_a_checkpoints_network_that_onnxruntime_runs_at_any_size(tmp_path):
    """train.py one epoch -> export.py ckpt_path=... -> the .onnx beside the checkpoint -> onnxruntime = PyTorch."""
    check(
        run(
            "train.py",
            tmp_path,
            *TINY_SYNTHETIC,
            *QUIET_TRAINING,
            "trainer.max_epochs=1",
            f"hydra.run.dir={tmp_path}/run",
        )
    )
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    result = check(run("export.py", tmp_path, f"ckpt_path={checkpoint}", f"hydra.run.dir={tmp_path}/export"))
    path = checkpoint.with_suffix(".onnx")
    assert result.stdout.strip().splitlines()[-1] == str(path) and path.is_file()
    assert "onnxruntime at 101x77: max |logit difference|" in (tmp_path / "export" / "export.log").read_text()
    record = json.loads((tmp_path / "export" / "export.json").read_text())
    assert record["onnx"] == str(path) and record["bytes"] == path.stat().st_size
    assert record["onnxruntime_check"]["argmax_agreement"] > 0.999
    net = exportable(load_task(checkpoint).net, "ckpt").eval().to(memory_format=torch.contiguous_format)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("image", ["batch", 3, "height", "width"])]
    # The same network exported with its pooling indices as outputs: checked against PyTorch up to pooling
    # near-ties (onnx_parity; a trained net can have one at 180x240, moving logits locally by ~0.5), and
    # export.py's file must compute exactly its logits.
    names = ["logits", *(f"indices{level}" for level in range(len(net.encoder.blocks)))]
    reference = export_onnx(LogitsAndIndices(net).eval(), tmp_path / "with_indices.onnx", output_names=names)
    with_indices = onnxruntime.InferenceSession(str(reference), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(0)
    for shape in ((1, 3, 48, 64), (3, 3, 101, 77), (1, 3, 180, 240)):
        image = torch.rand(*shape, generator=generator) * 255
        (logits,) = session.run(["logits"], {"image": image.numpy()})
        assert logits.shape == (shape[0], 11, *shape[2:])
        (reference_logits,) = with_indices.run(["logits"], {"image": image.numpy()})
        assert abs(logits - reference_logits).max() <= 1e-5
        onnx_parity(net, with_indices, image)
