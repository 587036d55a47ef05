"""What every entry point does around its work: one-line errors instead of tracebacks."""

from __future__ import annotations

import functools
import logging
import shlex
import sys
from collections.abc import Callable
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode

from segbench.errors import SegbenchError, first_line

T = TypeVar("T")
log = logging.getLogger(__name__)


def _user_error_in(error: BaseException) -> SegbenchError | None:
    """The SegbenchError behind `error`, if any: Hydra's instantiate wraps what a constructor raises."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, SegbenchError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def exit_on_user_error(function: Callable[..., T]) -> Callable[..., T]:
    """Turn a SegbenchError (bad data or option) or a config Hydra cannot instantiate into `error: <message>`
    and exit status 2."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except Exception as error:
            cause = _user_error_in(error)
            if cause is not None:
                print(f"error: {cause}", file=sys.stderr)
            elif isinstance(error, InstantiationException):  # a config option that builds nothing: name it
                print(f"error: {first_line(error)}", file=sys.stderr)
            else:
                raise
            raise SystemExit(2) from None

    return wrapper


def command_line(program: str, argv: list[str] | None = None) -> str:
    """How the user ran a command: `program`, then its arguments quoted for a shell (reports name their writer)."""
    given = sys.argv[1:] if argv is None else argv
    return " ".join([program, *(shlex.quote(argument) for argument in given)])


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def isolating_sweep_jobs(function: Callable[..., T]) -> Callable[..., T | None]:
    """In a multirun, a job that raises is reported in one line and the sweep goes on with the others.

    The job's results.json records the failure (train.py writes it) and the sweep's exit status
    is set at its end by `segbench.utils.hydra_callbacks.SweepFailures`; the traceback goes to the
    job's log file. A single run raises as usual.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs) -> T | None:
        if not _in_multirun():
            return function(*args, **kwargs)
        try:
            return function(*args, **kwargs)
        except Exception as error:
            cause = _user_error_in(error) or error
            job = HydraConfig.get()
            log.error("job %s failed", job.job.num, exc_info=error)
            print(f"error: job {job.job.num} ({job.runtime.output_dir}): {first_line(cause)}", file=sys.stderr)
            return None

    return wrapper
