"""Scores printed on the terminal: the paper's four measures and a per-class table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

SUMMARY = ("G", "C", "mIoU", "BF")


def print_evaluation(scores: dict[str, float], class_names: list[str], title: str = "", stage: str = "test") -> None:
    """The paper's four measures, then per-class accuracy and IoU (Table 2 style), all in percent."""
    console = Console()
    summary = Table(title=title)
    for name in SUMMARY:
        summary.add_column(name, justify="right")
    summary.add_row(*(f"{100 * scores[f'{stage}/{name}']:.2f}" for name in SUMMARY))
    console.print(summary)
    per_class = Table(title="per class")
    per_class.add_column("class")
    per_class.add_column("accuracy", justify="right")
    per_class.add_column("IoU", justify="right")
    for name in class_names:
        per_class.add_row(
            name, f"{100 * scores[f'{stage}/accuracy/{name}']:.2f}", f"{100 * scores[f'{stage}/IoU/{name}']:.2f}"
        )
    console.print(per_class)
