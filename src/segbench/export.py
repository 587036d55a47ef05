"""ONNX export of a trained network (Sec. 3's encoder-decoder as it runs at inference), any input size.

The graph takes `image`, float32 RGB in 0-255 of shape [batch, 3, height, width] as the networks do
(`segbench.inference.predict_labels`), and gives `logits` [batch, K, height, width]; batch, height and
width are free. It is what `net.eval()(image)` computes: pooling indices are the encoder's packed 2-bit
codes (`segbench.models.packed_indices`), which the dynamo exporter writes as plain ONNX ops, so
onnxruntime unpools every value where PyTorch does. (ONNX's MaxUnpool reads flat indices over the whole
tensor where PyTorch's are per plane, and the int64 path would export to it and unpool elsewhere.)
"""

from __future__ import annotations

import importlib.util
import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from torch import nn

from segbench.errors import SegbenchError, first_line
from segbench.models.config import build_network
from segbench.pretrained import load_predictor
from segbench.utils.hydra_callbacks import write_done_file

log = logging.getLogger(__name__)

FORMATS = ("onnx",)
# Traced at a batch of 2 and a size at which no map is 1 wide or high (a size of 1 would be taken for a
# constant): VGG16's fifth pooling leaves 4x9, packed 4x3. The exported graph accepts any size.
EXAMPLE_SHAPE = (2, 3, 97, 259)


def exportable(net: nn.Module, name: str, drop_refine: bool = False) -> nn.Module:
    """`net` in eval mode and contiguous memory format, ready to trace; refuses a test-time refinement.

    DeepLab-LargeFOV-denseCRF's dense CRF (Sec. 4) runs in pydensecrf's C++ code, which ONNX cannot
    express: with drop_refine the network is exported without it (DeepLab-LargeFOV's own scores).
    """
    if getattr(net, "refine", None) is not None:
        refine = type(net.refine).__name__
        if not drop_refine:
            raise SegbenchError(
                f"{name}: its test-time {refine} (DeepLab-LargeFOV-denseCRF's CRF, Sec. 4) cannot be exported to ONNX; "
                "pass drop_refine=true to export the network without it"
            )
        log.warning("%s: exporting the network without its %s (drop_refine=true)", name, refine)
        net.refine = None
    return net.eval().to(memory_format=torch.contiguous_format)


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's and its optimiser's INFO lines (hundreds per network) and torch's notices are not the
    user's business; warnings and errors still show."""
    loggers = [logging.getLogger(name) for name in ("onnx_ir", "onnxscript", "torch.onnx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def export_onnx(
    net: nn.Module,
    path: str | Path,
    example_shape: Sequence[int] = EXAMPLE_SHAPE,
    output_names: Sequence[str] = ("logits",),
    dynamic: bool = True,
) -> Path:
    """Write `net` (eval mode) to `path` as ONNX with dynamic batch, height and width; returns the path.

    `net` maps an image batch to its output(s), named `output_names`; the example only fixes dtypes and ranks.
    `dynamic=False` fixes every size to the example's: a graph for that one shape, which exports in a fraction
    of the time (the conformance suite's parity check at one size).
    """
    missing = [package for package in ("onnx", "onnxscript") if importlib.util.find_spec(package) is None]
    if missing:
        raise SegbenchError(f"ONNX export needs {' and '.join(missing)}: pip install -e '.[export]'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net.eval()
    example = torch.rand(*example_shape, generator=torch.Generator().manual_seed(0)) * 255
    # DYNAMIC, not named Dims: ceil-mode pooling and the packing make guards (2 * ((h - 1) // 2) < h, ...)
    # that hold at every size but that the constraint solver cannot prove; named Dims turn them into errors,
    # DYNAMIC only fails if a size would become a constant.
    free = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC} if dynamic else None
    try:
        with torch.no_grad(), _quiet_exporter():
            program = torch.onnx.export(
                net,
                (example,),
                dynamo=True,
                input_names=["image"],
                output_names=list(output_names),
                dynamic_shapes=(free,) if dynamic else None,
                verbose=False,
            )
    except Exception as error:  # the exporter raises many types, each with a long report
        raise SegbenchError(f"torch.onnx.export failed for {type(net).__name__}: {first_line(error)[:300]}") from None
    import onnx

    model = program.model_proto
    if dynamic:
        _name_free_dims(model, ("batch", None, "height", "width"))
    onnx.save(model, str(path))
    return path


def _name_free_dims(model, names: Sequence[str | None]) -> None:
    """Call the exporter's symbols for the input's free sizes (s0, s53, ...) `names`, wherever they appear:
    inputs, outputs and the intermediate shapes onnxruntime reports."""
    input_dims = model.graph.input[0].type.tensor_type.shape.dim
    renames = {dim.dim_param: name for dim, name in zip(input_dims, names) if dim.dim_param and name}
    if not renames:
        return
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, renames)) + r")\b")
    graph = model.graph
    for value in (*graph.input, *graph.output, *graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_param = pattern.sub(lambda match: renames[match.group(1)], dim.dim_param)


def onnxruntime_check(net: nn.Module, path: Path, shape: Sequence[int]) -> dict[str, float] | None:
    """Max |logit difference| and argmax agreement of onnxruntime against `net` on one random image batch,
    or None without onnxruntime."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    image = torch.rand(*shape, generator=torch.Generator().manual_seed(1)) * 255
    with torch.no_grad():
        expected = net(image)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"image": image.numpy()})
    logits = torch.from_numpy(logits)
    return {
        "max_abs_logit_difference": (logits - expected).abs().max().item(),
        "argmax_agreement": (logits.argmax(1) == expected.argmax(1)).double().mean().item(),
    }


def _model_choice() -> str | None:
    return HydraConfig.get().runtime.choices.get("model") if HydraConfig.initialized() else None


def export(cfg: DictConfig) -> Path:
    """`python src/export.py ckpt_path=... [format=onnx] [out=...] [size=[H,W]]`, or `model=<name>` (random weights)."""
    if cfg.format not in FORMATS:
        raise SegbenchError(f"format={cfg.format}: segbench exports {', '.join(FORMATS)}")
    model = _model_choice()
    if cfg.get("ckpt_path"):
        if model is not None:
            raise SegbenchError(f"ckpt_path and model={model} given: a checkpoint rebuilds its own network, pass one")
        name = f"ckpt_path={cfg.ckpt_path}"
        net = load_predictor(cfg.ckpt_path).net  # a Lightning checkpoint, or a weights file such as the shipped one
        default_out = Path(cfg.ckpt_path).with_suffix(".onnx")
    elif model is not None:
        name = f"model={model}"
        torch.manual_seed(cfg.seed)
        net = build_network(cfg.model)
        default_out = Path(cfg.paths.output_dir) / f"{model.replace('/', '_')}.onnx"
    else:
        raise SegbenchError(
            "ckpt_path is required: python src/export.py ckpt_path=/path/to/checkpoint.ckpt "
            "(or model=<name> for random weights)"
        )
    net = exportable(net, name, cfg.drop_refine)
    size = list(cfg.size) if cfg.get("size") else None
    if size is None:
        path = export_onnx(net, cfg.out or default_out)
    else:
        if len(size) != 2 or min(size) < 2:
            raise SegbenchError(f"size={size}: give the one image size the graph takes as [height, width], each >= 2")
        path = export_onnx(net, cfg.out or default_out, example_shape=(1, 3, *size), dynamic=False)
    log.info("%s: wrote %s (%.1f MB)", name, path, path.stat().st_size / 1e6)
    # a fixed-size graph runs at its own size only
    check_size = (size if size is not None else list(cfg.check_size)) if cfg.check_size else None
    check = None
    if check_size:
        check = onnxruntime_check(net, path, (1, 3, *check_size))
        if check is None:
            log.info("onnxruntime is not installed: the exported model was not run")
        else:
            log.info(
                "onnxruntime at %s: max |logit difference| %.2e, argmax agreement %.4f%%",
                "x".join(map(str, check_size)),
                check["max_abs_logit_difference"],
                100 * check["argmax_agreement"],
            )
    # beside the job's config: what was written and how it ran (a sweep's closing check counts the job done by it)
    record = {
        "source": name,
        "onnx": str(path),
        "bytes": path.stat().st_size,
        "input_shape": ["batch", 3, "height", "width"] if size is None else [1, 3, *size],
        "onnxruntime_check": check,
    }
    write_done_file(cfg, "export.json", record)
    print(path, flush=True)
    return path
