"""The paper-vs-ours report of a sweep: Table 1, Table 3, Fig. 4's panel and plots from the runs' results.json.

python src/report.py SWEEP_OR_RUN_DIR [...] --out DIR [--efficiency docs/results/table1-efficiency.jsonl]
    [--data-root /path/to/CamVid] [--title "..."] [--command "make report"] [--summary docs/results/GRID.md]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segbench.reporting.grid_report import write_report
from segbench.utils import command_line, exit_on_user_error


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="sweep or run folders (searched for results.json)")
    parser.add_argument("--out", type=Path, required=True, help="folder the report is written into")
    parser.add_argument("--efficiency", type=Path, help="Table 1's efficiency measurements (make bench's .jsonl)")
    # An empty value counts as absent, so `--data-root "$CAMVID_ROOT"` works with the variable unset.
    parser.add_argument("--data-root", type=lambda text: Path(text) if text else None, help="CamVid, for fig4.png")
    parser.add_argument("--title", help="the first heading of table1.md")
    parser.add_argument("--command", help="the command named in the documents (default: this one)")
    parser.add_argument(
        "--summary", type=Path, help="also write the grid's one-page result here (command, test scores, conclusions)"
    )
    parser.add_argument("--fig4-images", type=_positive, default=4, help="test images in fig4.png (default 4)")
    parser.add_argument(
        "--costs", type=Path, help="Table 6's columns for the Table 3 networks at the grid's size (table6_resources)"
    )
    parser.add_argument(
        "--reference",
        default="segnet_basic",
        help="the model (config name) each variant's test scores are compared with, paired (default segnet_basic)",
    )
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = args.command or command_line("python src/report.py", argv)
    report = write_report(
        args.runs,
        args.out,
        command=command,
        efficiency=args.efficiency,
        data_root=args.data_root,
        title=args.title,
        fig4_images=args.fig4_images,
        summary=args.summary,
        costs=args.costs,
        reference=args.reference,
    )
    for note in report.notes:
        print(f"note: {note}")
    for name in report.written:
        print(report.out_dir / name)


if __name__ == "__main__":
    main()
