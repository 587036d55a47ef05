"""Table 3's DeepLab-LargeFOV-denseCRF without training it again (Sec. 4): a trained network's checkpoints scored with
a test-time refinement, recorded as a run of the refined network.

    python -m segbench.refined_runs logs/table3 --network table3/deeplab_largefov --refine densecrf \
        --as table3/deeplab_largefov_densecrf [--where scale=cpu]

The CRF has no parameters and acts only at test time, so training `model=table3/deeplab_largefov_densecrf` apart
would train DeepLab-LargeFOV a second time. For every complete run of `--network` below the given folders, its
selected checkpoint and each milestone checkpoint are scored by `src/eval.py ckpt_path=... refine=<refine>` (one
process each: the command a user would type, its eval.json kept in `<refined run>/scored/`), and
`<run folder>+<refine>/results.json` records them as a run of `--as`: test scores, confusion, per-image record and
predicted label maps of the refined selected checkpoint, milestones of the refined milestone checkpoints; training,
validation (which selected the checkpoint) and the network's size are the trained run's; `refined_from` names the
trained network. A refined run newer than its source is not scored again. `make table3` runs this after training.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from segbench.callbacks.milestones import milestone_checkpoints
from segbench.errors import SegbenchError
from segbench.models.config import model_meta, network_config
from segbench.record.run import EvalRecord, RunRecord, read_record, write_record
from segbench.reporting.grid_runs import Run, chosen, find_runs, parse_where, saved_hydra_file
from segbench.utils.config import CONF_DIR

EVAL_SCRIPT = CONF_DIR.parent / "src" / "eval.py"


def _compose(config: str, override: str) -> DictConfig:
    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
            return compose(config, overrides=[override])
    except HydraException as error:
        raise SegbenchError(f"{override}: {str(error).splitlines()[0]}") from None


def refined_network(network: str, refine: str, refined: str) -> tuple[dict, str | None]:
    """The refinement's config and the paper name of `refined`, after checking that model=`refined` is
    model=`network` with refine=`refine` added (so that its runs may stand for it)."""
    added = _compose("eval", f"refine={refine}").refine
    target = _compose("train", f"model={refined}").model
    source = _compose("train", f"model={network}").model
    without = network_config(target)
    if OmegaConf.to_container(without.pop("refine", None) or {}) != OmegaConf.to_container(added):
        raise SegbenchError(f"model={refined} does not refine with conf/refine/{refine}.yaml's config")
    if without != network_config(source):
        raise SegbenchError(f"model={refined} is not model={network} with a refinement added")
    return OmegaConf.to_container(added), model_meta(target).paper_name


def _checkpoint(run: Run) -> Path:
    name = Path(run.record.best_checkpoint or "").name
    selected = run.folder / "checkpoints" / name
    if not name or not selected.is_file():
        raise SegbenchError(
            f"{run.file}: its selected checkpoint {name or '(none recorded)'} is not in {run.folder / 'checkpoints'} "
            "(collected runs keep no checkpoints: refine the runs under logs/)"
        )
    return selected


def score_refined(checkpoint: Path, refine: str, out: Path, arguments: Sequence[str]) -> EvalRecord:
    """`checkpoint` scored on the test split by eval.py with refine=`refine`, into `out` (kept if already there)."""
    if not (out / "eval.json").is_file():
        command = [sys.executable, str(EVAL_SCRIPT), f"ckpt_path={checkpoint}", f"refine={refine}",
                   f"hydra.run.dir={out}", *arguments]  # fmt: skip
        if subprocess.run(command, check=False).returncode != 0:
            raise SegbenchError(f"{' '.join(command)} failed; its log: {out / 'eval.log'}")
    return read_record(out / "eval.json", EvalRecord)


def refine_run(
    run: Run, refine: str, refined: str, config: dict, paper_name: str | None, arguments: Sequence[str] = ()
) -> Path:
    """`run`'s checkpoints scored with refine=`refine` (whose config is `config`), recorded as a run of model=`refined`
    in `<run folder>+<refine>/results.json`; `arguments` are passed on to eval.py."""
    folder = run.folder.with_name(f"{run.folder.name}+{refine}")
    if (folder / "results.json").is_file() and (folder / "results.json").stat().st_mtime > run.file.stat().st_mtime:
        return folder
    # Scored as the run itself was: its precision, and as many predicted label maps for the report's Fig. 4 panel.
    saved = saved_hydra_file(run.folder, "config.yaml") or {}
    precision = [f"trainer.precision={run.record.compute_path.precision}"] if run.record.compute_path else []
    common = [*precision, *arguments]
    selected = score_refined(
        _checkpoint(run), refine, folder / "scored" / "selected",
        [f"saved_predictions={saved.get('saved_predictions', 0)}", *common],
    )  # fmt: skip
    milestones = {
        str(step): score_refined(path, refine, folder / "scored" / f"milestone-{step}", common).scores("test")
        for _, step, path in milestone_checkpoints(run.folder / "checkpoints")
    }
    scored = folder / "scored" / "selected"
    for kept in [scored / str(selected.per_image), *scored.glob("predictions/*.png")] if selected.per_image else []:
        (folder / kept.relative_to(scored)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(kept, folder / kept.relative_to(scored))
    record = run.record.model_copy(
        update={
            "choices": {**run.record.choices, "model": refined},
            "paper_name": paper_name,
            "test": selected.scores("test"),
            "class_names": selected.class_names,
            "test_confusion": selected.confusion,
            "per_sequence": selected.per_sequence,
            "per_image": selected.per_image,
            "milestones": milestones,
            "infer_ms": None,  # the network's time without the refinement: not this run's
            "refined_from": run.model,
            "refine": config,
        }
    )
    return write_record(RunRecord.model_validate(record.model_dump()), folder / "results.json").parent


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run, sweep or task folders under logs/")
    parser.add_argument("--network", required=True, help="the trained network's model= option")
    parser.add_argument("--refine", required=True, help="a conf/refine/ option, e.g. densecrf")
    parser.add_argument("--as", dest="refined", required=True, help="the refined network's model= option")
    parser.add_argument("--where", action="append", default=[], help="GROUP=CHOICE: only runs with that choice")
    parser.add_argument("--eval-arg", action="append", default=[], help="an override passed on to eval.py")
    args = parser.parse_args(argv)
    try:
        config, paper_name = refined_network(args.network, args.refine, args.refined)
        wanted = {**parse_where(args.where), "model": args.network}
        runs = [run for run in find_runs(args.runs) if run.record.refined_from is None and chosen(run, wanted)]
        if not (complete := [run for run in runs if run.complete]):
            where = ", ".join(f"{k}={v}" for k, v in wanted.items())
            raise SegbenchError(f"no complete run with {where} below {', '.join(map(str, args.runs))}")
        for run in complete:
            print(refine_run(run, args.refine, args.refined, config, paper_name, args.eval_arg))
    except SegbenchError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
