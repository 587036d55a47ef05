"""docs/extending.md's example, run from a folder outside src/ and conf/: a user's part and variant train, report
beside a built-in variant with "—" for the paper, and pass the conformance suite as `make conformance CONF=` runs it;
a part breaking its contract is refused."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import markdown_rows
from test_entry_points import QUIET_TRAINING, REPO_ROOT, TINY_SYNTHETIC, check, run

from segbench import conformance

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "my_decoder"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example's files copied to a temporary folder: nothing of it is importable from the repository."""
    return Path(shutil.copytree(EXAMPLE, tmp_path / "my_decoder"))


def user_run(example: Path, workdir: Path, *overrides: str, multirun: bool = False):
    return run(
        "train.py",
        workdir,
        *(["--multirun"] if multirun else []),
        f"hydra.searchpath=[file://{example / 'conf'}]",
        *overrides,
        *TINY_SYNTHETIC,
        *QUIET_TRAINING,
        env={"PYTHONPATH": str(example)},
    )


@pytest.mark.slow
def test_a_users_variant_trains_and_is_reported_beside_a_built_in_one(example, tmp_path):
    sweep = ("model=my_variant,segnet_basic", "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path}/sweep")
    check(user_run(example, tmp_path, *sweep, multirun=True))
    record = json.loads((tmp_path / "sweep" / "0" / "results.json").read_text())
    assert record["choices"]["model"] == "my_variant" and record["paper_name"] is None
    assert record["params"] == 1_428_555  # the example's pin
    check(run("report.py", tmp_path, str(tmp_path / "sweep"), "--out", str(tmp_path / "report")))
    table = (tmp_path / "report" / "table1.md").read_text()
    # params (M): ours / the paper's, which has no such variant
    assert markdown_rows(table, "my_variant")[0][1] == "1.429 / —"
    assert markdown_rows(table, "SegNet-Basic")[0][1] == "1.416 / 1.425"


def test_make_conformance_checks_a_users_config_folder(example):
    """`make conformance CONF=<their conf>`'s suite, as the Makefile runs it, on the user's variant: every check."""
    environment = {**os.environ, "SEGBENCH_CONFORMANCE_ALL": "1", "SEGBENCH_CONF": str(example / "conf")}
    environment["PYTHONPATH"] = os.pathsep.join([str(example), environment.get("PYTHONPATH", "")])
    suite = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/conformance", "-k", "my_variant"]
    done = subprocess.run(suite, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    skipped = int(m.group(1)) if (m := re.search(r"(\d+) skipped", summary)) else 0
    assert passed + skipped == len(conformance.CHECKS) and skipped <= 1, summary  # onnx without onnxruntime


def test_a_variant_without_its_pin_fails_with_the_count_to_write(example, monkeypatch):
    monkeypatch.syspath_prepend(str(example))
    config = example / "conf" / "model" / "my_variant.yaml"
    config.write_text(config.read_text().replace("  params: 1428555", "  paper_name: null"))
    variant = next(v for v in conformance.variants([example / "conf"]) if v.name == "my_variant")
    with pytest.raises(conformance.ConformanceError, match=r"no parameter pin: add `meta: \{params: 1428555\}`"):
        conformance.check_params(variant)


def test_a_part_breaking_its_contract_is_refused_in_one_line(example, tmp_path):
    parts = example / "my_parts.py"
    parts.write_text(parts.read_text().replace("def kept_from_encoder", "def stored_maps"))
    result = user_run(example, tmp_path, "model=my_variant", "trainer.fast_dev_run=true", f"hydra.run.dir={tmp_path}/r")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: decoder stage 1 skip my_parts.GatedSkip: the Skip contract needs kept_from_encoder()")
    )
