"""Train and evaluate from a composed config: everything the thin entry points do, importable and tested."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Timer
from pytorch_lightning.loggers import WandbLogger

from segbench.benchmarks.measure_efficiency import run_cost
from segbench.callbacks.milestones import milestone_checkpoints
from segbench.callbacks.wandb_panels import log_selected
from segbench.checkpoints import SAFE_LOADING, load_task
from segbench.errors import SegbenchError
from segbench.inference import evenly_spaced, predict_labels, save_label_map
from segbench.models import count_parameters
from segbench.models.config import build_network, model_meta, network_yaml
from segbench.precision import Choice, choose_for_trainer, resolve_compute_path
from segbench.pretrained import start_from, weights_task
from segbench.record import provenance
from segbench.record.per_image import PER_IMAGE_FILE
from segbench.record.run import EvalRecord, RunRecord, read_record, write_record
from segbench.record.terminal import print_evaluation
from segbench.resume import (
    Job,
    check_resumable,
    completed,
    continued_in,
    previous_run,
    recording_failure,
    refuse_to_overwrite,
)
from segbench.task import SegmentationTask
from segbench.utils import instantiate_group
from segbench.utils.config import config_choices

log = logging.getLogger(__name__)


def build_task(cfg: DictConfig) -> tuple[pl.LightningDataModule, SegmentationTask, Choice]:
    """Data module and LightningModule wired from the config; class weights need the training labels.

    `trainer.precision` and `task.channels_last` are resolved here, before the Trainer is built
    (`resolve_compute_path`): the config then holds the concrete values the run computes in.
    """
    datamodule = instantiate(cfg.dataset)
    datamodule.prepare_data()
    class_weights = datamodule.class_weights(instantiate(cfg.balancing))
    log.info(
        "class weights (%s): %s",
        cfg.balancing._target_.rsplit(".", 1)[-1],
        [round(w, 4) for w in class_weights.tolist()],
    )
    net = build_network(cfg.model)
    if cfg.get("init_from"):
        start_from(net, cfg.init_from)
    # YAML text, not a dict: instantiate() would otherwise build a second network from it.
    model_config = network_yaml(cfg.model)
    resolution = list(datamodule.resolution) if datamodule.resolution else None
    input_size = tuple(resolution or datamodule.split("train").images.shape[1:3])
    choice = resolve_compute_path(cfg, net, model_config, input_size)
    task = instantiate(
        cfg.task,
        net=net,
        class_weights=class_weights,
        model_config=model_config,
        data_resolution=resolution,
        channels_last=choice.path.channels_last,
        precision=choice.path.precision,
    )
    task.example_input_array = torch.zeros(1, 3, *input_size)  # the model summary counts FLOPs on it
    return datamodule, task, choice


def _scores(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


def make_trainer(cfg: DictConfig, callbacks: str = "callbacks", with_loggers: bool = True) -> pl.Trainer:
    """The configured trainer with the callbacks of config node `callbacks` and, optionally, the loggers."""
    loggers = instantiate_group(cfg.get("logger")) if with_loggers else []
    return instantiate(cfg.trainer, callbacks=instantiate_group(cfg.get(callbacks)), logger=loggers or False)


@contextmanager
def finishing_loggers(trainer: pl.Trainer) -> Iterator[None]:
    """Flush and close the trainer's loggers when the block ends; a W&B run that raised is marked failed.

    One W&B run per job, so that the jobs of a multirun never share a run.
    """
    failed = True
    try:
        yield
        failed = False
    finally:
        for logger in trainer.loggers:
            logger.save()
            if isinstance(logger, WandbLogger):
                import wandb

                wandb.finish(exit_code=1 if failed else 0)


def score(
    trainer: pl.Trainer, task: SegmentationTask, datamodule, splits: Sequence[str], ckpt_path: str | None = None
) -> dict[str, dict[str, float]]:
    """G, C, mIoU of `task` (or of checkpoint `ckpt_path`) on each split, keyed `<split>/<measure>`.

    The test split also gets exact BF and per-class scores; train and val are scored in fixed order
    through validation (Table 1's Train columns score the training images).
    """
    scores = {}
    for split in splits:
        if split == "test":
            metrics = trainer.test(task, datamodule=datamodule, ckpt_path=ckpt_path, verbose=False, **SAFE_LOADING)[0]
        else:
            view = datamodule.validating_on(split)
            metrics = trainer.validate(task, datamodule=view, ckpt_path=ckpt_path, verbose=False, **SAFE_LOADING)[0]
            metrics = {key.replace("val/", f"{split}/", 1): value for key, value in metrics.items()}
        scores[split] = _scores(metrics)
    return scores


def train(cfg: DictConfig) -> RunRecord:
    """Fit, select the checkpoint with the best validation G (Sec. 3.3), score it, write results.json."""
    if cfg.get("resume") and not cfg.get("ckpt_path"):
        # This very folder (a sweep re-run within the same second) or the latest earlier run of the command.
        previous = Path(cfg.paths.output_dir) if completed(Path(cfg.paths.output_dir)) else previous_run(cfg)
        if previous is not None and completed(previous):
            log.info("already finished: %s (delete its results.json to train it again)", previous / "results.json")
            continued_in(cfg, previous)
            return read_record(previous / "results.json")
        if previous is not None and not (previous / "checkpoints" / "last.ckpt").is_file():
            log.info("the earlier run %s stopped before its first checkpoint; starting again", previous)
        elif previous is not None:
            log.info("resuming %s", previous)
            continued_in(cfg, previous)
            cfg.paths.output_dir = str(previous)
            cfg.ckpt_path = str(previous / "checkpoints" / "last.ckpt")
    if cfg.get("threads"):
        torch.set_num_threads(cfg.threads)
    log.info("torch threads: %d", torch.get_num_threads())
    output_dir = Path(cfg.paths.output_dir)
    refuse_to_overwrite(output_dir, cfg)
    with recording_failure(output_dir, cfg) as job:
        return _fit_and_score(cfg, output_dir, job)


def _fit_and_score(cfg: DictConfig, output_dir: Path, job: Job) -> RunRecord:
    if cfg.get("ckpt_path"):
        check_resumable(cfg)
        # Lightning restores the best-so-far score only when checkpoints go to the same folder:
        # a resumed run keeps writing beside the checkpoint it resumed from, so selection spans the whole run.
        cfg.paths.checkpoint_dir = str(Path(cfg.ckpt_path).resolve().parent)
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    datamodule, task, compute_path = build_task(cfg)
    trainer = job.trainer = make_trainer(cfg)
    # taken before training: the code and machine that ran it, even if the checkout changes while it runs
    origin = provenance.collect(compute_path.path.label, trainer.strategy.root_device)
    with finishing_loggers(trainer):
        for logger in trainer.loggers:
            logger.log_hyperparams({"config": OmegaConf.to_container(cfg, resolve=True), "choices": config_choices()})
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), **SAFE_LOADING)
        best = next((callback.best_model_path for callback in trainer.checkpoint_callbacks if callback.monitor), "")
        # The selected checkpoint is scored by a trainer without loggers (the training curves keep only
        # training-time evaluations), checkpointing or BN recompute: the checkpoint was saved at the end
        # of the validation that selected it, with the statistics recomputed for that validation.
        # fast_dev_run keeps no checkpoint: the weights in memory are scored.
        scorer = make_trainer(cfg, callbacks="scoring_callbacks", with_loggers=False)
        scores = score(scorer, task, datamodule, ("train", "val", "test"), ckpt_path=best or None)
        outcome = task.test_outcome
        save_predictions(task, datamodule, cfg.get("saved_predictions", 0), output_dir / "predictions")
        # Table 3's iteration points: each milestone checkpoint scored like the selected one (its BN
        # statistics were recomputed for the evaluation it was saved at).
        milestones = {
            str(step): score(scorer, task, datamodule, ("test",), str(path))["test"]
            for _, step, path in milestone_checkpoints(cfg.paths.checkpoint_dir)
        }
        timer = next((callback for callback in trainer.callbacks if isinstance(callback, Timer)), None)
        # fast_dev_run checks the pipeline, one batch per stage: its inference time is one call too
        timing = {"runs": 1, "warmup": 0} if trainer.fast_dev_run else {}
        cost = run_cost(task.net, *datamodule.split("test").images.shape[1:3], compute_path.path, **timing)
        record = RunRecord(
            **cost,
            status="complete",
            choices=config_choices(cfg),
            provenance=origin,
            seed=cfg.get("seed"),
            paper_name=model_meta(cfg.model).paper_name,
            params=count_parameters(task.net),
            best_checkpoint=best,
            epochs_trained=trainer.current_epoch,
            global_step=trainer.global_step,
            input_resolution=list(datamodule.split("test").images.shape[1:3]),
            scoring_resolution=list(datamodule.scoring_size("test")),
            fit_seconds=timer.time_elapsed("train") if timer else None,
            resumed=bool(cfg.get("ckpt_path")),
            compute_path=compute_path.record(),
            train=scores["train"],
            val=scores["val"],
            test=scores["test"],
            class_names=outcome.class_names,
            test_confusion=outcome.confusion,
            per_sequence=outcome.per_sequence,
            milestones=milestones,
            per_image=PER_IMAGE_FILE,
        )
        if trainer.is_global_zero:
            write_record(record, output_dir / "results.json", outcome.images)
            log.info("results: %s", output_dir / "results.json")
        for logger in trainer.loggers:
            logger.log_metrics({f"selected/{k}": v for split in scores.values() for k, v in split.items()})
        log_selected(trainer.loggers, record)
    return record


def _scoring(cfg: DictConfig) -> tuple[SegmentationTask, pl.LightningDataModule, pl.Trainer, Choice]:
    """The checkpoint or weights file `cfg.ckpt_path` as eval.py scores it: its task, the data set at its training
    resolution (unless dataset.resolution says otherwise), a trainer in the chosen compute path, and that choice."""
    if not cfg.get("ckpt_path"):
        raise SegbenchError("ckpt_path is required: python src/eval.py ckpt_path=/path/to/checkpoint.ckpt")
    # a Lightning checkpoint, or a weights-only file (.pt) such as the shipped one
    task = weights_task(cfg.ckpt_path) if Path(cfg.ckpt_path).suffix == ".pt" else load_task(cfg.ckpt_path)
    task.hparams.mc_samples = cfg.get("mc_samples", 0)
    if cfg.get("refine"):
        # A test-time refinement added to a trained network (Table 3's DeepLab-LargeFOV scored with its CRF).
        task.net.refine = instantiate(cfg.refine)
        log.info("scores refined at test time by %s", task.net.refine)
    datamodule = instantiate(cfg.dataset)
    if (task.hparams.num_classes, task.hparams.ignore_index) != (datamodule.num_classes, datamodule.ignore_index):
        raise SegbenchError(
            f"ckpt_path={cfg.ckpt_path} predicts {task.hparams.num_classes} classes (void {task.hparams.ignore_index}) "
            f"but dataset={config_choices().get('dataset')} has {datamodule.num_classes} "
            f"(void {datamodule.ignore_index})"
        )
    if datamodule.resolution is None and task.hparams.get("data_resolution"):
        # Score at the resolution the network was trained at, unless dataset.resolution says otherwise.
        datamodule.resolution = tuple(task.hparams.data_resolution)
        log.info(
            "evaluating at the training resolution %s (set dataset.resolution=[H,W] to change it)",
            list(datamodule.resolution),
        )
    datamodule.prepare_data()
    size = tuple(datamodule.resolution or datamodule.split("test").images.shape[1:3])
    network = task.hparams.get("model_config") or ""
    compute_path = choose_for_trainer(cfg.trainer, task.net, size, training=False, network=network)
    log.info(compute_path.summary())
    cfg.trainer.precision = compute_path.path.precision
    task.use_memory_format(compute_path.path.memory_format)
    return task, datamodule, make_trainer(cfg), compute_path


def validation_scores(cfg: DictConfig) -> dict[str, float]:
    """G, C, mIoU of `cfg.ckpt_path` on the validation split, scored as eval.py scores the test split: how a
    candidate for the shipped model is compared with the file it would replace (`segbench.pretrained ship`)."""
    task, datamodule, trainer, _ = _scoring(cfg)
    with finishing_loggers(trainer):
        return score(trainer, task, datamodule, ("val",))["val"]


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Score a checkpoint on the test split of `dataset`; print a table and write eval.json."""
    task, datamodule, trainer, compute_path = _scoring(cfg)
    with finishing_loggers(trainer):
        scores = score(trainer, task, datamodule, ("test",))["test"]
    if not trainer.is_global_zero:  # every process holds the same synced scores; one reports them
        return scores
    outcome = task.test_outcome
    print_evaluation(
        scores, outcome.class_names, title=f"{Path(cfg.ckpt_path).name} on {datamodule.data_root.name} test"
    )
    report = EvalRecord(
        ckpt_path=str(cfg.ckpt_path),
        dataset=str(datamodule.data_root),
        provenance=provenance.collect(compute_path.path.label, task.device),
        input_resolution=list(datamodule.split("test").images.shape[1:3]),
        scoring_resolution=list(datamodule.scoring_size("test")),
        compute_path=compute_path.record(),
        class_names=outcome.class_names,
        confusion=outcome.confusion,
        per_sequence=outcome.per_sequence,
        per_image=PER_IMAGE_FILE,
        refine=OmegaConf.to_container(cfg.refine) if cfg.get("refine") else None,
        **outcome.additions,  # what the test pass adds (Monte Carlo dropout: mc_samples, entropy histograms)
        **scores,
    )
    save_predictions(task, datamodule, cfg.get("saved_predictions", 0), Path(cfg.paths.output_dir) / "predictions")
    file = write_record(report, Path(cfg.paths.output_dir) / "eval.json", outcome.images)
    log.info("scores: %s", file)
    return scores


def save_predictions(task: SegmentationTask, datamodule, per_sequence: int, folder: Path) -> None:
    """The predicted label maps of `per_sequence` test images of each sequence (of the split when it has
    none), at the scoring size, as palette PNGs named after the images: the report's Fig. 4 panel."""
    if not per_sequence:
        return
    split, size = datamodule.split("test"), datamodule.scoring_size("test")
    for indices in (datamodule.sequences("test") or {"": list(range(len(split)))}).values():
        for index in evenly_spaced(indices, per_sequence):
            labels = predict_labels(task, split.images[index : index + 1], size)[0]
            save_label_map(folder / f"{Path(split.names[index]).stem}.png", labels)
