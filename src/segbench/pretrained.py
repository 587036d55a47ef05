"""Trained networks as weights-only files: the one shipped in the package, and any checkpoint, for inference.

A weights file is `torch.save` of a plain dict — the network's state dict, its model config (YAML), the
input size it was trained at and its class names — so `torch.load(weights_only=True)` reads it and no
pickled object can run code. Its floating tensors are stored in bfloat16 (half the bytes of fp32; the
network is trained in bf16-mixed) and loaded back as fp32. `segbench/pretrained/segnet_basic_camvid.pt` is
SegNet-Basic trained on CamVid by this project (the command, and the scores of the file itself, are in
`segbench/pretrained/segnet_basic_camvid.md`, written by `python -m segbench.pretrained ship`); predict.py and
the demo use it when no checkpoint is given.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch import nn

from segbench.checkpoints import SAFE_LOADING, load_task, read_checkpoint
from segbench.data.camvid import NATIVE_HEIGHT, NATIVE_WIDTH, VOID_INDEX
from segbench.errors import SegbenchError
from segbench.models.config import build_network
from segbench.precision import FP32, Choice, ComputePath, choose
from segbench.record.run import EvalRecord, dump, read_record
from segbench.task import SegmentationTask
from segbench.utils import exit_on_user_error
from segbench.utils.config import CONF_DIR

log = logging.getLogger(__name__)
SHIPPED_NAME = "segnet_basic_camvid"


@dataclass
class Predictor:
    """A network ready for inference, with what predicting needs to know about its training."""

    net: nn.Module
    input_resolution: tuple[int, int] | None  # [H, W] it was trained at; None: any size as given
    class_names: list[str]
    source: str  # the file it came from, for messages and the demo's model list
    ignore_index: int = VOID_INDEX  # the label its training ignored (void)
    model_config: str = ""  # the network's config (YAML): its identity in the precision cache
    compute_path: ComputePath = ComputePath(FP32, False)  # precision and layout it runs in

    def compute_in(self, precision: str, size: tuple[int, int] | None = None) -> Choice:
        """Run in `precision` ("auto": the fastest measured here for this network at `size`, by default the
        size it was trained at, else CamVid's), logging the choice in one line."""
        size = size or self.input_resolution or (NATIVE_HEIGHT, NATIVE_WIDTH)
        choice = choose(self.net, tuple(size), training=False, network=self.model_config, precision=precision)
        log.info("%s: %s", Path(self.source).name, choice.summary())
        self.compute_path = choice.path
        self.net = self.net.to(memory_format=choice.path.memory_format)
        return choice

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """The network's fp32 logits for a float image batch, computed in its precision and layout."""
        with self.compute_path.autocast():
            return self.net(images.contiguous(memory_format=self.compute_path.memory_format)).float()


def shipped_weights() -> Path:
    return Path(str(resources.files("segbench") / "pretrained" / f"{SHIPPED_NAME}.pt"))


def load_weights(path: str | Path) -> Predictor:
    """A weights file written by `save_weights`."""
    path = Path(path)
    if not path.is_file():
        raise SegbenchError(f"{path} is not a file")
    try:
        saved = torch.load(path, map_location="cpu", **SAFE_LOADING)
        net = build_network(OmegaConf.create(saved["model_config"]))
        net.load_state_dict(saved["state_dict"])  # copied into the network's fp32 tensors
    except (KeyError, RuntimeError, OSError, ValueError) as error:
        raise SegbenchError(f"{path} is not a segbench weights file ({type(error).__name__}: {error})") from None
    resolution = saved.get("input_resolution")
    return Predictor(
        net.eval(),
        tuple(resolution) if resolution else None,
        list(saved["class_names"]),
        str(path),
        saved.get("ignore_index", VOID_INDEX),  # files written before it was stored: CamVid's void
        saved["model_config"],
    )


def load_predictor(ckpt_path: str | Path | None) -> Predictor:
    """A Lightning checkpoint or a weights file (.pt) by path; the shipped weights when None."""
    if ckpt_path is None:
        return load_weights(shipped_weights())
    if Path(ckpt_path).suffix == ".pt":
        return load_weights(ckpt_path)
    task = load_task(ckpt_path)
    resolution = task.hparams.get("data_resolution")
    return Predictor(
        task.net.eval(),
        tuple(resolution) if resolution else None,
        list(task.hparams.get("class_names") or []),
        str(ckpt_path),
        task.hparams.get("ignore_index", VOID_INDEX),
        task.hparams.model_config,
    )


def start_from(net: nn.Module, path: str | Path) -> None:
    """`init_from=`: copy into `net` the weights of a checkpoint or weights file of the same network, e.g. to
    fine-tune the shipped model at a larger resolution (the optimiser and schedule start afresh)."""
    if not Path(path).is_file():
        raise SegbenchError(f"init_from={path}: no such file")
    theirs = load_predictor(path).net.state_dict()
    try:  # strict: every tensor by name and shape, or the library's account of what differs
        net.load_state_dict(theirs)
    except RuntimeError as error:  # its message lists what differs over many lines: one line, cut
        differs = " ".join(str(error).split())[:300]
        raise SegbenchError(f"init_from={path}: its network is not this run's model ({differs})") from None
    log.info("init_from=%s: %d tensors copied into the network", path, len(theirs))


def weights_task(path: str | Path) -> SegmentationTask:
    """A weights file as the task eval.py scores (a checkpoint's, without its optimizer state)."""
    predictor = load_weights(path)
    return SegmentationTask(
        net=predictor.net,
        optimizer={},
        num_classes=len(predictor.class_names),
        ignore_index=predictor.ignore_index,
        class_names=predictor.class_names,
        data_resolution=predictor.input_resolution,
        model_config=predictor.model_config,
    )


def save_weights(ckpt_path: str | Path, out: str | Path, dtype: torch.dtype = torch.bfloat16) -> Path:
    """The checkpoint's network as a weights-only file (state dict with floating tensors in `dtype`, config,
    training size, class names)."""
    checkpoint = read_checkpoint(ckpt_path)
    hparams = checkpoint["hyper_parameters"]
    state = {
        k.removeprefix("net."): (v.to(dtype) if v.is_floating_point() else v).contiguous()
        for k, v in checkpoint["state_dict"].items()
        if k.startswith("net.")
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": state,
            "model_config": hparams["model_config"],
            "input_resolution": list(hparams.get("data_resolution") or []),
            "class_names": list(hparams.get("class_names") or []),
            "ignore_index": hparams.get("ignore_index", VOID_INDEX),
        },
        out,
    )
    return out


def training_data(run_dir: Path) -> list[str]:
    """The overrides naming the data set a run trained on: its dataset= choice and dataset.* / paths.* options."""
    record = read_record(run_dir / "results.json")
    overrides = [str(o) for o in OmegaConf.load(run_dir / ".hydra" / "overrides.yaml")]
    return [f"dataset={record.choices['dataset']}", *(o for o in overrides if o.startswith(("dataset.", "paths.")))]


# The card's row is the file in fp32, whatever `precision: auto` would pick on the machine that ships it.
SCORED_IN = ("trainer.precision=32-true",)


def _eval_config(weights: Path, data: list[str], workdir: Path):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("eval", overrides=[f"ckpt_path={weights}", *data, f"paths.output_dir={workdir}"])


def score_weights(weights: Path, data: list[str], workdir: Path) -> dict:
    """The weights file scored on the test split as `python src/eval.py ckpt_path=<weights> <data>` scores it, on
    the data set the run trained on (`data`: its `training_data` overrides, and SCORED_IN): its eval.json."""
    from segbench.pipeline import evaluate

    evaluate(_eval_config(weights, data, workdir))
    return dump(read_record(workdir / "eval.json", EvalRecord))


def validation_g(weights: Path, data: list[str], workdir: Path) -> float:
    """The weights file's G on the validation split of `data`, scored as `score_weights` scores the test split."""
    from segbench.pipeline import validation_scores

    return validation_scores(_eval_config(weights, data, workdir))["val/G"]


def better_than_shipped(candidate: Path, shipped: Path, data: list[str], workdir: Path) -> str:
    """The card's line on the file `candidate` replaces, once it beats it on validation G (issue 28: select on
    validation only); a SegbenchError naming both scores when it does not."""
    ours, theirs = (validation_g(file, data, workdir / name) for file, name in ((candidate, "new"), (shipped, "old")))
    if ours <= theirs:
        raise SegbenchError(
            f"not shipped: validation G {100 * ours:.1f} does not beat {shipped}'s {100 * theirs:.1f} "
            "(both scored in fp32 on the run's validation split; --even-if-not-better ships it anyway)"
        )
    return (
        f"\n- It replaced a file of validation G {100 * theirs:.1f} with its own {100 * ours:.1f} (both scored in fp32 "
        "on the run's validation split when shipped)."
    )


def started_from(run_dir: Path) -> str:
    """The card's line on the weights a fine-tuned run started from (`init_from`), or "": read before `ship` may
    replace that very file, and naming the commit that holds it (whose card says how that file was trained)."""
    source = OmegaConf.load(run_dir / ".hydra" / "config.yaml").get("init_from")
    if not source:
        return ""
    path = Path(source)
    if not path.is_file():
        raise SegbenchError(f"{run_dir}: the run started from init_from={source}, which is no longer there")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    # The last commit that changed the file, when it is committed unchanged (ship replaces the shipped file).
    git = ["git", "-C", str(path.resolve().parent)]
    try:
        changed = subprocess.run([*git, "status", "--porcelain", "--", path.name], capture_output=True, text=True)
        last = subprocess.run([*git, "log", "-1", "--format=%h", "--", path.name], capture_output=True, text=True)
        commit = last.stdout.strip() if changed.returncode == 0 and not changed.stdout.strip() else ""
    except FileNotFoundError:  # no git on this machine: the digest alone names the file
        commit = ""
    held = f", the file of commit {commit}, whose card there says how it was trained" if commit else ""
    return f"\n- Fine-tuned: the run started from the weights of `{source}` (`init_from`; sha256 {digest}…{held})."


def model_card(
    run_dir: Path,
    data: list[str],
    weights: Path,
    evaluation: dict,
    command: str,
    run_files: Path | None = None,
    lineage: str = "",
) -> str:
    """The shipped model's card: how it was trained (the run's results.json) and what the file itself scores
    on `data`; `run_files`: where the run's small files are committed (its own folder is on the machine that
    trained it)."""
    record = read_record(run_dir / "results.json")
    overrides = OmegaConf.load(run_dir / ".hydra" / "overrides.yaml")
    train_command = "python src/train.py " + " ".join(str(o) for o in overrides)

    # Imported here: the report extra is needed to write the card, not to load the weights it describes.
    from segbench.reporting.tables import markdown_from

    measures = ("G", "C", "mIoU", "BF")

    def scores(split: dict) -> list[str]:
        return [f"{100 * split[f'test/{m}']:.1f}" for m in measures]

    height, width = record.input_resolution or (None, None)
    shipped = os.path.relpath(weights)  # as typed from where ship ran (the repository root for the shipped one)
    precision = record.compute_path.precision if record.compute_path else "not recorded"
    committed = (
        f"\n- The run's config, results.json and metrics are committed in `{run_files.as_posix()}/`"
        " (its checkpoints are not)."
        if run_files is not None
        else ""
    )
    table = markdown_from(
        ["CamVid test (233 images)", *measures],
        [
            [f"this file, fp32 (`python src/eval.py ckpt_path={shipped} {' '.join(data)}`)", *scores(evaluation)],
            [f"its training run's selected checkpoint, as trained ({precision})", *scores(record.test)],
        ],
    )
    return f"""# {weights.name}: SegNet-Basic trained on CamVid by segbench

Written by `{command}` (do not edit by hand) from the run's results.json and the file's own scores.

- Network: SegNet-Basic (Sec. 3.1, Table 1), {record.params:,} parameters, weights-only file
  (`torch.load(..., weights_only=True)`) with its tensors stored in bfloat16 and loaded as fp32,
  {weights.stat().st_size:,} bytes.
- Trained with `{train_command}` on CamVid's 367 training images at {height}x{width},
  {record.global_step:,} iterations at batch 12; the checkpoint with the best validation G
  ({Path(record.best_checkpoint or "").stem}).{lineage}{committed}
- Predicting: images are resized to {height}x{width} and the logits upsampled bilinearly to the image's own size,
  as its scores below were computed (on the native {"x".join(map(str, evaluation["scoring_resolution"]))} labels).

{table}
"""


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Write a run's selected checkpoint as the shipped weights, if it beats them on validation G"
    )
    parser.add_argument("command", choices=["ship"])
    parser.add_argument("run_dir", type=Path, help="a finished training run (its results.json names the checkpoint)")
    parser.add_argument("--out", type=Path, default=shipped_weights())
    parser.add_argument("--run-files", type=Path, help="where the run's small files are committed, for the card")
    parser.add_argument(
        "--even-if-not-better",
        action="store_true",
        help="replace --out even when the run does not beat it on validation G (by default it is refused)",
    )
    args = parser.parse_args(argv)
    record = read_record(args.run_dir / "results.json")
    if not record.best_checkpoint:
        raise SegbenchError(f"{args.run_dir / 'results.json'} names no selected checkpoint")
    if args.run_files is not None and not (args.run_files / "results.json").is_file():
        raise SegbenchError(f"--run-files {args.run_files}: no results.json there")
    lineage = started_from(args.run_dir)  # before the file it names may be replaced
    data = [*training_data(args.run_dir), *SCORED_IN]
    with tempfile.TemporaryDirectory() as workdir:
        candidate = save_weights(record.best_checkpoint, Path(workdir) / args.out.name)
        if args.out.is_file() and not args.even_if_not_better:
            lineage += better_than_shipped(candidate, args.out, data, Path(workdir))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        weights = Path(shutil.move(candidate, args.out))
        evaluation = score_weights(weights, data, Path(workdir) / "test")
    command = f"python -m segbench.pretrained ship {args.run_dir}"
    command += f" --run-files {args.run_files}" if args.run_files is not None else ""
    command += " --even-if-not-better" if args.even_if_not_better else ""
    card = model_card(args.run_dir, data, weights, evaluation, command, args.run_files, lineage)
    weights.with_suffix(".md").write_text(card)
    print(weights)


if __name__ == "__main__":
    main()
