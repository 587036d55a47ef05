"""docs/extending.md's example, run from a folder outside src/ and conf/: a user's part and variant train, report
beside nothing else with "—" for the paper, and pass the conformance suite; a part breaking its contract is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import markdown_rows
from test_entry_points import QUIET_TRAINING, TINY_SYNTHETIC, check, run

from segbench import conformance

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "my_decoder"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example's files copied to a temporary folder: nothing of it is importable from the repository."""
    return Path(shutil.copytree(EXAMPLE, tmp_path / "my_decoder"))


def user_run(example: Path, workdir: Path, *overrides: str):
    return run(
        "train.py",
        workdir,
        f"hydra.searchpath=[file://{example / 'conf'}]",
        *overrides,
        *TINY_SYNTHETIC,
        *QUIET_TRAINING,
        env={"PYTHONPATH": str(example)},
    )


@pytest.mark.slow
def test_a_users_variant_trains_and_is_reported_without_the_paper(example, tmp_path):
    check(user_run(example, tmp_path, "model=my_variant", "trainer.max_epochs=1", f"hydra.run.dir={tmp_path}/run"))
    record = json.loads((tmp_path / "run" / "results.json").read_text())
    assert record["choices"]["model"] == "my_variant" and record["paper_name"] is None
    assert record["params"] == 1_428_555  # the example's pin
    check(run("report.py", tmp_path, str(tmp_path / "run"), "--out", str(tmp_path / "report")))
    row = markdown_rows((tmp_path / "report" / "table1.md").read_text(), "my_variant")[0]
    assert row[1] == "1.429 / —"  # params (M): ours / the paper's, which has no such variant


def test_a_users_variant_passes_every_conformance_check(example, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(example))
    variant = next(v for v in conformance.variants([example / "conf"]) if v.name == "my_variant")
    assert variant.file == str(example / "conf" / "model" / "my_variant.yaml")
    for name, check_variant in conformance.CHECKS.items():
        if name == "onnx":
            pytest.importorskip("onnxruntime")
            check_variant(variant, tmp_path)
        else:
            check_variant(variant)


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
