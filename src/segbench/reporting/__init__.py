"""Human-readable output of scores: tables on the terminal and in docs/results."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_scores(scores: dict[str, float], title: str = "") -> None:
    """Print metric name / value rows; accuracies shown in percent as the paper does."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in scores.items():
        table.add_row(name, f"{value:.4f}" if name.endswith("loss") else f"{100 * value:.2f}")
    Console().print(table)
