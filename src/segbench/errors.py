"""Errors that mean "your input or config is wrong", reported as one line by the entry points."""


def first_line(error: BaseException) -> str:
    """An error's message cut to its first line (its type's name when it has none), for one-line reports.

    A wrapper whose first line only says where it failed (Hydra's "Error in call to target 'X':") gets
    the line of the error it wraps appended, which says what went wrong, and the config node it names.
    """
    lines = str(error).strip().splitlines() or [type(error).__name__]
    line, cause = lines[0], error.__cause__
    if line.endswith(":") and cause is not None:
        line = f"{line} {type(cause).__name__}: {first_line(cause)}"
    # Hydra names the config node it was building on a last line `full_key: model.encoder`.
    if keys := [text.removeprefix("full_key: ") for text in lines[1:] if text.startswith("full_key: ")]:
        line = f"{line} (config: {keys[-1]})"
    return line


class SegbenchError(Exception):
    """A user-facing problem: the message names the file or option at fault and how to fix it."""


class DatasetError(SegbenchError, ValueError):
    """A data set folder or file that cannot be used as it is."""


class NonFiniteLossError(SegbenchError):
    """The training loss became NaN or infinite: the run stops and is recorded as failed."""
