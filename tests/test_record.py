"""The typed run record (segbench.record): provenance, the per-image record, the one-time migration."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

from segbench.errors import SegbenchError
from segbench.record import migrate, provenance
from segbench.record.per_image import PerImageRecord
from segbench.record.run import RunRecord, read_record


def test_provenance_names_the_commit_the_libraries_and_the_machine():
    origin = provenance.collect("32-true, contiguous")
    assert re.fullmatch(r"[0-9a-f]{40}", origin.git_commit)  # the tests run in a checkout
    assert isinstance(origin.git_dirty, bool)
    assert set(origin.versions) == {"python", "torch", "pytorch-lightning", "hydra-core", "torchmetrics", "segbench"}
    assert origin.versions["torch"].startswith(__import__("torch").__version__.split("+")[0])
    assert origin.threads == __import__("torch").get_num_threads() and origin.gpu is None
    assert origin.summary().startswith(f"segbench {origin.git_commit[:10]}")


def test_a_record_missing_its_provenance_is_named_with_the_field(tmp_path):
    file = tmp_path / "results.json"
    file.write_text(json.dumps({"status": "complete", "choices": {"model": "segnet_basic"}, "test": {}}))
    with pytest.raises(SegbenchError) as error:
        read_record(file)
    assert str(error.value) == f"{file}: provenance: Field required"


def per_image_record() -> PerImageRecord:
    confusion = np.zeros((3, 2, 2), dtype=np.int32)
    confusion[:, 0, 0], confusion[:, 1, 1], confusion[:, 0, 1] = [8, 6, 4], [2, 3, 4], [0, 1, 2]
    # image 2: class 0 no boundary in the prediction (F1 0), class 1 not counted
    boundary = np.array([[[4, 4, 4, 4], [4, 4, 2, 2]], [[5, 5, 5, 5], [3, 3, 3, 3]], [[0, 6, 0, 0], [-1] * 4]])
    names, sequences = np.array(["a_0", "a_1", "b_0"]), np.array(["a", "a", "b"])
    return PerImageRecord(names, sequences, np.array(["x", "y"]), confusion, boundary)


def test_per_image_scores_of_a_subset_and_of_each_sequence():
    record = per_image_record()
    # images 0 and 1: confusion [[14, 1], [0, 5]]; BF: image 0 mean(1, 0.5), image 1 mean(1, 1)
    assert record.scores(np.array([0, 1])) == pytest.approx({"G": 19 / 20, "C": (14 / 15 + 1) / 2,
                                                             "mIoU": (14 / 15 + 5 / 6) / 2, "BF": 0.875})  # fmt: skip
    assert record.scores(np.array([2, 2]))["BF"] == 0.0  # a resample may take an image twice
    assert record.by_sequence() == {
        "a": {"images": 2, **record.scores(np.array([0, 1]))},
        "b": {"images": 1, **record.scores(np.array([2]))},
    }


def test_a_per_image_file_round_trips_and_a_foreign_one_is_named(tmp_path):
    record = per_image_record()
    loaded = PerImageRecord.load(record.save(tmp_path / "per_image.npz"))
    assert loaded.scores() == record.scores() and list(loaded.names) == ["a_0", "a_1", "b_0"]
    np.savez(tmp_path / "foreign.npz", names=np.array(["a"]))
    with pytest.raises(SegbenchError, match=r"foreign\.npz: not a per-image record \(no sequences, class_names"):
        PerImageRecord.load(tmp_path / "foreign.npz")
    arrays = {name: getattr(record, name) for name in ("names", "sequences", "class_names", "confusion")}
    np.savez(tmp_path / "short.npz", **arrays, boundary=record.boundary[:2])
    with pytest.raises(SegbenchError, match=r"short\.npz: boundary has shape \(2, 2, 4\), not \(3, 2, 4\)"):
        PerImageRecord.load(tmp_path / "short.npz")


def test_an_old_results_json_is_migrated_once_with_what_its_saved_config_knows(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    config = {"seed": 3, "trainer": {"precision": "bf16-mixed"}, "task": {"channels_last": True}}
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    old = {
        "choices": {"model": "fcn_basic"},
        "global_step": 930,
        "test": {"test/G": 0.8, "test/C": 0.6, "test/mIoU": 0.4},
    }
    (run / "results.json").write_text(json.dumps(old))
    assert migrate.migrate_run(run / "results.json") and not migrate.migrate_run(run / "results.json")
    record = read_record(run / "results.json")
    assert isinstance(record, RunRecord) and record.status == "complete" and record.seed == 3
    assert record.compute_path.label == "bf16-mixed, channels-last" and record.compute_path.decided_by == "not recorded"
    assert record.provenance.git_commit == "not recorded" and record.provenance.precision == record.compute_path.label
    lines = tmp_path / "bench.jsonl"
    lines.write_text(json.dumps({"model": "x", "threads": 2, "machine": {"cpu": "C", "torch": "2.13"}}) + "\n")
    assert migrate.migrate_benchmark(lines)
    (line,) = [json.loads(text) for text in lines.read_text().splitlines()]
    assert "threads" not in line and "machine" not in line
    moved = provenance.Provenance.model_validate(line["provenance"])
    assert (moved.cpu, moved.threads, moved.versions["torch"], moved.git_commit) == ("C", 2, "2.13", "not recorded")
