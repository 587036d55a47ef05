"""Shared fixtures: tiny CamVid-layout folders made by the tests themselves (nothing downloaded)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

os.environ.setdefault("WANDB_MODE", "disabled")
REPO_ROOT = Path(__file__).resolve().parents[1]


def write_camvid_layout(
    root: Path, split_sizes: dict[str, int], height: int = 12, width: int = 16, seed: int = 0
) -> Path:
    """Random RGB images and label maps (values 0..11) in the CamVid folder layout."""
    rng = np.random.default_rng(seed)
    for split, count in split_sizes.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / f"{split}annot").mkdir(parents=True, exist_ok=True)
        for index in range(count):
            name = f"{split}_{index:03d}.png"
            Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(root / split / name)
            Image.fromarray(rng.integers(0, 12, (height, width), dtype=np.uint8), mode="L").save(
                root / f"{split}annot" / name
            )
    return root


@pytest.fixture(scope="session", autouse=True)
def precision_cache(tmp_path_factory) -> Path:
    """The precision probe's cache (`precision: auto`) in a folder of the test session's, never the user's."""
    folder = tmp_path_factory.mktemp("segbench-cache")
    os.environ["SEGBENCH_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def build_model():
    """Build a network from conf/model/<name>.yaml, as train.py does (seeded)."""

    from segbench.utils.config import compose_model

    def build(name: str):
        torch.manual_seed(0)
        return compose_model(name)

    return build


@pytest.fixture
def tiny_camvid(tmp_path: Path) -> Path:
    return write_camvid_layout(tmp_path / "camvid", {"train": 3, "val": 2, "test": 2})


@pytest.fixture
def real_camvid_root() -> Path:
    root = os.environ.get("CAMVID_ROOT")
    if not root or not Path(root, "testannot").is_dir():
        pytest.skip("real CamVid not available (set CAMVID_ROOT)")
    return Path(root)


def make_tiny_task(**kwargs):
    """A two-level, 8-channel SegNet (3x3 kernels) in a SegmentationTask: trains in a second on CPU."""
    from functools import partial

    from segbench.data.camvid import CLASS_NAMES
    from segbench.models import BasicEncoder, Decoder, Segmenter
    from segbench.models.densify import MultiChannelConv
    from segbench.models.upsample import MaxUnpool
    from segbench.task import SegmentationTask

    torch.manual_seed(0)
    encoder = BasicEncoder(channels=8, depth=2, kernel_size=3)
    net = Segmenter(encoder, Decoder(8, 8, 2, MaxUnpool, partial(MultiChannelConv, kernel_size=3)), len(CLASS_NAMES))
    kwargs.setdefault("optimizer", {"_target_": "torch.optim.SGD", "lr": 0.01})
    return SegmentationTask(net, class_names=CLASS_NAMES, **kwargs)


@pytest.fixture
def tiny_task():
    return make_tiny_task


def recorded(results: dict) -> dict:
    """A hand-made results.json (or eval.json) with what every record carries: its status (complete unless given)
    and a provenance, as the pipeline writes them."""
    from segbench.record.provenance import Provenance

    defaults = {"provenance": Provenance.not_recorded().model_dump()}
    if "ckpt_path" not in results:  # a run's record, not an evaluation's
        defaults["status"] = "complete"
    return {**defaults, **results}


def measured_provenance(**fields) -> dict:
    """The provenance a benchmark line records, for hand-made lines: a CPU machine, `fields` replacing its values."""
    from segbench.record.provenance import Provenance

    machine = {"git_commit": "0123456789abcdef", "git_dirty": False, "versions": {"torch": "2.13.0+cpu"}}
    machine |= {"cpu": "test CPU (no bf16 units)", "cpu_flags": ["avx2"], "threads": 2}
    return Provenance(**(machine | fields)).model_dump()


def markdown_rows(text: str, first: str | None = None) -> list[list[str]]:
    """The cells of the markdown table rows in `text` (header rows too, rule lines not), stripped and with "\\|"
    read back as "|"; only the rows whose first cell is `first` when given. Tables are read by their cells, not by
    their padding."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if first is None or cells[0] == first:
            rows.append(cells)
    return rows
