"""The reports' tables are pandas DataFrames written by pandas: markdown through tabulate, LaTeX through
pandas' Styler (jinja2), CSV through pandas. Each report builds its frame; only the cells' text is its own."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd


def frame(rows: Iterable[dict], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows as a DataFrame of the values themselves (dtype object: an int stays an int, None stays empty)."""
    return pd.DataFrame(list(rows), columns=list(columns) if columns is not None else None, dtype=object)


def write_csv(table: pd.DataFrame, file: Path) -> None:
    # "\r\n": the line ending of Python's csv module, which the committed tables have always been written with
    table.to_csv(file, index=False, lineterminator="\r\n")


def markdown(table: pd.DataFrame) -> str:
    """`table` (cells already formatted as text) as a GitHub markdown table."""

    def escaped(cell: object) -> str:  # a "|" inside a cell (an error message) would split it
        return str(cell).replace("|", "\\|")

    shown = table.map(escaped)
    shown.columns = [escaped(column) for column in table.columns]
    return shown.to_markdown(index=False, tablefmt="github", disable_numparse=True)


def markdown_from(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table of `rows` (cells already formatted as text) under `header`."""
    return markdown(pd.DataFrame([list(row) for row in rows], columns=list(header), dtype=object))


# Dashes and the ± the markdown shows, spelt the way any TeX engine reads them (pandas escapes only TeX's special
# characters).
TEX_DASHES = str.maketrans({"–": "--", "—": "---", "−": "$-$", "±": "$\\pm$"})


def latex(table: pd.DataFrame, column_format: str, comments: Sequence[str] = ()) -> str:
    """`table` (text cells; MultiIndex columns for column groups) as a booktabs tabular, its text escaped for
    LaTeX; `comments` as `%` lines above it."""
    styler = table.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
    tabular = styler.to_latex(column_format=column_format, hrules=True, multicol_align="c")
    return "".join(f"% {comment}\n" for comment in comments) + tabular.translate(TEX_DASHES)
