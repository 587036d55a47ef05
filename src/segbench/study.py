"""A study is config: which model configs exist, and which variants an experiment's grid runs.

Nothing here consults the paper (`segbench.paper`): the paper's tables are a reference that reports look
variants up in by their `meta.paper_name`, never the list of what exists, is tested or is reported.

    python -m segbench.study variants table1        the grid's variants, one per line
    python -m segbench.study models [CONF_DIR ...]   every model config under <dir>/model/ (default: conf/)
    python -m segbench.study sweep table1           the experiment as a W&B sweep file (sweeps/<experiment>.yaml)
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from segbench.errors import SegbenchError
from segbench.utils import exit_on_user_error
from segbench.utils.config import CONF_DIR

# Config folders under model/ that hold pieces of models, not models.
PARTIAL_MODEL_FOLDERS = ("base",)


def model_configs(conf_dir: Path = CONF_DIR) -> list[str]:
    """The `model=` options of a config folder: every YAML under <conf_dir>/model/, sorted, bases left out."""
    root = Path(conf_dir) / "model"
    if not root.is_dir():
        raise SegbenchError(f"{conf_dir} has no model/ folder: a config folder holds its model configs in model/")
    names = []
    for file in sorted(root.rglob("*.yaml")):
        relative = file.relative_to(root)
        if relative.parts[0] not in PARTIAL_MODEL_FOLDERS:
            names.append(relative.with_suffix("").as_posix())
    return names


def _sweep_params(experiment: str, conf_dir: Path) -> dict[str, Any]:
    file = Path(conf_dir) / "experiment" / f"{experiment}.yaml"
    if not file.is_file():
        raise SegbenchError(f"experiment={experiment}: {file} does not exist")
    params = OmegaConf.select(OmegaConf.load(file), "hydra.sweeper.params")
    if params is None:
        raise SegbenchError(f"{file} sweeps nothing: it has no hydra.sweeper.params")
    return OmegaConf.to_container(params)


def _values(setting: str, group_dir: Path) -> list[str]:
    """A sweeper value as Hydra reads it: "a,b,c", or `glob(pattern)` over the group's top-level configs (Hydra's
    glob does not look into a subfolder: `glob(zoo/*)` selects nothing)."""
    setting = str(setting).strip()
    if setting.startswith("glob(") and setting.endswith(")"):
        pattern = setting[len("glob(") : -1]
        return sorted(file.stem for file in group_dir.glob("*.yaml") if fnmatch.fnmatchcase(file.stem, pattern))
    return [value.strip() for value in setting.split(",") if value.strip()]


def variants(experiment: str, conf_dir: Path = CONF_DIR) -> list[str]:
    """The `model=` options an experiment's grid runs, in its order."""
    return _values(_sweep_params(experiment, conf_dir)["model"], Path(conf_dir) / "model")


def wandb_sweep(experiment: str, conf_dir: Path = CONF_DIR) -> str:
    """The experiment's grid as a W&B sweep file: each agent's job composes the same `experiment=` recipe."""
    params = _sweep_params(experiment, conf_dir)
    grid = {key: {"values": _values(value, Path(conf_dir) / key)} for key, value in params.items()}
    sweep = {
        "program": "src/train.py",
        "method": "grid",
        "metric": {"name": "selected/val/G", "goal": "maximize"},
        "parameters": grid,
        "command": ["${env}", "${interpreter}", "${program}", "${args_no_hyphens}", f"experiment={experiment}"],
    }
    header = (
        f"# The {experiment} grid as a W&B sweep, written by `make sweeps` from conf/experiment/{experiment}.yaml:\n"
        f"#   wandb sweep sweeps/{experiment}.yaml      then, on each machine:   wandb agent <entity/project/id>\n"
        f"# The same grid without W&B: python src/train.py --multirun experiment={experiment} (each agent's job\n"
        f"# composes the same experiment={experiment} recipe; add scale=cpu on a CPU machine).\n"
    )
    return header + yaml.safe_dump(sweep, sort_keys=False)


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m segbench.study", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("variants", help="an experiment's variants").add_argument("experiment")
    commands.add_parser("models", help="model configs of config folders").add_argument(
        "conf_dirs", nargs="*", type=Path, default=[CONF_DIR]
    )
    commands.add_parser("sweep", help="an experiment as a W&B sweep file").add_argument("experiment")
    args = parser.parse_args(argv)
    if args.command == "variants":
        print("\n".join(variants(args.experiment)))
    elif args.command == "models":
        print("\n".join(name for conf_dir in args.conf_dirs for name in model_configs(conf_dir)))
    else:
        sys.stdout.write(wandb_sweep(args.experiment))


if __name__ == "__main__":
    main()
