"""What every entry point does around its work: one-line errors instead of tracebacks."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

from segbench.errors import SegbenchError

T = TypeVar("T")


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
    """Turn a SegbenchError (bad data or option) into `error: <message>` and exit status 2."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except Exception as error:
            cause = _user_error_in(error)
            if cause is None:
                raise
            print(f"error: {cause}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper
