"""ONNX export: onnxruntime computes what PyTorch's eval mode computes, at any batch and image size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_entry_points import QUIET_TRAINING, TINY_SYNTHETIC, check, run
from torch import nn

from segbench.checkpoints import load_task
from segbench.conformance import LogitsAndIndices, onnx_parity, with_batch_norm_statistics
from segbench.errors import SegbenchError
from segbench.export import export_onnx, exportable
from segbench.pretrained import shipped_weights
from segbench.utils.config import compose_model, register_resolvers

onnxruntime = pytest.importorskip("onnxruntime")

SIZES = [(360, 480), (180, 240), (101, 77)]  # CamVid's, the CPU recipe's, and an odd one (partial windows)


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
        (("model=segnet_basic", "size=[45]"), "error: size=[45]: give the one image size the graph takes as [height,"),
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
    """train.py one epoch -> export.py ckpt_path=... -> the .onnx beside the checkpoint -> onnxruntime = PyTorch
    at any size."""
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
    # one graph of free sizes at CamVid's, the CPU recipe's and an odd one (partial windows), batch 1, 1, 3
    # (every config is checked at one size by the conformance suite, tests/conformance)
    for shape in ((1, 3, *SIZES[0]), (1, 3, *SIZES[1]), (3, 3, *SIZES[2])):
        image = torch.rand(*shape, generator=generator) * 255
        (logits,) = session.run(["logits"], {"image": image.numpy()})
        assert logits.shape == (shape[0], 11, *shape[2:])
        (reference_logits,) = with_indices.run(["logits"], {"image": image.numpy()})
        assert abs(logits - reference_logits).max() <= 1e-5
        onnx_parity(net, with_indices, image)


@pytest.mark.slow
def test_export_py_takes_the_shipped_weights_file_and_fixes_the_size_on_request(tmp_path):
    """The demo's model (a weights-only .pt, not a Lightning checkpoint) exports, here as a graph of one size,
    and onnxruntime computes it at that size and refuses any other."""
    shipped = shipped_weights()
    out = tmp_path / "segnet_basic_camvid.onnx"
    overrides = (f"ckpt_path={shipped}", f"out={out}", "size=[45,61]", f"hydra.run.dir={tmp_path}/run")
    check(run("export.py", tmp_path, *overrides))
    record = json.loads((tmp_path / "run" / "export.json").read_text())
    assert record["source"] == f"ckpt_path={shipped}" and record["onnx"] == str(out) and out.is_file()
    assert record["input_shape"] == [1, 3, 45, 61] and record["onnxruntime_check"]["argmax_agreement"] > 0.999
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 3, 45, 61]
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        session.run(["logits"], {"image": torch.zeros(1, 3, 46, 61).numpy()})
