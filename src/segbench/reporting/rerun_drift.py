"""How far each Table 1 cell moved between two trainings of the same recipe (issue 27, beyond the paper).

The CPU Table 1 grid was trained twice with seed 0: first without per-image records, then again with them. The
second training's interval over test images (`segbench.stats.bootstrap`) says how much of the move the test set's
sampling alone could explain; what remains is training randomness and the machines' (precision, CPU) differences,
which each side names.

    python -m segbench.reporting.rerun_drift NEW_RUNS OLD_RUNS --out docs/results/table1-rerun-drift
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segbench.reporting.grid_runs import Run, find_runs, place
from segbench.reporting.grid_tables import table1_decimals
from segbench.reporting.labels import BALANCING_SHORT
from segbench.reporting.tables import frame, markdown, write_csv
from segbench.reporting.variants import variant_order
from segbench.stats.bootstrap import MEASURES, interval
from segbench.utils import command_line, exit_on_user_error

COLUMNS = ["variant", "balancing", "measure", "first", "again", "again_low", "again_high", "moved", "inside"]


def _machine(runs: list[Run]) -> str:
    """The precisions and CPUs the runs were trained on, as their records say."""
    precisions = sorted({run.compute_path or "not recorded" for run in runs})
    cpus = sorted({run.record.provenance.cpu or "not recorded" for run in runs})
    return f"precision {', '.join(precisions)}; CPU {', '.join(cpus)}"


def drift_rows(again: list[Run], first: list[Run]) -> list[dict]:
    """A row per measure of each cell both trainings finished; the second's interval from its per-image record."""
    new, old = place(again, "the second training"), place(first, "the first training")
    rows = []
    shared = [key for key in new if key in old and new[key].complete and old[key].complete]
    for key in sorted(shared, key=lambda k: (variant_order(new[k].record.paper_name, k[0]), k[1])):
        run, previous = new[key], old[key]
        record = run.per_image()
        intervals = interval([record]) if record is not None else {}
        for measure in MEASURES:
            decimals = table1_decimals(measure)
            now, before = run.score("test", measure), previous.score("test", measure)
            if now is None or before is None:
                continue
            bounds = intervals.get(measure)
            row = {
                "variant": run.record.variant_name,
                "balancing": BALANCING_SHORT.get(key[1], key[1]),
                "measure": measure,
                "first": round(100 * before, decimals),
                "again": round(100 * now, decimals),
                "again_low": None if bounds is None else round(bounds.low, decimals),
                "again_high": None if bounds is None else round(bounds.high, decimals),
                "moved": round(100 * (now - before), decimals),
            }
            row["inside"] = None if bounds is None else bool(bounds.low <= 100 * before <= bounds.high)
            rows.append(row)
    return rows


def write_drift(again_dir: Path, first_dir: Path, out_stem: Path, command: str) -> list[dict]:
    again, first = find_runs([again_dir]), find_runs([first_dir])
    rows = drift_rows(again, first)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    write_csv(frame(rows, COLUMNS), out_stem.with_suffix(".csv"))
    shown = frame(
        {
            "Variant": row["variant"],
            "Bal.": row["balancing"],
            "Test": row["measure"],
            "First training": row["first"],
            "Again [95% interval]": row["again"]
            if row["again_low"] is None
            else f"{row['again']} [{row['again_low']}, {row['again_high']}]",
            "Moved": f"{row['moved']:+}",
            "First inside the interval": {True: "yes", False: "no", None: "no record"}[row["inside"]],
        }
        for row in rows
    )
    inside = [row for row in rows if row["inside"] is not None]
    count = sum(row["inside"] for row in inside)
    cells = len({(row["variant"], row["balancing"]) for row in rows})
    text = f"""# Table 1 trained twice: how far each cell moved

Written by `{command}` (do not edit by hand), from `{first_dir}` (the first training) and `{again_dir}` (the second,
with per-image records). Both seed 0, the same recipe; the first: {_machine(first)}; the second: {_machine(again)}.

The interval is the second training's 95% moving-block bootstrap interval over the test images
(docs/protocol.md, *Uncertainty of scores*): it covers the test set's sampling only, not the training randomness,
so a first score outside it moved by more than sampling alone explains. {count} of {len(inside)} scores of the
{cells} cells both trainings finished lie inside it.

{markdown(shown)}
"""
    out_stem.with_suffix(".md").write_text(text)
    return rows


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("again", type=Path, help="runs of the second training (with per-image records)")
    parser.add_argument("first", type=Path, help="runs of the first training")
    parser.add_argument("--out", type=Path, required=True, help="output path without suffix (.md and .csv)")
    parser.add_argument("--command", help="the command named in the document (default: this one)")
    args = parser.parse_args(argv)
    command = args.command or command_line("python -m segbench.reporting.rerun_drift", argv)
    write_drift(args.again, args.first, args.out, command)
    print(args.out.with_suffix(".md"))


if __name__ == "__main__":
    main()
