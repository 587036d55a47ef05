"""Optional dependencies come as extras of the package (pyproject.toml): a missing one is named in one line."""

from __future__ import annotations

import importlib
from types import ModuleType

# extra -> what it is for (pyproject.toml's [project.optional-dependencies])
EXTRAS = {
    "crf": "DeepLab-LargeFOV-denseCRF's dense CRF",
    "cluster": "the Hydra launchers hydra/launcher=parallel and hydra/launcher=slurm",
    "report": "the reports' tables and figures",
    "demo": "the web demo",
}  # export and dashboard name their extra in errors of their own (several libraries each)


def require(module: str, extra: str) -> ModuleType:
    """`module` imported, or exit with one line naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as missing:
        raise SystemExit(
            f"error: {EXTRAS[extra]} needs {missing.name or module}, which is not installed: "
            f"pip install 'segbench[{extra}]' (make install installs every extra)"
        ) from None


# hydra/launcher options of conf/hydra/launcher/ -> the plugin each one's config is found in
LAUNCHER_PLUGINS = {
    "parallel": "hydra_plugins.hydra_joblib_launcher",
    "slurm": "hydra_plugins.hydra_submitit_launcher",
}


def require_launcher(arguments: list[str]) -> None:
    """Exit naming the `cluster` extra when the command line picks a launcher whose plugin is not installed
    (Hydra's own error only says that a config cannot be found)."""
    for argument in arguments:
        option, _, value = argument.partition("=")
        if option.lstrip("+~") == "hydra/launcher" and value in LAUNCHER_PLUGINS:
            require(LAUNCHER_PLUGINS[value], "cluster")
