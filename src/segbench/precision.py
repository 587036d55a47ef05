"""`precision: auto`: the numeric precision and memory layout a run computes in, chosen by measuring them.

On CPUs bf16 is fast only where oneDNN has bf16 units (AVX-512-BF16, AMX); elsewhere it is emulated and runs
several times slower than fp32, and channels-last helps some convolutions and not others. Neither can be
hard-coded, so `auto` times a few training steps (or forward passes) of the run's own network at its own
batch and input size on each candidate — fp32 and bf16 autocast, each contiguous or channels-last — and takes the
fastest. The timings are cached per machine, network, batch and size (`$SEGBENCH_CACHE`, default
`~/.cache/segbench/`). On CUDA no probe is needed: bf16 autocast where the GPU supports it, else fp16.

An explicit precision (or layout) always wins; `auto` is resolved once, before the Trainer is built, and the
concrete value is what the run records. No library chooses between numerics by timing them (Lightning takes
the precision as given), hence this module.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.module import register_module_forward_hook

from segbench.errors import SegbenchError
from segbench.record.provenance import cpu_model_and_flags

log = logging.getLogger(__name__)

AUTO = "auto"
FP32, BF16, FP16 = "32-true", "bf16-mixed", "16-mixed"
# Lightning's precision names that autocast, and the dtype each autocasts to.
AUTOCAST_DTYPES = {BF16: torch.bfloat16, FP16: torch.float16}
# bf16 is chosen only when it beats the fastest fp32 path by more than this: fp32 is the reference numerics.
BF16_MARGIN = 1.05
PROBE_BUDGET_S = 20.0  # no timed round after the first starts once the probe has taken this long
PROBE_ROUNDS = 2  # timed steps of each candidate after its warm-up step, at least (within the budget)
EXTRA_ROUNDS_S, MAX_ROUNDS = 5.0, 10  # cheap steps: more rounds (a steadier median) while the probe is this short
SLOWER = 2.5  # a probed step is stopped once it has taken this many times the fastest step so far,
SLACK_MS = 100.0  # plus this much: a hiccup of the machine must not stop the fastest path itself


@dataclass(frozen=True)
class ComputePath:
    """A precision (Lightning's name: 32-true, bf16-mixed, 16-mixed) and a memory layout."""

    precision: str
    channels_last: bool

    @property
    def label(self) -> str:
        return f"{self.precision}, {'channels-last' if self.channels_last else 'contiguous'}"

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self, device_type: str = "cpu") -> AbstractContextManager:
        """The autocast context this path runs its forward pass in (none for fp32)."""
        dtype = AUTOCAST_DTYPES.get(self.precision)
        return torch.autocast(device_type, dtype=dtype) if dtype is not None else nullcontext()

    @classmethod
    def from_label(cls, label: str) -> ComputePath:
        precision, layout = label.split(", ")
        return cls(precision, layout == "channels-last")


CPU_PRECISIONS = (FP32, BF16)


@dataclass
class Choice:
    """The resolved path, how it was decided and, when measured, each candidate's time (ms per step)."""

    path: ComputePath
    decided_by: str  # "explicit", "probe", "cache", "cuda", "checkpoint", "committed runs"
    timings_ms: dict[str, float | None] = field(default_factory=dict)  # None: stopped as too slow
    probe: str = ""  # what was timed: "<mode> at <batch>x<H>x<W>"
    note: str = ""  # candidates left out without timing, and why

    def summary(self) -> str:
        """One log line: the choice, and the probe's numbers when there are some."""
        line = f"precision: {self.path.label} ({self.decided_by}"
        if self.timings_ms:
            times = "; ".join(
                f"{label} {f'{ms:.0f} ms' if ms is not None else f'stopped at {SLOWER:g}x the fastest'}"
                for label, ms in self.timings_ms.items()
            )
            line += f"; {self.probe}: {times}"
        return line + (f"; {self.note}" if self.note else "") + ")"

    def record(self) -> dict:
        """What results.json and benchmark lines keep of the choice."""
        return {
            "precision": self.path.precision,
            "channels_last": self.path.channels_last,
            "decided_by": self.decided_by,
            **({"probe": self.probe, "probe_ms": self.timings_ms} if self.timings_ms else {}),
            **({"note": self.note} if self.note else {}),
        }


def onednn_bf16_kernels() -> bool:
    """Whether PyTorch runs bf16 convolutions on oneDNN here (AVX-512 or Arm bf16; emulated on AVX-512 CPUs
    without bf16 units). Elsewhere (AVX2 CPUs) they fall back to reference kernels, hundreds of times slower
    than fp32: bf16 is then not worth a probe."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def candidates(channels_last: bool | None = None, bf16: bool = True) -> list[ComputePath]:
    """The CPU paths `auto` times: fp32 and (if `bf16`) bf16, each in both layouts unless the layout is given."""
    layouts = (False, True) if channels_last is None else (channels_last,)
    precisions = CPU_PRECISIONS if bf16 else (FP32,)
    return [ComputePath(precision, layout) for precision in precisions for layout in layouts]


def cpu_signature() -> dict[str, object]:
    """What makes one CPU's timings differ from another's: its model, its flags, the threads, the torch build."""
    model, flags = cpu_model_and_flags()
    return {
        "cpu": model,
        "cpu_flags_sha256": hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()[:16],
        # oneDNN's ISA cap changes which kernels run (ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI emulates bf16)
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA"),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def cache_dir() -> Path:
    return Path(os.environ.get("SEGBENCH_CACHE") or Path.home() / ".cache" / "segbench") / "precision"


def _cache_key(network: str, shape: tuple[int, ...], mode: str, paths: Iterable[ComputePath]) -> dict:
    return {
        **cpu_signature(),
        "network_sha256": hashlib.sha256(network.encode()).hexdigest()[:16],
        "shape": list(shape),
        "mode": mode,
        "candidates": [path.label for path in paths],
    }


def _cache_file(key: Mapping) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return cache_dir() / f"{digest}.json"


def _read_cache(key: Mapping) -> dict[str, float | None] | None:
    path = _cache_file(key)
    try:
        entry = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("ignoring the unreadable precision cache %s (%s); probing again", path, error)
        return None
    if not isinstance(entry, dict) or entry.get("key") != dict(key) or not isinstance(entry.get("ms"), dict):
        return None
    return {label: None if ms is None else float(ms) for label, ms in entry["ms"].items()}


def _write_cache(key: Mapping, timings: Mapping[str, float | None]) -> Path:
    """Atomically: jobs of a grid probe side by side and may write the same entry at once."""
    path = _cache_file(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    partial.write_text(json.dumps({"key": dict(key), "ms": dict(timings)}, indent=1))
    partial.replace(path)
    return path


def _step_function(net: nn.Module, path: ComputePath, size: tuple[int, int], training: bool) -> Callable[[int], None]:
    """One training step (forward, cross-entropy, backward, SGD) or one forward pass of a copy of `net`, at a
    batch size given to each call."""
    net = copy.deepcopy(net).train(training).to(memory_format=path.memory_format)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-6, momentum=0.9)
    batches: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def step(batch: int) -> None:
        if batch not in batches:
            images = (torch.rand(batch, 3, *size) * 255).contiguous(memory_format=path.memory_format)
            batches[batch] = (images, None)
        images, labels = batches[batch]
        if not training:
            with torch.no_grad(), path.autocast():
                net(images)
            return
        optimizer.zero_grad(set_to_none=True)
        with path.autocast():
            logits = net(images)
        if labels is None:
            labels = torch.randint(0, logits.shape[1], (batch, *logits.shape[2:]))
            batches[batch] = (images, labels)
        F.cross_entropy(logits.float(), labels).backward()
        optimizer.step()

    return step


class TooSlow(Exception):
    """Raised inside a timed step once it has run past its deadline (`time_limit`)."""


@contextmanager
def time_limit() -> Iterator[list[float]]:
    """A deadline (set `[0]` to a perf_counter time; inf: none) checked after every module's forward pass and
    whenever the backward pass reads a saved tensor: past it, the step raises TooSlow.

    Without bf16 units a bf16 step can take 10-50x an fp32 one: stopping it mid-step bounds probes and benchmarks
    (a single module still runs to its end).
    """
    deadline = [math.inf]

    def check(*args: object) -> None:
        if time.perf_counter() > deadline[0]:
            raise TooSlow

    def unpack(tensor: torch.Tensor) -> torch.Tensor:
        check()
        return tensor

    handle = register_module_forward_hook(check)
    try:
        with torch.autograd.graph.saved_tensors_hooks(lambda tensor: tensor, unpack):
            yield deadline
    finally:
        handle.remove()


def probe(
    net: nn.Module,
    shape: tuple[int, int, int],
    training: bool,
    paths: list[ComputePath],
    budget_s: float = PROBE_BUDGET_S,
    rounds: int = PROBE_ROUNDS,
    extra_rounds_s: float = EXTRA_ROUNDS_S,
) -> dict[str, float | None]:
    """Median ms per step of each path at `shape` (batch, height, width) on copies of `net` (the network itself
    and the RNG are left untouched); None for a path stopped as too slow.

    Every path is warmed up once on a batch of one (oneDNN builds its kernels on first use), then timed in
    rounds, one step of each path per round, so that a machine slowing down mid-probe slows every path alike:
    `rounds` rounds unless the probe has taken `budget_s` by then, and more (up to MAX_ROUNDS) while it has taken
    less than `extra_rounds_s`. A step is stopped once it has taken SLOWER times the fastest step so far (plus
    SLACK_MS; the path is then out).
    """
    batch, *size = shape
    with torch.random.fork_rng(devices=[]), time_limit() as deadline:
        torch.manual_seed(0)
        steps = {path.label: _step_function(net, path, tuple(size), training) for path in paths}

        def timed(label: str, batch: int, limit_ms: float) -> float | None:
            began = time.perf_counter()
            deadline[0] = began + (limit_ms + SLACK_MS) / 1000
            try:
                steps[label](batch)
            except TooSlow:
                return None
            return 1000 * (time.perf_counter() - began)

        started = time.perf_counter()
        warm: dict[str, float] = {}
        for label in steps:
            ms = timed(label, 1, SLOWER * min(warm.values(), default=math.inf))
            if ms is not None:
                warm[label] = ms
        times: dict[str, list[float]] = {label: [] for label in warm}
        for round_index in range(max(rounds, MAX_ROUNDS)):
            elapsed = time.perf_counter() - started
            if round_index > 0 and elapsed > (budget_s if round_index < rounds else extra_rounds_s):
                break
            for label in list(times):
                fastest_so_far = min((statistics.median(t) for t in times.values() if t), default=math.inf)
                ms = timed(label, batch, SLOWER * fastest_so_far)
                if ms is None:
                    del times[label]
                else:
                    times[label].append(ms)
    return {label: round(statistics.median(times[label]), 2) if label in times else None for label in steps}


def fastest(timings: Mapping[str, float | None]) -> ComputePath:
    """The fastest path, preferring fp32 unless bf16 beats the best fp32 path by more than BF16_MARGIN."""
    timings = {label: ms for label, ms in timings.items() if ms is not None}
    ranked = sorted(timings, key=timings.__getitem__)
    best = ComputePath.from_label(ranked[0])
    fp32_times = {label: ms for label, ms in timings.items() if ComputePath.from_label(label).precision == FP32}
    if best.precision != FP32 and fp32_times:
        best_fp32 = min(fp32_times, key=fp32_times.__getitem__)
        if fp32_times[best_fp32] <= BF16_MARGIN * timings[ranked[0]]:
            return ComputePath.from_label(best_fp32)
    return best


def choose(
    net: nn.Module,
    size: tuple[int, int],
    *,
    training: bool,
    network: str,
    batch: int = 2,
    precision: str = AUTO,
    channels_last: bool | None = None,
    device: str = "cpu",
    prober: Callable[..., dict[str, float | None]] | None = None,
) -> Choice:
    """The path a run computes in: explicit settings as given, `auto` by device and, on CPU, by probe.

    Args:
        net: the run's network (copied for the probe, never changed).
        size: the run's input height and width.
        batch: the run's training batch: the probe times training steps at it (a layout's advantage changes with
            the batch: FCN-Basic's channels-last step gains on contiguous from batch 2 to 12). Inference is
            probed on a batch of one, as predict.py and the demo run it.
        training: probe training steps (train.py) or forward passes (eval, predict, the demo).
        network: the network's identity for the cache, e.g. its resolved config as YAML.
        precision: Lightning's precision name, or "auto".
        channels_last: the layout; None: chosen by the probe with `auto` on CPU, else channels-last.
        device: "cpu" or "cuda".
        prober: what times the candidates (default `probe`; tests inject timings).
    """
    layout = True if channels_last is None else channels_last  # channels-last unless measured or told otherwise
    if precision != AUTO:
        return Choice(ComputePath(precision, layout), "explicit")
    if device != "cpu":
        return Choice(
            ComputePath(BF16 if device == "cuda" and torch.cuda.is_bf16_supported() else FP16, layout), device
        )
    mode = "training" if training else "inference"
    probe_shape = (batch if training else 1, *size)
    bf16 = onednn_bf16_kernels()
    note = "" if bf16 else "bf16 not timed: no oneDNN bf16 kernels on this CPU, its convolutions run on reference code"
    paths = candidates(channels_last, bf16)
    key = _cache_key(network, probe_shape, mode, paths)
    described = f"{mode} at {'x'.join(map(str, probe_shape))}"
    timings = _read_cache(key)
    if timings is not None and set(timings) == {path.label for path in paths}:
        return Choice(fastest(timings), "cache", timings, described, note)
    timings = (prober or probe)(net, probe_shape, training, paths)
    written = _write_cache(key, timings)
    log.debug("precision probe cached in %s", written)
    return Choice(fastest(timings), "probe", timings, described, note)


def parse_channels_last(value: object) -> bool | None:
    """`task.channels_last` as written in a config: true, false, or null/"auto" (chosen with the precision)."""
    if value is None or value == AUTO:
        return None
    if isinstance(value, bool):
        return value
    raise SegbenchError(f"task.channels_last={value!r}: true, false or auto")


def trainer_device(accelerator: str | None) -> str:
    """The device Lightning's accelerator setting ends on here: cuda when it can take a GPU and one is there."""
    if accelerator in (None, "auto", "gpu", "cuda") and torch.cuda.is_available():
        return "cuda"
    return "cpu"


# --- A run's config: where `auto` is resolved for train.py -------------------------------------------------


def resolve_compute_path(cfg: DictConfig, net: nn.Module, network: str, size: tuple[int, int]) -> Choice:
    """Resolve `trainer.precision` and `task.channels_last` of a training run in `cfg` (and in the run's saved
    `.hydra/config.yaml`), logging the choice in one line.

    With `auto`, a run resumed from a checkpoint keeps the path it was trained in, and a grid continued beside
    its committed runs (`finished_runs`) keeps theirs; otherwise `choose` decides, probing on CPU.
    """
    channels_last = parse_channels_last(cfg.task.get("channels_last"))
    choice = _recorded_choice(cfg) if str(cfg.trainer.precision) == AUTO else None
    if choice is None:
        batch = int(cfg.dataset.get("batch_size") or 2)
        choice = choose_for_trainer(
            cfg.trainer, net, size, training=True, network=network, batch=batch, channels_last=channels_last
        )
    cfg.trainer.precision = choice.path.precision
    cfg.task.channels_last = choice.path.channels_last
    if choice.decided_by != "explicit":
        _save_in_run_config(choice.path)
    log.info(choice.summary())
    return choice


def choose_for_trainer(
    trainer: DictConfig,
    net: nn.Module,
    size: tuple[int, int],
    *,
    training: bool,
    network: str,
    batch: int = 2,
    channels_last: bool | None = None,
) -> Choice:
    """`choose` for the device and precision a trainer config asks for. DDP processes on CPU compute in fp32:
    each would probe alone and might choose differently from the others."""
    precision, device = str(trainer.precision), trainer_device(trainer.get("accelerator"))
    if precision == AUTO and device == "cpu" and "ddp" in str(trainer.get("strategy")):
        return Choice(ComputePath(FP32, True if channels_last is None else channels_last), "DDP on CPU: fp32")
    return choose(
        net,
        size,
        training=training,
        network=network,
        batch=batch,
        precision=precision,
        channels_last=channels_last,
        device=device,
    )


def _recorded_choice(cfg: DictConfig) -> Choice | None:
    if cfg.get("ckpt_path"):
        return recorded_in_checkpoint(cfg.ckpt_path)
    committed = committed_paths(cfg.get("finished_runs") or [])
    if committed:
        path, count = Counter(committed).most_common(1)[0]
        if len(set(committed)) > 1:
            log.warning("the committed runs used several precisions (%s); keeping the most common", set(committed))
        return Choice(path, f"kept from {count} committed run(s) of this grid")
    return None


def recorded_in_checkpoint(ckpt_path: str | Path) -> Choice | None:
    """The path a checkpoint was trained in: its hyper-parameters, else its run's saved config."""
    from segbench.checkpoints import read_checkpoint

    hyper_parameters = read_checkpoint(ckpt_path).get("hyper_parameters", {})
    if hyper_parameters.get("precision"):
        path = ComputePath(str(hyper_parameters["precision"]), bool(hyper_parameters.get("channels_last", True)))
        return Choice(path, "the checkpoint's")
    saved = saved_compute_path(Path(ckpt_path).resolve().parent.parent)
    if saved is not None:
        return Choice(saved, "the resumed run's saved config")
    log.info("%s records no precision: choosing one again", ckpt_path)
    return None


def saved_compute_path(run_dir: Path) -> ComputePath | None:
    """The concrete precision and layout in a run folder's saved config (None if absent or still `auto`)."""
    config_file = run_dir / ".hydra" / "config.yaml"
    if not config_file.is_file():
        return None
    saved = OmegaConf.load(config_file)
    precision = OmegaConf.select(saved, "trainer.precision")
    if precision is None or str(precision) == AUTO:
        return None
    return ComputePath(str(precision), bool(OmegaConf.select(saved, "task.channels_last", default=True)))


def committed_paths(folders: Iterable[str | Path]) -> list[ComputePath]:
    """The precision and layout of every collected run in `folders` (each run a subfolder)."""
    found = []
    for folder in folders:
        for run_dir in sorted(Path(folder).glob("*/")):
            saved = saved_compute_path(run_dir)
            if saved is not None:
                found.append(saved)
    return found


def _save_in_run_config(path: ComputePath) -> None:
    """Write the resolved values into the run's saved config, so that it re-creates the run as it ran."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or HydraConfig.get().output_subdir is None:
        return
    config_file = Path(HydraConfig.get().runtime.output_dir) / HydraConfig.get().output_subdir / "config.yaml"
    if not config_file.is_file():
        return
    saved = OmegaConf.load(config_file)
    OmegaConf.update(saved, "trainer.precision", path.precision)
    OmegaConf.update(saved, "task.channels_last", path.channels_last)
    partial = config_file.with_name(f"config.yaml.tmp-{os.getpid()}")
    OmegaConf.save(saved, partial)
    partial.replace(config_file)
