"""What each sweep job shows in W&B, read back from the offline runs that a tiny real sweep writes.

An offline run is `<output_dir>/wandb/offline-run-<time>-<id>/`: `run-<id>.wandb`, a LevelDB-style log of
wandb's protobuf records (run, config, history, summary, files, ...), and `files/media/` with the logged
images, masks and tables. wandb 0.31 writes no wandb-summary.json or config.yaml for an offline run and has no
Python reader of the log any more, hence `read_offline_run` below (checked against wandb 0.31, the range
pyproject.toml pins). The W&B dashboard (segbench.reporting.wandb_dashboard) is checked against the same runs.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image
from pytorch_lightning.loggers import CSVLogger, WandbLogger
from test_entry_points import QUIET_TRAINING, REPO_ROOT, TINY_SYNTHETIC, check, run
from torch.nn import functional as F
from wandb_workspaces import expr

import segbench.pipeline
from segbench.callbacks import PredictionImages, log_selected
from segbench.checkpoints import load_task
from segbench.data.camvid import CLASS_NAMES, VOID_INDEX
from segbench.data.datamodule import SegmentationDataModule
from segbench.record.run import RunRecord, dump, read_record
from segbench.reporting import wandb_dashboard

# ---------------------------------------------------------------------------------------------------------------
# Reading an offline run
# ---------------------------------------------------------------------------------------------------------------
BLOCK, HEADER = 32768, 7  # the log's blocks and record headers (crc32 uint32, length uint16, type uint8)
FULL, LAST = 1, 4


def log_records(path: Path):
    """The protobuf records of a `.wandb` file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    ident, magic, _version = struct.unpack("<4sHB", data[:HEADER])
    assert (ident, magic) == (b":W&B", 0xBEE1), f"{path} is not a W&B transaction log"
    position, chunks = HEADER, []
    while position + HEADER <= len(data):
        left_in_block = BLOCK - position % BLOCK
        _, length, kind = struct.unpack("<IHB", data[position : position + HEADER])
        if left_in_block < HEADER or (kind == 0 and length == 0):  # zero padding up to the next block
            position += left_in_block
            continue
        if position + HEADER + length > len(data):  # a record still being written
            break
        chunks.append(data[position + HEADER : position + HEADER + length])
        position += HEADER + length
        if kind in (FULL, LAST):  # FIRST and MIDDLE fragments wait for the rest of their record
            record = wandb_internal_pb2.Record()
            record.ParseFromString(b"".join(chunks))
            chunks = []
            yield record


def _apply(target: dict, items, remove=()) -> None:
    """Fold config or summary updates (`key` or a `nested_key` path, JSON values) into `target`."""
    for item in items:
        *parents, leaf = list(item.nested_key) or [item.key]
        node = target
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = json.loads(item.value_json)
    for item in remove:
        *parents, leaf = list(item.nested_key) or [item.key]
        node = target
        for name in parents:
            node = node.get(name, {})
        node.pop(leaf, None)


@dataclass
class OfflineRun:
    folder: Path
    run: Any = None  # the RunRecord: group, job_type, display_name, tags
    config: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    exited: bool = False  # the exit record, the last one wandb-core writes

    def table(self, key: str) -> dict:
        """A logged table's columns and rows, from the file the summary points at."""
        return json.loads((self.folder / "files" / self.summary[key]["path"]).read_text())


def read_offline_run(folder: Path, patience_s: float = 60.0) -> OfflineRun:
    """The run's records. The log is written by the separate wandb-core process, which may still be flushing
    when `wandb.finish()` returns on a loaded machine (a CI run once read the run and config records without the
    history after them): the log is read again until its closing exit record is there, or `patience_s` passes."""
    (log_file,) = folder.glob("run-*.wandb")
    deadline = time.monotonic() + patience_s
    while True:
        offline = _parse_offline_run(folder, log_file)
        if offline.exited or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert offline.run is not None and offline.exited, f"no run or no exit record in {log_file}"
    return offline


def _parse_offline_run(folder: Path, log_file: Path) -> OfflineRun:
    offline = OfflineRun(folder)
    for record in log_records(log_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            offline.run = record.run
        elif kind == "config":
            _apply(offline.config, record.config.update, record.config.remove)
        elif kind == "summary":
            _apply(offline.summary, record.summary.update, record.summary.remove)
        elif kind == "exit":
            offline.exited = True
        elif kind == "history":
            row: dict = {}
            _apply(row, record.history.item)
            offline.history.append(row)
    return offline


def offline_env(root: Path) -> dict[str, str]:
    """Offline W&B with its caches and artifact staging under `root`, not in the user's home."""
    return {
        "WANDB_MODE": "offline",
        "WANDB_CACHE_DIR": str(root / "wandb-cache"),
        "WANDB_DATA_DIR": str(root / "wandb-data"),
        "WANDB_CONFIG_DIR": str(root / "wandb-config"),
        "WANDB_SILENT": "true",
    }


# ---------------------------------------------------------------------------------------------------------------
# A two-job sweep, as `python src/train.py --multirun ...` runs it, logging to offline W&B runs
# ---------------------------------------------------------------------------------------------------------------
SWEEP_NAME = "2030-01-02_03-04-05"  # a sweep folder as Hydra names it
BALANCINGS = ("median_frequency", "natural")
VAL_IMAGES, SHOWN = 3, 2
STEPS_PER_EPOCH, EPOCHS = 2, 2  # 4 training images in batches of 2
VALIDATION_STEPS = [STEPS_PER_EPOCH * (epoch + 1) - 1 for epoch in range(EPOCHS)]


@dataclass
class Job:
    folder: Path
    results: dict
    wandb: OfflineRun


@pytest.fixture(scope="module")
def sweep_workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wandb_sweep")


@pytest.fixture(scope="module")
def sweep(sweep_workdir) -> dict[str, Job]:
    """The jobs by balancing; scale=cpu (bf16, poly schedule) at 24x32 inputs, scored on the 48x64 labels."""
    workdir = sweep_workdir
    sweep_dir = workdir / "logs" / "train" / "multiruns" / SWEEP_NAME
    check(
        run(
            "train.py",
            workdir,
            "--multirun",
            *TINY_SYNTHETIC,
            *QUIET_TRAINING,
            f"balancing={','.join(BALANCINGS)}",
            "scale=cpu",
            "trainer.precision=bf16-mixed",  # pinned: scale=cpu's auto would probe the machine
            f"dataset.generator.split_sizes={{train:4,val:{VAL_IMAGES},test:2}}",
            "dataset.resolution=[24,32]",
            f"trainer.max_epochs={EPOCHS}",
            "logger=wandb",
            "logger.wandb.offline=true",  # even where an account is configured
            f"callbacks.prediction_images.num_images={SHOWN}",
            f"hydra.sweep.dir={sweep_dir}",
            env=offline_env(workdir),
        )
    )
    jobs = {}
    for folder in sorted(path for path in sweep_dir.iterdir() if (path / "results.json").is_file()):
        results = json.loads((folder / "results.json").read_text())
        (run_folder,) = (folder / "wandb").glob("offline-run-*")
        jobs[results["choices"]["balancing"]] = Job(folder, results, read_offline_run(run_folder))
    assert sorted(jobs) == sorted(BALANCINGS)
    return jobs


@pytest.mark.slow
def test_the_jobs_of_a_sweep_share_a_group_of_their_own_typed_by_model_tagged_by_balancing_and_scale(sweep):
    for balancing, job in sweep.items():
        assert job.wandb.run.run_group == f"train/{SWEEP_NAME}"
        assert job.wandb.run.job_type == "segnet_basic"
        assert job.wandb.run.display_name == f"segnet_basic/{balancing}"
        assert list(job.wandb.run.tags) == [f"balancing:{balancing}", "scale:cpu"]
    assert len({job.wandb.run.run_id for job in sweep.values()}) == 2  # one W&B run per job


@pytest.mark.slow
def test_the_resolved_config_and_the_selected_scores_are_in_each_run(sweep):
    for balancing, job in sweep.items():
        config = job.wandb.config
        assert config["choices"] == job.results["choices"] and config["choices"]["balancing"] == balancing
        assert config["config"]["dataset"]["resolution"] == [24, 32] and config["config"]["task_name"] == "train"
        assert config["config"]["logger"]["wandb"]["group"] == f"train/{SWEEP_NAME}"
        assert config["class_names"] == list(CLASS_NAMES)  # Lightning's own hyper-parameters of the task
        selected = {key: value for key, value in job.wandb.summary.items() if key.startswith("selected/")}
        expected = {
            f"selected/{key}": value for split in ("train", "val", "test") for key, value in job.results[split].items()
        }
        assert selected.keys() == expected.keys() and "selected/test/mIoU" in selected
        for key, value in expected.items():
            assert selected[key] == pytest.approx(value, nan_ok=True), key
        # the curves: val/G after each of the EPOCHS evaluations, at Lightning's logging step (the batches
        # stepped before the epoch's last one)
        curve = [(row["trainer/global_step"], row["val/G"]) for row in job.wandb.history if "val/G" in row]
        assert [step for step, _ in curve] == VALIDATION_STEPS
        assert all(0 <= g <= 1 for _, g in curve)


@pytest.mark.slow
def test_each_evaluation_logs_the_same_validation_images_with_prediction_and_ground_truth_masks(sweep, sweep_workdir):
    data = sweep_workdir / "data" / "synthetic"
    val_names = sorted(path.name for path in (data / "val").glob("*.png"))
    shown = [val_names[0], val_names[2]]  # the middles of two halves of three images
    job = sweep["natural"].wandb
    rows = [row for row in job.history if "val/predictions" in row]
    # one panel per evaluation, at the step of its scores; none from the scoring after fitting
    assert [row["trainer/global_step"] for row in rows] == VALIDATION_STEPS
    labels = job.config["_wandb"]["mask/class_labels"]
    expected_labels = {**{str(i): name for i, name in enumerate(CLASS_NAMES)}, str(VOID_INDEX): "void"}
    for mask in ("prediction", "ground_truth"):
        assert labels[f"val/predictions_wandb_delimeter_{mask}"]["value"] == expected_labels
    for row in rows:
        panel = row["val/predictions"]
        assert panel["_type"] == "images/separated" and panel["count"] == SHOWN
        assert panel["captions"] == shown
        assert (panel["height"], panel["width"]) == (48, 64)  # at the size of the labels scored, not the input's
        for filename, masks, name in zip(panel["filenames"], panel["all_masks"], shown, strict=True):
            assert np.asarray(Image.open(job.folder / "files" / filename)).shape == (48, 64, 3)
            truth = np.asarray(Image.open(job.folder / "files" / masks["ground_truth"]["path"]))
            np.testing.assert_array_equal(truth, np.asarray(Image.open(data / "valannot" / name)))
            assert (truth == VOID_INDEX).any()  # the void pixels are there, labelled "void"
            prediction = np.asarray(Image.open(job.folder / "files" / masks["prediction"]["path"]))
            assert prediction.shape == (48, 64) and prediction.max() < len(CLASS_NAMES)
    # the last panel shows what the network saved after that validation predicts (in bf16 a tie may flip)
    expected = predicted_by_checkpoint(sweep["natural"].folder / "checkpoints" / "last.ckpt", data)
    for masks, name in zip(rows[-1]["val/predictions"]["all_masks"], shown, strict=True):
        prediction = np.asarray(Image.open(job.folder / "files" / masks["prediction"]["path"]))
        assert (prediction == expected[name]).mean() > 0.98


def predicted_by_checkpoint(checkpoint: Path, data: Path) -> dict[str, np.ndarray]:
    """Label maps of the validation images at the native 48x64, from the checkpoint, as validation computes them."""
    task = load_task(checkpoint).eval()
    split = SegmentationDataModule(root=str(data), resolution=(24, 32), progress=False).split("val")
    images = torch.from_numpy(split.images).permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # scale=cpu's bf16-mixed
        logits = task(images)
    logits = F.interpolate(logits.float(), size=(48, 64), mode="bilinear", align_corners=False)
    return dict(zip(split.names, logits.argmax(dim=1).numpy(), strict=True))


def assert_test_panels(offline: OfflineRun, results: dict) -> None:
    """The confusion-matrix panel and table, the per-class table and the summary scores equal results.json."""
    names = results["class_names"]
    chart = offline.config["_wandb"]["visualize"]["test/confusion_matrix"]["panel_config"]
    assert chart["panelDefId"] == "wandb/confusion_matrix/v1"
    assert chart["fieldSettings"] == {"Actual": "actual", "Predicted": "predicted", "nPredictions": "count"}
    confusion = offline.table("test/confusion_matrix_table")
    assert confusion["columns"] == ["actual", "predicted", "count"]
    counts = results["test_confusion"]
    expected = [[names[t], names[p], counts[t][p]] for t in range(len(names)) for p in range(len(names))]
    assert confusion["data"] == expected and sum(row[2] for row in expected) > 0
    per_class = offline.table("test/per_class")
    assert per_class["columns"] == ["class", "IoU", "accuracy"]
    assert [row[0] for row in per_class["data"]] == names
    test = results["test"]
    for name, iou, accuracy in per_class["data"]:
        assert iou == pytest.approx(test[f"test/IoU/{name}"], nan_ok=True), name
        assert accuracy == pytest.approx(test[f"test/accuracy/{name}"], nan_ok=True), name
    for measure in ("G", "C", "mIoU", "BF"):
        assert offline.summary[f"test/{measure}"] == pytest.approx(test[f"test/{measure}"])
    for sequence, scores in results["per_sequence"].items():
        for key, value in scores.items():
            assert offline.summary[f"test/sequence/{sequence}/{key}"] == pytest.approx(value)


@pytest.mark.slow
def test_log_selected_puts_the_test_panels_of_a_run_into_its_wandb_run(sweep, tmp_path, monkeypatch):
    for name, value in offline_env(tmp_path).items():
        monkeypatch.setenv(name, value)  # WandbLogger(offline=True) also sets WANDB_MODE; monkeypatch restores it
    import wandb

    record = read_record(sweep["natural"].folder / "results.json")
    # the synthetic scenes have no video sequences: two made-up ones check how they are summarised
    per_sequence = {
        "0001TP": {"images": 1, "G": 0.5, "C": 0.25, "mIoU": 0.125, "BF": 0.0625},
        "Seq05VD": {"images": 1, "G": 0.75, "C": 0.5, "mIoU": 0.25, "BF": 0.5},
    }
    record = RunRecord.model_validate({**dump(record), "per_sequence": per_sequence})
    logger = WandbLogger(save_dir=str(tmp_path), offline=True, project="segbench")
    try:
        log_selected([CSVLogger(tmp_path / "csv"), logger], record)
    finally:
        wandb.finish()
    (folder,) = (tmp_path / "wandb").glob("offline-run-*")
    assert_test_panels(read_offline_run(folder), dump(record))


PIPELINE_LOGS_PANELS = "log_selected(" in Path(segbench.pipeline.__file__).read_text()


@pytest.mark.slow
@pytest.mark.skipif(not PIPELINE_LOGS_PANELS, reason="pipeline.train does not call log_selected yet")
def test_each_job_run_ends_with_its_test_panels(sweep):
    for job in sweep.values():
        assert_test_panels(job.wandb, job.results)


# ---------------------------------------------------------------------------------------------------------------
# The dashboard (segbench.reporting.wandb_dashboard) against what the sweep's runs logged
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_every_key_a_dashboard_panel_reads_is_one_the_sweep_runs_logged(sweep, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")  # as the runs were; CI exports disabled
    (group,) = {job.wandb.run.run_group for job in sweep.values()}
    workspace, report = wandb_dashboard.build(group, "offline-entity", "segbench")
    runsets = [runset for block in report.blocks for runset in getattr(block, "runsets", ())]
    for filters in [workspace.runset_settings.filters, *(runset.filters for runset in runsets)]:
        condition = expr.expr_to_filters(filters)  # the grid's runs, by the group the runs were logged in
        key = condition.key
        assert (key.section, key.name, condition.op, condition.value) == ("run", "group", "=", group)
    referenced = wandb_dashboard.referenced_keys(workspace, report)
    assert {"val/G", "val/predictions"} <= referenced["history"] and "choices.model" in referenced["config"]
    assert {"test/mIoU", "cost/stored_bytes", "test/confusion_matrix_table"} <= referenced["summary"]
    for balancing, job in sweep.items():
        logged = wandb_dashboard.logged_keys(job.wandb.history, job.wandb.summary, job.wandb.config)
        assert wandb_dashboard.missing_keys(referenced, logged) == [], balancing

    # a metric, summary or config key renamed on one side only fails the check
    monkeypatch.setattr(wandb_dashboard, "CURVES", ("val/G", "val/mean_IoU"))
    monkeypatch.setattr(wandb_dashboard, "MEASURES", ("G", "C", "mIoU", "BF_exact"))
    monkeypatch.setattr(wandb_dashboard, "CHOICES", ("decoder", "balancing"))
    renamed = wandb_dashboard.referenced_keys(*wandb_dashboard.build(group, "offline-entity", "segbench"))
    run = sweep["natural"].wandb
    logged = wandb_dashboard.logged_keys(run.history, run.summary, run.config)
    assert wandb_dashboard.missing_keys(renamed, logged) == [
        "history:val/mean_IoU",
        "summary:test/BF_exact",
        "config:choices.decoder",
    ]


NO_NETWORK = """
import runpy, socket, sys
def refuse(*args, **kwargs):
    raise OSError("the dashboard command tried to reach the network")
socket.socket.connect = socket.socket.connect_ex = socket.create_connection = refuse
sys.argv = ["wandb_dashboard", *sys.argv[1:]]
runpy.run_module("segbench.reporting.wandb_dashboard", run_name="__main__")
"""


def dashboard_command(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`python -m segbench.reporting.wandb_dashboard ARGS` with sockets refused, no W&B login (a fresh HOME, no
    WANDB_* variables) and an address no W&B server answers at."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("WANDB_") and key != "NETRC"}
    environ.update(HOME=str(home), WANDB_BASE_URL="http://127.0.0.1:9", WANDB_CONFIG_DIR=str(home / "wandb"), **env)
    command = [sys.executable, "-c", NO_NETWORK, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=environ, cwd=home)


def test_the_dashboard_dry_run_prints_its_specification_without_network_or_login(tmp_path):
    result = dashboard_command(tmp_path, "--group", "table1/2030-01-02_03-04-05", "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    spec = json.loads(result.stdout)
    workspace, report = spec["workspace"], spec["report"]
    assert (workspace["type"], report["type"]) == ("Workspace", "Report")
    assert workspace["project"] == report["project"] == "segbench"  # where conf/logger/wandb.yaml logs
    panels = [panel["type"] for section in workspace["sections"] for panel in section["panels"]]
    assert panels == ["ParallelCoordinatesPlot", "RunComparer", *["ScatterPlot"] * 4, "LinePlot", "LinePlot"] + [
        "CustomChart",
        "WeavePanelSummaryTable",
        "MediaBrowser",
    ]
    grids = [block for block in report["blocks"] if block["type"] == "PanelGrid"]
    assert [panel["type"] for grid in grids for panel in grid["panels"]] == panels  # the report: the same panels
    condition = "Metric(\"Group\") == 'table1/2030-01-02_03-04-05'"
    assert workspace["runset_settings"]["filters"] == condition
    assert all(runset["filters"] == condition for grid in grids for runset in grid["runsets"])
    assert "summary:test/mIoU" in workspace["runset_settings"]["pinned_columns"]
    assert "test/confusion_matrix_table" in spec["referenced_keys"]["summary"]


@pytest.mark.parametrize(
    ("env", "message"),
    [({}, "error: no W&B login for http://127.0.0.1:9"), ({"WANDB_MODE": "offline"}, "error: WANDB_MODE=offline")],
)
def test_saving_the_dashboard_without_a_login_is_a_one_line_error(tmp_path, env, message):
    result = dashboard_command(tmp_path, "--group", "table1/x", **env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr[-3000:]


# ---------------------------------------------------------------------------------------------------------------
# Without a sweep
# ---------------------------------------------------------------------------------------------------------------
def wandb_init_arguments(*overrides: str) -> dict:
    """What the configured WandbLogger would pass to wandb.init (the logger starts no run before it logs)."""
    with initialize_config_dir(version_base="1.3", config_dir=str(REPO_ROOT / "conf")):
        cfg = compose("train", overrides=["paths.output_dir=unused", *overrides], return_hydra_config=True)
    return instantiate(cfg.logger.wandb)._wandb_init


def test_a_single_run_is_a_group_of_its_own_task_tagged_scale_none_without_a_scale(monkeypatch):
    monkeypatch.delenv("WANDB_SWEEP_ID", raising=False)
    init = wandb_init_arguments("model=fcn_basic", "balancing=natural", "task_name=mine")
    assert (init["group"], init["job_type"], init["name"]) == ("mine", "fcn_basic", "fcn_basic/natural")
    assert init["tags"] == ["balancing:natural", "scale:none"] and type(init["tags"]) is list
    assert "anonymous" not in init  # wandb warns on every run that is given one
    # a run a W&B sweep's agent starts is a single Hydra run: grouped by the W&B sweep
    monkeypatch.setenv("WANDB_SWEEP_ID", "abc123")
    assert wandb_init_arguments("experiment=table1", "scale=cpu")["group"] == "table1/sweep-abc123"


def test_prediction_images_do_nothing_without_a_wandb_logger(tmp_path):
    callback = PredictionImages(num_images=2)
    # a trainer with no validation data to read: the callback must not look for any
    trainer = SimpleNamespace(sanity_checking=False, is_global_zero=True, loggers=[CSVLogger(tmp_path)])
    callback.on_validation_end(trainer, pl_module=None)
    assert callback._samples is None


def test_the_panels_leave_wandb_unimported_for_other_loggers(tmp_path):
    # `logger=csv` users need not have wandb: nothing here may import it
    code = (
        "import sys\n"
        "from pytorch_lightning.loggers import CSVLogger\n"
        "from segbench.callbacks import log_selected\n"
        f"log_selected([CSVLogger({str(tmp_path)!r})], {{'class_names': ['a'], 'test_confusion': [[1]]}})\n"
        "assert 'wandb' not in sys.modules, 'wandb was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
