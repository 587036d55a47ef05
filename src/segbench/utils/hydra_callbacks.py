"""Hydra callbacks: checks that must happen before Hydra itself touches the disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def _check_writable(folder: str, option: str) -> None:
    """Create `folder` and write a probe file in it, or stop with one line naming the option."""
    path = Path(folder)
    probe = path / f".write-probe-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        print(f"error: cannot write the output folder {path} ({option}): {error.strerror or error}", file=sys.stderr)
        raise SystemExit(2) from None


class OutputFolderCheck(Callback):
    """An output folder that cannot be written is one clear line, not Hydra's traceback from its mkdir."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_writable(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_writable(config.hydra.sweep.dir, "hydra.sweep.dir")
