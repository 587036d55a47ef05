"""Errors that mean "your input or config is wrong", reported as one line by the entry points."""


def first_line(error: BaseException) -> str:
    """An error's message cut to its first line (its type's name when it has none), for one-line reports."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class SegbenchError(Exception):
    """A user-facing problem: the message names the file or option at fault and how to fix it."""


class DatasetError(SegbenchError, ValueError):
    """A data set folder or file that cannot be used as it is."""


class NonFiniteLossError(SegbenchError):
    """The training loss became NaN or infinite: the run stops and is recorded as failed."""
