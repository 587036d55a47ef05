from __future__ import annotations

from segbench.reporting.curves import read_curve, write_curves

HEADER = "epoch,step,train/loss_step,val/G\n"


def write_log(run, version: int, rows: str) -> None:
    path = run / "csv" / f"version_{version}" / "metrics.csv"
    path.parent.mkdir(parents=True)
    path.write_text(HEADER + rows)


def test_a_resumed_run_reads_as_one_curve_and_the_later_log_wins(tmp_path):
    run = tmp_path / "run"
    write_log(run, 0, "0,9,1.5,\n0,9,,0.50\n0,9,1.4,\n1,19,,0.60\n1,19,1.3,\n")
    write_log(run, 1, "1,19,,0.62\n1,19,1.2,\n2,29,,0.70\n2,29,1.1,\n")
    assert read_curve(run, "val/G") == [(0, 9, 0.50), (1, 19, 0.62), (2, 29, 0.70)]


def test_curves_table_and_plot(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_log(first, 0, "0,9,,0.50\n0,9,1,\n1,19,,0.80\n1,19,1,\n2,29,,0.64\n2,29,1,\n")
    write_log(second, 0, "0,9,,0.70\n0,9,1,\n1,19,,0.72\n1,19,1,\n")
    write_curves({"off": first, "on": second}, "val/G", tmp_path / "out" / "bn", command="cmd")
    text = (tmp_path / "out" / "bn.md").read_text()
    assert "Written by `cmd`" in text
    assert "- off: best 80.00, last 64.00, largest drop between consecutive evaluations 16.00 points" in text
    assert "| 3 | 64.00 |  |" in text
    assert (tmp_path / "out" / "bn.png").stat().st_size > 1000


def test_runs_table_puts_table1_beside_our_scores(tmp_path):
    import json

    from segbench.reporting.runs import write_runs_report

    run = tmp_path / "multirun" / "0"
    run.mkdir(parents=True)
    results = {
        "choices": {"model": "segnet_basic", "balancing": "median_frequency"}, "epochs_trained": 3, "global_step": 90,
        "test": {"test/G": 0.8, "test/C": 0.5, "test/mIoU": 0.4, "test/BF": 0.3}, "train": {"train/G": 0.9, "train/C": 0.6, "train/mIoU": 0.5},
    }
    (run / "results.json").write_text(json.dumps(results))
    (run / ".hydra").mkdir()
    (run / ".hydra" / "overrides.yaml").write_text("- model=segnet_basic\n- dataset.resolution=[180,240]\n- ckpt_path=/x/last.ckpt\n- hydra.run.dir=/x\n")
    write_runs_report([tmp_path / "multirun"], tmp_path / "runs", command="cmd")
    lines = (tmp_path / "runs.md").read_text().splitlines()
    assert lines[-1] == "- `0`: `python src/train.py model=segnet_basic 'dataset.resolution=[180,240]' (trained in resumed segments)`"
    row = lines[lines.index("Each run re-created by (its full config is in `<run>/.hydra/config.yaml`):") - 2]
    assert row == "| 0 | segnet_basic | median_frequency | 3 | 90 | 80.0 | 50.0 | 40.0 | 30.0 | 90.0 | 60.0 | 50.0 | 82.7 / 62.0 / 47.7 / 35.78 |"


def test_rows_logged_after_training_are_not_part_of_the_curve(tmp_path):
    run = tmp_path / "run"
    # the last two val/G rows come after the final training row: scores of the selected checkpoint
    write_log(run, 0, "0,9,,0.50\n0,9,1.4,\n1,19,,0.60\n1,19,1.3,\n2,20,,0.99\n2,20,,0.98\n")
    assert read_curve(run, "val/G") == [(0, 9, 0.50), (1, 19, 0.60)]
