"""A run's life around its training: finding the interrupted run that `resume=true` continues (the latest earlier
run of the same command), checking a checkpoint to resume from, refusing to overwrite a completed run, and
recording a job that stops early (results.json with its status and error)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import yaml
from omegaconf import DictConfig, OmegaConf

from segbench.checkpoints import model_config_of, read_checkpoint
from segbench.errors import SegbenchError, first_line
from segbench.models.config import build_network, model_meta, network_config
from segbench.record import provenance
from segbench.record.run import RunRecord, is_complete, write_record
from segbench.utils.config import config_choices
from segbench.utils.hydra_callbacks import CONTINUED

log = logging.getLogger(__name__)

# Overrides that say how to start or how many CPU threads to use, not what to train: two commands differing only
# in these are the same run (a run begun two jobs at a time on one thread each may finish alone on two).
STARTING_KEYS = ("resume", "ckpt_path", "threads", "finished_runs")


def _what_it_trains(overrides: list[str]) -> list[str]:
    def key(override: str) -> str:
        return override.split("=", 1)[0].lstrip("+~")

    return sorted(o for o in overrides if not key(o).startswith("hydra.") and key(o) not in STARTING_KEYS)


def _saved_overrides(run: Path) -> list[str]:
    return yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text()) or []


def find_previous_run(task_dir: Path, current: Path, finished_runs: Sequence[Path] = ()) -> Path | None:
    """The most recent run under `task_dir` (runs and multirun jobs) made with the same overrides as `current`.

    Both sides are the overrides as Hydra saved them in `<run>/.hydra/overrides.yaml`, as typed
    (an interpolation such as `${oc.env:...}` is compared as written, not as resolved).
    Only runs that left something to continue count: a `checkpoints/last.ckpt` or a finished
    `results.json`. Under the folders `finished_runs` (copies made by `segbench.reporting.collect`, e.g.
    a grid's committed runs) only complete runs count: a grid continued on a machine without the
    earlier sittings' logs/ skips the jobs already committed. None when there is none.
    """
    wanted = _what_it_trains(_saved_overrides(current))
    found = []
    searched = [(task_dir, False), *((Path(folder), True) for folder in finished_runs)]
    for folder, finished_only in searched:
        for saved in folder.glob("**/.hydra/overrides.yaml"):
            run = saved.parent.parent
            if run.resolve() == current.resolve() or _what_it_trains(_saved_overrides(run)) != wanted:
                continue
            if finished_only:
                progress = [run / "results.json"] if is_complete(run / "results.json") else []
            else:
                progress = [p for p in (run / "results.json", run / "checkpoints" / "last.ckpt") if p.is_file()]
            if progress:
                found.append((max(p.stat().st_mtime for p in progress), run))
    return max(found)[1] if found else None


def previous_run(cfg: DictConfig) -> Path | None:
    """The interrupted (or finished) earlier run of this same command, for `resume=true`."""
    current = Path(cfg.paths.output_dir)
    if not (current / ".hydra" / "overrides.yaml").is_file():
        raise SegbenchError(
            f"resume=true compares saved overrides, but {current}/.hydra/overrides.yaml is missing "
            "(keep hydra.output_subdir at its default)"
        )
    task_dir = Path(cfg.paths.log_dir) / cfg.task_name
    finished_runs = [Path(folder) for folder in cfg.get("finished_runs") or []]
    previous = find_previous_run(task_dir, current, finished_runs)
    if previous is None:
        searched = ", ".join(map(str, [task_dir, *finished_runs]))
        log.info("resume=true: no earlier run of this command under %s; starting a new one", searched)
    return previous


def continued_in(cfg: DictConfig, previous: Path) -> None:
    """Leave a pointer in this job's own folder to the run it continues: a sweep's summary follows it."""
    here = Path(cfg.paths.output_dir)
    if here.resolve() != previous.resolve():
        (here / CONTINUED).write_text(json.dumps({"run": str(previous.resolve())}))


def completed(run_dir: Path) -> bool:
    return is_complete(run_dir / "results.json")


def refuse_to_overwrite(output_dir: Path, cfg: DictConfig) -> None:
    """A completed run's results.json is replaced only with overwrite=true."""
    if completed(output_dir) and not cfg.get("overwrite"):
        raise SegbenchError(
            f"{output_dir / 'results.json'} holds a completed run; pass overwrite=true to train into {output_dir} again"
        )


def check_resumable(cfg: DictConfig) -> None:
    """ckpt_path must be a safe segbench checkpoint holding the tensors of the network this command builds.

    Tensor names and shapes are compared, not the model config: an option that changes no weight (where the
    pooling indices are stored, say) may differ between the run and its resumption.
    """
    checkpoint = read_checkpoint(cfg.ckpt_path)
    trained = OmegaConf.create(model_config_of(checkpoint, cfg.ckpt_path))
    wanted = network_config(cfg.model)
    if OmegaConf.select(cfg.model, "encoder.pretrained") is not None:
        wanted.encoder.pretrained = None  # the checkpoint's weights replace the ImageNet ones anyway
    built = {name: tuple(tensor.shape) for name, tensor in build_network(wanted).state_dict().items()}
    stored = {
        name.removeprefix("net."): tuple(tensor.shape)
        for name, tensor in checkpoint["state_dict"].items()
        if name.startswith("net.")
    }
    if built != stored:
        differing = sorted(set(built.items()) ^ set(stored.items()))
        raise SegbenchError(
            f"ckpt_path={cfg.ckpt_path} holds a different network ({trained.get('_target_')}, "
            f"{trained.get('num_classes')} classes; first differing tensor: {differing[0][0]}) from the one this "
            "command builds: resume with the model= and dataset= of the run it came from"
        )


@dataclass
class Job:
    """What a failing job knows about itself: the trainer, once one is built."""

    trainer: pl.Trainer | None = None


@contextmanager
def recording_failure(output_dir: Path, cfg: DictConfig) -> Iterator[Job]:
    """A job that stops early leaves results.json with its status and error, so a sweep's report shows it.

    Lightning turns Ctrl-C into SystemExit; GracefulInterrupt has saved last.ckpt by then, and the
    user gets one line saying how to resume.
    """
    job = Job()
    try:
        yield job
    except BaseException as error:
        trainer = job.trainer
        interrupted = trainer is not None and trainer.interrupted and isinstance(error, (KeyboardInterrupt, SystemExit))
        step = trainer.global_step if trainer is not None else 0
        last = Path(cfg.paths.checkpoint_dir) / "last.ckpt"
        if interrupted:
            message = f"interrupted at step {step}; resume with the same command and resume=true, or ckpt_path={last}"
        else:
            message = first_line(error)
        if trainer is None or trainer.is_global_zero:
            failure = RunRecord(
                status="interrupted" if interrupted else "failed",
                error=message,
                global_step=step,
                choices=config_choices(cfg),
                paper_name=model_meta(cfg.model).paper_name,
                provenance=provenance.collect(),
            )
            write_record(failure, output_dir / "results.json")
        if interrupted:
            raise SegbenchError(message) from None
        raise
