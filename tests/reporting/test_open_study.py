"""A study is config and the paper a reference: a run of a variant the paper does not have is reported like any
other, with "—" where the paper's numbers would be; records from before runs named their paper row are migrated."""

from __future__ import annotations

import csv
import json

import yaml
from conftest import markdown_rows, measured_provenance, recorded
from test_grid_report import complete, run_report, write_csv_log, write_run

from segbench.record.migrate import migrate_run
from segbench.record.run import read_record
from segbench.reporting.collect import collect
from segbench.reporting.efficiency_table import write_efficiency_table
from segbench.reporting.variants import configured_paper_names

SCORES = {"G": 0.75, "C": 0.5, "mIoU": 0.4, "BF": 0.3}


def test_a_variant_the_paper_lacks_is_in_every_table_and_plot_with_a_dash_for_the_paper(tmp_path):
    sweep = tmp_path / "sweep"
    # Written first: the report still puts the paper's variants first.
    zoo = write_run(sweep / "0", complete("zoo/resize_conv", "median_frequency", SCORES, SCORES, params=1_416_075))
    write_csv_log(zoo)
    write_run(sweep / "1", complete("segnet_basic", "median_frequency", SCORES, SCORES))
    assert read_record(zoo / "results.json").paper_name is None
    efficiency = tmp_path / "efficiency.jsonl"
    lines = [("segnet_basic", 1, 22_118_400, 750.0), ("zoo/resize_conv", 0, 0, 705.0)]
    efficiency.write_text(
        "".join(
            json.dumps({"model": model, "params": 1_416_075, "storage_multiplier": storage, "stored_bytes": stored,
                        "infer_ms_fp32": ms, "infer_ms_bf16_channels_last": None, "device": "cpu",
                        "provenance": measured_provenance()}) + "\n"
            for model, storage, stored, ms in lines
        )
    )  # fmt: skip
    out, summary = tmp_path / "report", tmp_path / "summary.md"
    run_report(sweep, "--out", out, "--efficiency", efficiency, "--summary", summary)

    text = (out / "table1.md").read_text()
    (header,) = markdown_rows(text, "Variant")
    assert [cells[0] for cells in markdown_rows(text) if cells[0] in ("SegNet-Basic", "zoo/resize_conv")] == [
        "SegNet-Basic",
        "zoo/resize_conv",
    ]
    (row,) = markdown_rows(text, "zoo/resize_conv")
    cell = dict(zip(header, row))
    assert [cell[name] for name in ("Params (M)", "Storage multiplier", "Infer time (ms)")] == [
        "1.416 / —",
        "0 / —",
        "705.0 / —",
    ]
    assert [cell[f"MF test {m}"] for m in ("G", "C", "mIoU", "BF")] == ["75.0 / —", "50.0 / —", "40.0 / —", "30.00 / —"]
    assert (cell["NF run"], cell["NF test G"]) == ("—", "– / —")
    with (out / "table1.csv").open() as handle:
        csv_row = next(r for r in csv.DictReader(handle) if r["model"] == "zoo/resize_conv")
    assert (csv_row["paper_name"], csv_row["median_frequency_test_G"], csv_row["median_frequency_test_G_paper"]) == (
        "",
        "75.0",
        "",
    )
    assert csv_row["median_frequency_test_G_diff"] == csv_row["paper_params_m"] == ""
    assert "zoo/resize\\_conv & 1.416 / --- &" in (out / "table1.tex").read_text()

    page = summary.read_text()
    (header,) = markdown_rows(page, "Variant")
    zoo_summary = dict(zip(header, markdown_rows(page, "zoo/resize_conv")[0]))
    # 705 / 750 ms of SegNet-Basic measured; the paper has no time for it
    assert zoo_summary["Stored bytes"] == "0" and zoo_summary["Time ÷ SegNet-Basic (paper)"] == "0.94 (—)"
    assert zoo_summary["MF test mIoU"] == "40.0 (—)" and "NF test G" not in zoo_summary  # no run of it
    for name in ("table1-vs-stored-bytes.png", "table1-vs-infer-time.png", "table1-val-curves.png"):
        assert (out / name).stat().st_size > 1000


def test_the_efficiency_table_names_a_variant_by_its_config_and_dashes_the_papers_columns(tmp_path):
    assert configured_paper_names(["zoo/resize_conv", "segnet_basic", "no_such_model"]) == {
        "zoo/resize_conv": None,
        "segnet_basic": "SegNet-Basic",
        "no_such_model": None,
    }
    common = {"infer_ms_bf16_channels_last": None, "input": [1, 3, 360, 480], "runs": 5, "device": "cpu"}
    lines = [
        {"model": "zoo/resize_conv", "params": 1_416_075, "storage_multiplier": 0, "stored_bytes": 0,
         "infer_ms_fp32": 210.0, **common},
        {"model": "segnet_basic", "params": 1_416_075, "storage_multiplier": 1, "stored_bytes": 22_118_400,
         "infer_ms_fp32": 200.0, **common},
    ]  # fmt: skip
    for line in lines:
        line["provenance"] = measured_provenance()
    jsonl = tmp_path / "bench.jsonl"
    jsonl.write_text("".join(json.dumps(line) + "\n" for line in lines))
    names = {"zoo/resize_conv": None, "segnet_basic": "SegNet-Basic"}
    rows = write_efficiency_table(jsonl, tmp_path / "table", "make bench", paper_names=names)
    assert [row["model"] for row in rows] == ["segnet_basic", "zoo/resize_conv"]
    text = (tmp_path / "table.md").read_text()
    (header,) = markdown_rows(text, "variant")
    zoo = dict(zip(header, markdown_rows(text, "zoo/resize_conv")[0]))
    assert (zoo["params"], zoo["fp32 ms"], zoo["fp32 / SegNet-Basic"]) == ("1,416,075", "210.0", "1.05")
    paper_columns = ("Table 1 params (M)", "Table 1", "Table 1 ms (Titan GPU)", "Table 1 / SegNet-Basic")
    assert [zoo[name] for name in paper_columns] == ["—"] * 4


def old_record(model: str) -> dict:
    """A results.json by code from before runs recorded their paper name (it has a provenance)."""
    return recorded({"choices": {"model": model}, "test": {"test/G": 0.8, "test/C": 0.6, "test/mIoU": 0.4}})


def test_the_migration_fills_the_paper_name_from_the_saved_config_else_the_papers_tables(tmp_path):
    def migrated(name: str, model: str, saved: dict | None) -> tuple[bool, str | None]:
        run = tmp_path / name
        run.mkdir()
        (run / "results.json").write_text(json.dumps(old_record(model)))
        if saved is not None:
            (run / ".hydra").mkdir()
            (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(saved))
        changed = migrate_run(run / "results.json")
        assert not migrate_run(run / "results.json")  # once
        return changed, read_record(run / "results.json").paper_name

    # The saved config's meta block decides, even against the option's name in the paper's tables.
    assert migrated("meta", "fcn_basic", {"model": {"meta": {"paper_name": "FCN-Basic-NoAddition"}}}) == (
        True,
        "FCN-Basic-NoAddition",
    )
    assert migrated("meta-without-name", "zoo/resize_conv", {"model": {"meta": {"params": 1}}}) == (True, None)
    # A config from before meta blocks, or none saved: Table 1's or Table 3's name of the model option.
    assert migrated("no-meta", "fcn_basic", {"seed": 0, "model": {"_target_": "x"}}) == (True, "FCN-Basic")
    assert migrated("no-config", "table3/fcn_learnt_deconv", None) == (True, "FCN (learnt deconv)")
    assert migrated("not-in-paper", "zoo/unet_concat", None) == (True, None)
    # A record that says null knows it: the network is not in the paper, whatever the tables hold for its option.
    run = tmp_path / "current"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(old_record("segnet_basic") | {"paper_name": None}))
    assert not migrate_run(run / "results.json")


def test_collect_migrates_the_records_it_copies(tmp_path):
    run = tmp_path / "logs" / "0"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps(old_record("segnet_basic") | {"best_checkpoint": "/x/best.ckpt"}))
    (copy,) = collect([tmp_path / "logs"], tmp_path / "out")
    record = read_record(copy / "results.json")
    assert (record.paper_name, record.best_checkpoint) == ("SegNet-Basic", "best.ckpt")
    assert "paper_name" not in json.loads((run / "results.json").read_text())  # logs/ left as it was
