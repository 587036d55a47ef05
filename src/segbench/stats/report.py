"""The i.i.d. and the moving-block bootstrap intervals of one run's test scores side by side (issue 27, beyond the
paper): how much resampling CamVid's consecutive frames one by one understates the noise of Table 1's scores
(Badrinarayanan et al., TPAMI 2017, Sec. 3.3's G, C, mIoU, BF).

python -m segbench.stats.report RUN_DIR --out FILE.md [--command "..."]

RUN_DIR holds results.json and the per-image record it names (`per_image.npz`); FILE.md gets a small table, each
interval from `segbench.stats.bootstrap.interval` with block 1 (images drawn one by one within their sequence)
and with the block length `block_length` chooses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segbench.errors import SegbenchError
from segbench.record.per_image import PerImageRecord
from segbench.record.run import read_record
from segbench.reporting.tables import markdown_from
from segbench.stats.bootstrap import LEVEL, MEASURES, RESAMPLES, SEED, Interval, block_length, interval
from segbench.utils import command_line, exit_on_user_error

DECIMALS = {"G": 1, "C": 1, "mIoU": 1, "BF": 2}  # as Table 1 prints them


def run_record(folder: Path) -> PerImageRecord:
    """The per-image record of the run in `folder`; one line naming its results.json when it has none."""
    file = folder / "results.json"
    if not file.is_file():
        raise SegbenchError(f"{folder} holds no results.json")
    record = read_record(file)
    if not record.per_image:
        raise SegbenchError(f"{file} names no per-image record (per_image): the run kept none, so no interval")
    return PerImageRecord.load(folder / record.per_image)


def _bounds(found: Interval, decimals: int) -> str:
    """`[34.4, 36.4] (±1.0)`: the interval and the half-width the reports show as `±`."""
    return f"[{found.low:.{decimals}f}, {found.high:.{decimals}f}] (±{found.half_width:.{decimals}f})"


def _frames(count: int) -> str:
    return f"{count} frame{'s' if count != 1 else ''}"


def _width(found: Interval) -> float:
    return found.high - found.low


def comparison_table(record: PerImageRecord) -> tuple[int, str]:
    """The block length chosen, and the markdown table: per measure its score, the i.i.d. and the block interval
    and how many times wider the block one is."""
    block = block_length([record])
    iid, blocks = interval([record], block=1), interval([record], block=block)
    rows = []
    for measure in MEASURES:
        d = DECIMALS[measure]
        ratio = _width(blocks[measure]) / _width(iid[measure]) if _width(iid[measure]) > 0 else float("nan")
        rows.append(
            [
                measure,
                f"{iid[measure].value:.{d}f}",
                _bounds(iid[measure], d),
                _bounds(blocks[measure], d),
                f"{ratio:.2f}",
            ]
        )
    header = ["Test score (%)", "Value", "i.i.d. images (block 1)", f"Blocks of {_frames(block)}", "Width ratio"]
    return block, markdown_from(header, rows)


def document(folder: Path, record: PerImageRecord, command: str) -> str:
    sequences = {name: int((record.sequences == name).sum()) for name in dict.fromkeys(record.sequences.tolist())}
    listed = ", ".join(f"{name or 'one sequence'} ({count})" for name, count in sequences.items())
    block, table = comparison_table(record)
    return "\n".join(
        [
            "# One run's test scores: the i.i.d. bootstrap beside the moving-block bootstrap",
            "",
            f"Written by `{command}` (do not edit by hand) from `{folder}`'s per-image record: {len(record)} test "
            f"images in {len(sequences)} sequence(s), {listed}.",
            "",
            f"Both intervals are {LEVEL:.0%} percentile intervals of {RESAMPLES:,} resamples (resampling seed "
            f"{SEED}) drawn within each sequence (`segbench.stats.bootstrap.interval`): the i.i.d. one draws images "
            f"one by one, the block one draws runs of {_frames(block)} in a row, the first lag at which the "
            "autocorrelation of per-image pixel accuracy falls inside the white-noise band 2/√n "
            "(`block_length`). Width ratio: the block interval's width over the i.i.d. one's. Over test images "
            "only: one seed, so not the training randomness. The method: docs/protocol.md, *Uncertainty of scores*.",
            "",
            table,
            "",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a run folder: results.json and its per-image record")
    parser.add_argument("--out", type=Path, required=True, help="the markdown file written")
    parser.add_argument("--command", help="the command named in the file (default: this one)")
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = args.command or command_line("python -m segbench.stats.report", argv)
    record = run_record(args.run)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(document(args.run, record, command))
    print(args.out)


if __name__ == "__main__":
    main()
