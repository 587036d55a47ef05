"""Train and evaluate from a composed config: everything the thin entry points do, importable and tested."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from segbench.benchmarks.measure_efficiency import measure
from segbench.callbacks import BatchNormStatistics
from segbench.errors import SegbenchError
from segbench.models import count_parameters
from segbench.reporting.terminal import print_evaluation
from segbench.task import SegmentationTask
from segbench.utils import instantiate_group

log = logging.getLogger(__name__)

# Our checkpoints hold the Hydra partials of the optimiser config, which torch's weights-only
# unpickler refuses; they are trusted files this project wrote.
OWN_CHECKPOINT = {"weights_only": False}


def _config_choices() -> dict[str, str | None]:
    """Which option of each config group made this run (model, dataset, balancing, ...)."""
    if not HydraConfig.initialized():
        return {}
    return {k: v for k, v in HydraConfig.get().runtime.choices.items() if not k.startswith("hydra/")}


def build_task(cfg: DictConfig) -> tuple[pl.LightningDataModule, SegmentationTask]:
    """Data module and LightningModule wired from the config; class weights need the training labels."""
    datamodule = instantiate(cfg.dataset)
    datamodule.prepare_data()
    class_weights = datamodule.class_weights(instantiate(cfg.balancing))
    log.info("class weights (%s): %s", cfg.balancing._target_.rsplit(".", 1)[-1], [round(w, 4) for w in class_weights.tolist()])
    net = instantiate(cfg.model)
    # YAML text, not a dict: instantiate() would otherwise build a second network from it.
    model_config = OmegaConf.to_yaml(cfg.model, resolve=True)
    resolution = list(datamodule.resolution) if datamodule.resolution else None
    task = instantiate(cfg.task, net=net, class_weights=class_weights, model_config=model_config, data_resolution=resolution)
    return datamodule, task


def _scores(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


def make_trainer(cfg: DictConfig, scoring: bool = False) -> pl.Trainer:
    """The configured trainer; `scoring=True` for scoring a selected checkpoint after fitting.

    A scoring trainer has no loggers (the training curves keep only training-time evaluations),
    saves no checkpoints and does not recompute BN statistics: the checkpoint was saved at the end
    of the validation it was selected by, with the statistics recomputed for that validation.
    """
    callbacks = instantiate_group(cfg.get("callbacks"))
    if scoring:
        callbacks = [c for c in callbacks if not isinstance(c, (BatchNormStatistics, ModelCheckpoint))]
    loggers = [] if scoring else instantiate_group(cfg.get("logger"))
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def _finish_loggers(trainer: pl.Trainer, failed: bool = False) -> None:
    # One W&B run per job, so that multirun jobs never share a run; a failed job is marked failed.
    for logger in trainer.loggers:
        logger.save()
        if type(logger).__name__ == "WandbLogger":
            import wandb

            wandb.finish(exit_code=1 if failed else 0)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit, select the checkpoint with the best validation G (Sec. 3.3), score it, write results.json."""
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    if cfg.get("ckpt_path"):
        # Lightning restores the best-so-far score only when checkpoints go to the same folder:
        # a resumed run keeps writing beside the checkpoint it resumed from, so selection spans the whole run.
        cfg.paths.checkpoint_dir = str(Path(cfg.ckpt_path).resolve().parent)
    datamodule, task = build_task(cfg)
    trainer = make_trainer(cfg)
    failed = True
    try:
        for logger in trainer.loggers:
            logger.log_hyperparams({"config": OmegaConf.to_container(cfg, resolve=True), "choices": _config_choices()})
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), **OWN_CHECKPOINT)
        best = next((callback.best_model_path for callback in trainer.checkpoint_callbacks if callback.monitor), "")
        ckpt = best or None  # fast_dev_run keeps no checkpoint: score the weights in memory
        # Its scores are logged once, as selected/*, by the fitting trainer's loggers below.
        scorer = make_trainer(cfg, scoring=True)
        # Table 1's Train columns: the selected checkpoint scored on the training images, in fixed order.
        train_scores = scorer.validate(task, datamodule=datamodule.validating_on("train"), ckpt_path=ckpt, verbose=False, **OWN_CHECKPOINT)[0]
        results = {
            "choices": _config_choices(),
            "params": count_parameters(task.net),
            "best_checkpoint": best,
            "epochs_trained": trainer.current_epoch,
            "global_step": trainer.global_step,
            "train": _scores({k.replace("val/", "train/"): v for k, v in train_scores.items()}),
            "val": _scores(scorer.validate(task, datamodule=datamodule, ckpt_path=ckpt, verbose=False, **OWN_CHECKPOINT)[0]),
            "test": _scores(scorer.test(task, datamodule=datamodule, ckpt_path=ckpt, verbose=False, **OWN_CHECKPOINT)[0]),
        }
        results["test_per_class"] = task.test_report
        if trainer.is_global_zero:
            output_dir.mkdir(parents=True, exist_ok=True)
            (output_dir / "results.json").write_text(json.dumps(results, indent=2))
            log.info("results: %s", output_dir / "results.json")
        for logger in trainer.loggers:
            logger.log_metrics({f"selected/{k}": v for split in ("train", "val", "test") for k, v in results[split].items()})
        failed = False
        return results
    finally:
        _finish_loggers(trainer, failed)


def load_task(ckpt_path: str | Path) -> SegmentationTask:
    """Rebuild the network from the config stored in a checkpoint, then load its weights."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise SegbenchError(f"ckpt_path={path} is not a file; pass ckpt_path=/path/to/run/checkpoints/<name>.ckpt")
    checkpoint = torch.load(path, map_location="cpu", **OWN_CHECKPOINT)
    model_config = checkpoint.get("hyper_parameters", {}).get("model_config")
    if model_config is None:
        raise SegbenchError(f"{path} holds no model_config: it was not written by segbench's train.py")
    net = instantiate(OmegaConf.create(model_config))
    return SegmentationTask.load_from_checkpoint(path, map_location="cpu", net=net, **OWN_CHECKPOINT)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Score a checkpoint on the test split of `dataset`; print a table and write eval.json."""
    if not cfg.get("ckpt_path"):
        raise SegbenchError("ckpt_path is required: python src/eval.py ckpt_path=/path/to/checkpoint.ckpt")
    task = load_task(cfg.ckpt_path)
    datamodule = instantiate(cfg.dataset)
    if datamodule.resolution is None and task.hparams.get("data_resolution"):
        # Score at the resolution the network was trained at, unless dataset.resolution says otherwise.
        datamodule.resolution = tuple(task.hparams.data_resolution)
        log.info("evaluating at the training resolution %s (set dataset.resolution=[H,W] to change it)", list(datamodule.resolution))
    datamodule.prepare_data()
    trainer = make_trainer(cfg)
    failed = True
    try:
        scores = _scores(trainer.test(task, datamodule=datamodule, verbose=False)[0])
        failed = False
    finally:
        _finish_loggers(trainer, failed)
    print_evaluation(scores, task.test_report["class_names"], title=f"{Path(cfg.ckpt_path).name} on {datamodule.data_root.name} test")
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    report = {"ckpt_path": str(cfg.ckpt_path), "dataset": str(datamodule.data_root), **scores, "confusion": task.test_report["confusion"]}
    (output_dir / "eval.json").write_text(json.dumps(report, indent=2))
    log.info("scores: %s", output_dir / "eval.json")
    return scores


def benchmark(cfg: DictConfig) -> dict[str, Any]:
    """Table 1's efficiency columns for `cfg.model`: print one JSON line and append it to `cfg.jsonl`."""
    torch.manual_seed(0)
    row = {"model": _config_choices().get("model"), **measure(
        instantiate(cfg.model), cfg.height, cfg.width, cfg.runs, cfg.warmup, cfg.device, cfg.progress
    )}
    line = json.dumps(row)
    print(line, flush=True)
    if cfg.get("jsonl"):
        path = Path(cfg.jsonl)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(line + "\n")
    return row
