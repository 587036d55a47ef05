"""The reports' tables are written by pandas, and optional libraries are named by their extra when missing."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import markdown_rows

from segbench import extras
from segbench.reporting.tables import frame, latex, markdown, markdown_from, write_csv

SRC = Path(__file__).resolve().parents[2] / "src"

# What a table assembled by hand looks like in code: a markdown rule, cells joined by pipes, a LaTeX row.
HAND_MADE_TABLE = {
    "markdown rule": re.compile(r"\|\s*:?-{3,}"),
    "cells joined with pipes": re.compile(r"""["'] \| ["']\s*\.join|f["']\|\s\{"""),
    "LaTeX cells joined with &": re.compile(r"""["'] & ["']\s*\.join"""),
    "LaTeX row end": re.compile(r"""r["']\s*\\\\["']"""),
}


def test_no_table_in_src_is_assembled_by_string_formatting():
    found = [
        f"{path.relative_to(SRC)}:{number}: {kind}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for kind, pattern in HAND_MADE_TABLE.items()
        if pattern.search(line)
    ]
    assert found == []


def test_the_checks_find_a_hand_made_table():
    hand_made = [
        'table = ["| a | b |", "|---|---|"]',
        'line = "| " + " | ".join(cells) + " |"',
        'row = " & ".join(cells) + r" \\\\"',
        'rows.append(f"| {name} | {value} |")',
    ]
    assert [any(p.search(line) for p in HAND_MADE_TABLE.values()) for line in hand_made] == [True] * 4


def test_markdown_keeps_cells_whole_and_the_numbers_as_given():
    table = markdown_from(["network", "G"], [["SegNet", "71.40"], ["error | in a cell", "1,234"]])
    assert markdown_rows(table) == [["network", "G"], ["SegNet", "71.40"], ["error | in a cell", "1,234"]]
    assert markdown(frame([{"a": 1, "b": None}])).splitlines()[2].split("|")[2].strip() == "None"


def test_csv_keeps_integers_floats_and_empty_cells_as_pythons_csv_module_wrote_them(tmp_path):
    write_csv(frame([{"params": 1416075, "ratio": 0.485, "paper": None, "name": "a,b"}]), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes() == b'params,ratio,paper,name\r\n1416075,0.485,,"a,b"\r\n'


def test_latex_escapes_text_and_spells_dashes_for_tex():
    columns = pd.MultiIndex.from_tuples([("", "Variant"), ("Median frequency", "G")])
    table = pd.DataFrame([["FCN_Basic & co", "– / 83.9"]], columns=columns, dtype=object)
    lines = latex(table, "lr", ["Written by `make report`."]).splitlines()
    assert lines[:3] == ["% Written by `make report`.", r"\begin{tabular}{lr}", r"\toprule"]
    assert r" & \multicolumn{1}{c}{Median frequency} \\" in lines or r" & Median frequency \\" in lines
    body = lines[lines.index(r"\midrule") + 1 : lines.index(r"\bottomrule")]
    assert body == [r"FCN\_Basic \& co & -- / 83.9 \\"]


def test_a_missing_optional_library_names_its_extra_in_one_line(monkeypatch):
    with pytest.raises(SystemExit) as missing:
        extras.require("pydensecrf_not_installed.densecrf", "crf")
    message = str(missing.value)
    assert message == (
        "error: DeepLab-LargeFOV-denseCRF's dense CRF needs pydensecrf_not_installed, which is not installed: "
        "pip install 'segbench[crf]' (make install installs every extra)"
    )
    extras.require_launcher(["hydra/launcher=parallel", "model=segnet_basic"])  # installed here: nothing said
    monkeypatch.setitem(extras.LAUNCHER_PLUGINS, "parallel", "hydra_plugins.not_installed_launcher")
    with pytest.raises(SystemExit, match=r"pip install 'segbench\[cluster\]'"):
        extras.require_launcher(["--multirun", "hydra/launcher=parallel"])
