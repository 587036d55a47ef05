"""What every entry point does around its work: one-line errors instead of tracebacks."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

from segbench.errors import SegbenchError

T = TypeVar("T")


def exit_on_user_error(function: Callable[..., T]) -> Callable[..., T]:
    """Turn a SegbenchError (bad data or option) into `error: <message>` and exit status 2."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except SegbenchError as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper
