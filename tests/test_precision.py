"""`precision: auto`: the choice follows the probe's timings, is cached per machine, network and size, never
overrides an explicit precision, and a resumed run keeps the precision it started with. No test here times a
real network: the probe is injected, or run on a stub whose speed the test sets."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from torch import nn

from segbench import precision
from segbench.precision import BF16, FP16, FP32, ComputePath, choose, fastest, probe, resolve_compute_path

CONF = Path(__file__).resolve().parents[1] / "conf"
NET = nn.Conv2d(3, 4, 1)
ALL_FOUR = [ComputePath(p, layout).label for p in (FP32, BF16) for layout in (False, True)]


@pytest.fixture(autouse=True)
def cache_in(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEGBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(precision, "onednn_bf16_kernels", lambda: True)  # all four candidates, on any CPU
    return tmp_path / "cache" / "precision"


class Prober:
    """Injected probe timings (ms per step by path label); counts its calls."""

    def __init__(self, **ms_by_short_name: float | None) -> None:
        names = {"fp32": FP32, "bf16": BF16}
        self.timings = {
            ComputePath(names[name.split("_")[0]], name.endswith("_cl")).label: ms
            for name, ms in ms_by_short_name.items()
        }
        self.calls: list[tuple] = []

    def __call__(self, net, shape, training, paths):
        self.calls.append((shape, training, [path.label for path in paths]))
        return {path.label: self.timings[path.label] for path in paths}


def choose_with(prober: Prober, **settings) -> precision.Choice:
    arguments = {"training": True, "network": "segnet_basic yaml", "prober": prober} | settings
    return choose(NET, (120, 160), **arguments)


BF16_FAST = {"fp32": 700.0, "fp32_cl": 650.0, "bf16": 400.0, "bf16_cl": 300.0}
BF16_SLOW = {"fp32": 700.0, "fp32_cl": 900.0, "bf16": None, "bf16_cl": 2400.0}


def test_auto_follows_the_probe_bf16_where_faster_else_fp32():
    faster = choose_with(Prober(**BF16_FAST))
    assert faster.path == ComputePath(BF16, True) and faster.decided_by == "probe"
    slower = choose_with(Prober(**BF16_SLOW), network="another network")
    assert slower.path == ComputePath(FP32, False)  # the layout is measured too: contiguous won here
    assert slower.timings_ms[ComputePath(BF16, False).label] is None  # stopped as too slow
    assert "bf16-mixed, contiguous stopped at 2.5x the fastest" in slower.summary()


def test_bf16_must_beat_fp32_by_more_than_the_margin():
    assert fastest({"32-true, channels-last": 103.0, "bf16-mixed, channels-last": 100.0}).precision == FP32
    assert fastest({"32-true, channels-last": 106.0, "bf16-mixed, channels-last": 100.0}).precision == BF16


def test_the_probe_times_training_at_the_runs_batch_and_size_and_inference_on_one_image():
    prober = Prober(**BF16_FAST)
    choose_with(prober, batch=12)
    choose_with(prober, training=False, network="another network", batch=12)
    assert prober.calls == [((12, 120, 160), True, ALL_FOUR), ((1, 120, 160), False, ALL_FOUR)]


def test_without_onednn_bf16_kernels_only_fp32_is_timed(monkeypatch):
    monkeypatch.setattr(precision, "onednn_bf16_kernels", lambda: False)
    prober = Prober(**BF16_FAST)
    choice = choose_with(prober)
    assert choice.path == ComputePath(FP32, True) and prober.calls[0][2] == ALL_FOUR[:2]
    assert "bf16 not timed: no oneDNN bf16 kernels" in choice.summary()


def test_a_given_layout_is_kept_and_only_precisions_are_timed():
    prober = Prober(**BF16_FAST)
    assert choose_with(prober, channels_last=False).path == ComputePath(BF16, False)
    assert prober.calls[0][2] == [ComputePath(FP32, False).label, ComputePath(BF16, False).label]


def test_an_explicit_precision_always_wins():
    prober = Prober(**BF16_FAST)
    choice = choose_with(prober, precision=FP32)
    assert choice.path == ComputePath(FP32, True) and choice.decided_by == "explicit" and not prober.calls
    assert choose_with(prober, precision=BF16, channels_last=False).path == ComputePath(BF16, False)
    assert choose_with(prober, precision=FP32, device="cuda").path == ComputePath(FP32, True)
    assert not prober.calls


def test_the_cache_is_read_and_keyed_by_machine_network_and_size(cache_in, monkeypatch):
    prober = Prober(**BF16_FAST)
    first = choose_with(prober)
    (entry,) = cache_in.glob("*.json")  # written whole, under its final name: no partial file left
    stored = json.loads(entry.read_text())
    assert stored["key"]["shape"] == [2, 120, 160] and stored["key"]["threads"] == torch.get_num_threads()
    assert set(stored["key"]) >= {"cpu", "cpu_flags_sha256", "torch", "network_sha256", "mode", "candidates"}
    again = choose_with(prober)
    assert (again.path, again.decided_by, again.timings_ms) == (first.path, "cache", first.timings_ms)
    assert len(prober.calls) == 1
    # Another network, size, mode, thread count or torch build is another entry: probed again.
    choose_with(prober, network="fcn_basic yaml")
    choose(NET, (360, 480), training=True, network="segnet_basic yaml", prober=prober)
    choose_with(prober, training=False)
    monkeypatch.setattr(precision, "cpu_signature", lambda: {"cpu": "another CPU", "threads": 1})
    choose_with(prober)
    assert len(prober.calls) == 5 and len(list(cache_in.glob("*.json"))) == 5


def test_a_broken_or_foreign_cache_entry_is_probed_again(cache_in):
    prober = Prober(**BF16_FAST)
    choose_with(prober)
    (entry,) = cache_in.glob("*.json")
    entry.write_text("{not json")
    assert choose_with(prober).decided_by == "probe"
    stored = json.loads(entry.read_text())
    stored["key"]["cpu"] = "a CPU whose entry this is not"
    entry.write_text(json.dumps(stored))
    assert choose_with(prober).decided_by == "probe" and len(prober.calls) == 3


@pytest.mark.parametrize(("bf16_supported", "expected"), [(True, BF16), (False, FP16)])
def test_cuda_picks_by_capability_without_probing(monkeypatch, bf16_supported, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16_supported)
    prober = Prober(**BF16_FAST)
    choice = choose_with(prober, device="cuda")
    assert choice.path == ComputePath(expected, True) and choice.decided_by == "cuda" and not prober.calls


def test_the_trainer_device_is_cuda_only_when_a_gpu_is_there(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert [precision.trainer_device(a) for a in ("auto", "gpu", "cpu")] == ["cuda", "cuda", "cpu"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert precision.trainer_device("auto") == "cpu"


class SlowInBf16(nn.Module):
    """A stub network that takes `ms` per forward in fp32, 40x that under bf16 autocast."""

    def __init__(self, ms: float) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(3, 3, 1) for _ in range(10))  # the deadline is checked between them
        self.ms = ms

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            time.sleep(self.ms / 1000 / len(self.convs) * (40 if torch.is_autocast_enabled("cpu") else 1))
            x = conv(x)
        return x


def test_the_probe_stops_a_path_far_slower_than_the_best_and_leaves_the_network_alone(monkeypatch):
    net = SlowInBf16(ms=50)
    precision._step_function(net, ComputePath(FP32, False), (8, 8), True)(2)  # the process's first backward
    before = {name: tensor.clone() for name, tensor in net.state_dict().items()}
    rng_before = torch.random.get_rng_state()
    step_seconds: dict[str, list[float]] = {}
    step_function = precision._step_function

    def timing_each_step(net, path, size, training):
        step = step_function(net, path, size, training)

        def timed_step(batch: int) -> None:
            started = time.perf_counter()
            try:
                step(batch)
            finally:
                step_seconds.setdefault(path.label, []).append(time.perf_counter() - started)

        return timed_step

    monkeypatch.setattr(precision, "_step_function", timing_each_step)
    paths = [ComputePath(FP32, False), ComputePath(BF16, False)]
    timings = probe(net, (2, 8, 8), True, paths, extra_rounds_s=0.0)  # the two rounds every probe times
    assert timings[ComputePath(BF16, False).label] is None and timings[ComputePath(FP32, False).label] >= 50
    # bf16 ran once, stopped mid-forward at 2.5x the fp32 step plus 100 ms: its whole forward takes 2 s
    (bf16_seconds,) = step_seconds[ComputePath(BF16, False).label]
    assert bf16_seconds < 1.5 and len(step_seconds[ComputePath(FP32, False).label]) == 3
    assert all(torch.equal(before[name], tensor) for name, tensor in net.state_dict().items())
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    # Cheap steps get more rounds, up to ten, while the probe is short (5 s by default; generous here, so that a
    # loaded test machine cannot cut it): a steadier median.
    step_seconds.clear()
    probe(net, (2, 8, 8), True, paths, extra_rounds_s=60.0)
    assert len(step_seconds[ComputePath(FP32, False).label]) == 1 + precision.MAX_ROUNDS


def compose_train(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose("train", overrides=list(overrides))


def injected(monkeypatch, **timings: float | None) -> Prober:
    prober = Prober(**timings)
    monkeypatch.setattr(precision, "probe", prober)
    return prober


def test_a_training_config_is_resolved_to_concrete_values(monkeypatch):
    prober = injected(monkeypatch, **BF16_SLOW)
    cfg = compose_train("trainer=cpu_fast", "trainer.accelerator=cpu")
    assert (cfg.trainer.precision, cfg.task.channels_last) == ("auto", "auto")
    choice = resolve_compute_path(cfg, NET, "net", (120, 160))
    assert (cfg.trainer.precision, cfg.task.channels_last) == (FP32, False) and choice.decided_by == "probe"
    assert choice.record()["probe_ms"][ComputePath(FP32, False).label] == 700.0
    assert [call[0] for call in prober.calls] == [(12, 120, 160)]  # at dataset.batch_size


def test_resume_keeps_the_precision_the_run_started_with(tmp_path, monkeypatch):
    prober = injected(monkeypatch, **BF16_SLOW)  # what a probe would choose now: fp32 contiguous
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    checkpoint.parent.mkdir(parents=True)
    hyper_parameters = {"precision": BF16, "channels_last": True, "model_config": "net"}
    torch.save({"state_dict": {}, "hyper_parameters": hyper_parameters}, checkpoint)
    cfg = compose_train("trainer=cpu_fast", "trainer.accelerator=cpu", f"ckpt_path={checkpoint}")
    choice = resolve_compute_path(cfg, NET, "net", (120, 160))
    assert (cfg.trainer.precision, cfg.task.channels_last, choice.decided_by) == (BF16, True, "the checkpoint's")
    # A checkpoint from before precisions were recorded: the run's saved config says what it trained in.
    torch.save({"state_dict": {}, "hyper_parameters": {"model_config": "net"}}, checkpoint)
    (tmp_path / "run" / ".hydra").mkdir()
    saved = {"trainer": {"precision": BF16}, "task": {"channels_last": False}}
    (tmp_path / "run" / ".hydra" / "config.yaml").write_text(yaml.safe_dump(saved))
    cfg = compose_train("trainer=cpu_fast", "trainer.accelerator=cpu", f"ckpt_path={checkpoint}")
    resolve_compute_path(cfg, NET, "net", (120, 160))
    assert (cfg.trainer.precision, cfg.task.channels_last) == (BF16, False) and not prober.calls
    # An explicit precision still wins over the checkpoint's.
    cfg = compose_train("trainer=cpu_fast", "trainer.precision=32-true", f"ckpt_path={checkpoint}")
    assert resolve_compute_path(cfg, NET, "net", (120, 160)).path.precision == FP32


def test_a_grid_continued_elsewhere_keeps_its_committed_runs_precision(tmp_path, monkeypatch):
    prober = injected(monkeypatch, **BF16_SLOW)
    for name in ("model=a", "model=b"):
        (tmp_path / "runs" / name / ".hydra").mkdir(parents=True)
        saved = {"trainer": {"precision": BF16}, "task": {"channels_last": True}}
        (tmp_path / "runs" / name / ".hydra" / "config.yaml").write_text(yaml.safe_dump(saved))
    cfg = compose_train("trainer=cpu_fast", "trainer.accelerator=cpu", f"finished_runs=[{tmp_path / 'runs'}]")
    choice = resolve_compute_path(cfg, NET, "net", (120, 160))
    assert choice.path == ComputePath(BF16, True) and "2 committed run(s)" in choice.decided_by
    assert not prober.calls


def test_ddp_processes_on_cpu_compute_in_fp32_without_probing(monkeypatch):
    prober = injected(monkeypatch, **BF16_FAST)  # a probe would pick bf16 here
    cfg = compose_train("trainer=ddp_cpu", "trainer.precision=auto")
    choice = resolve_compute_path(cfg, NET, "net", (120, 160))
    assert (cfg.trainer.precision, choice.decided_by) == (FP32, "DDP on CPU: fp32") and not prober.calls
