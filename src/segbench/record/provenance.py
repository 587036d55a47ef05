"""Where a recorded number comes from: the code (git commit, a dirty tree), the libraries, the machine (CPU model
and the flags that pick its kernels, or the GPU), the threads and the precision it computed in. Written into every
results.json, eval.json and benchmark line by the process that measured, so that a report shows the provenance
of its measurements, never that of the process writing the report."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, ValidationError

from segbench.errors import SegbenchError

NOT_RECORDED = "not recorded"
NotRecorded = Literal["not recorded"]
# The flags that decide which convolution kernels oneDNN has: AVX-512 (bf16 emulated), and the bf16 units.
KERNEL_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile", "asimd", "bf16", "sve")
LIBRARIES = ("torch", "pytorch-lightning", "hydra-core", "torchmetrics", "segbench")


class Provenance(BaseModel):
    """The provenance of one record. Fields an older record never held say "not recorded"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    git_commit: str  # the commit of the segbench checkout that ran, or "not a git checkout"
    git_dirty: bool | None | NotRecorded  # tracked or untracked files differ from the commit; None: no checkout
    versions: dict[str, str]  # python and LIBRARIES
    cpu: str  # model name (and whether it has bf16 units)
    cpu_flags: list[str] | NotRecorded  # of KERNEL_FLAGS, those the CPU has
    onednn_max_cpu_isa: str | None | NotRecorded = None  # ONEDNN_MAX_CPU_ISA when set (emulates a lesser CPU)
    gpu: str | None | NotRecorded = None  # the CUDA device's name when one computed
    threads: int | NotRecorded
    precision: str | None = None  # "<precision>, <layout>" the numbers were computed in; None: per measurement

    @property
    def code(self) -> str:
        """The code that ran: "segbench <commit>", marked when the checkout had uncommitted changes."""
        if self.git_commit == NOT_RECORDED:
            return "segbench commit not recorded"
        return f"segbench {self.git_commit[:10]}{' (uncommitted changes)' if self.git_dirty is True else ''}"

    @property
    def machine(self) -> str:
        """The device that computed: the GPU's name when one did, else the CPU's (or "not recorded")."""
        return self.gpu if self.gpu not in (None, NOT_RECORDED) else self.cpu

    def summary(self) -> str:
        """One line for a report: the code, the machine and the libraries (what was recorded of them)."""
        parts = [self.code] if self.git_commit != NOT_RECORDED else []
        where = [self.machine] if self.machine != NOT_RECORDED else []
        where += [f"{self.threads} threads"] if self.threads != NOT_RECORDED else []
        if where:
            parts.append(", ".join(where))
        libraries = [f"{name} {version}" for name, version in self.versions.items() if version != NOT_RECORDED]
        if libraries:
            parts.append(", ".join(name for name in libraries if not name.startswith("segbench ")))
        return "; ".join(parts) or "provenance not recorded"

    @classmethod
    def not_recorded(cls, **known) -> Provenance:
        """The provenance of a record written before provenance was kept: every field "not recorded" but `known`."""
        fields = {
            "git_commit": NOT_RECORDED,
            "git_dirty": NOT_RECORDED,
            "versions": {name: NOT_RECORDED for name in ("python", *LIBRARIES)},
            "cpu": NOT_RECORDED,
            "cpu_flags": NOT_RECORDED,
            "onednn_max_cpu_isa": NOT_RECORDED,
            "gpu": NOT_RECORDED,
            "threads": NOT_RECORDED,
        }
        return cls(**{**fields, **known})


def read_provenance(record: Mapping[str, Any], where: str) -> Provenance:
    """The `provenance` of a benchmark line or record; one line naming `where` (file:line) and the field at fault."""
    try:
        return Provenance.model_validate(record.get("provenance"))
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in ("provenance", *first["loc"]))
        raise SegbenchError(f"{where}: {field}: {first['msg']}") from None


def measured_on(provenances: Iterable[Provenance]) -> str:
    """Where measurements were taken, one line: "Measured with <summary>", or each distinct summary when the
    measurements come from several machines or commits (a report then says so)."""
    summaries = list(dict.fromkeys(p.summary() for p in provenances))
    if summaries == ["provenance not recorded"]:
        return "Provenance not recorded."
    if len(summaries) == 1:
        return f"Measured with {summaries[0]}."
    listed = " ".join(f"({number}) {summary}." for number, summary in enumerate(summaries, start=1))
    return f"Measured in {len(summaries)} settings: {listed}"


def lines_measured_on(lines: Iterable[Mapping[str, Any]], source: Path) -> str:
    """`measured_on` of the JSON lines of a benchmark file `source`, each line's provenance checked."""
    return measured_on(read_provenance(line, f"{source}:{number}") for number, line in enumerate(lines, start=1))


def cpu_model_and_flags() -> tuple[str, set[str]]:
    """The CPU's model name and its feature flags (x86 `flags`, Arm `Features`) from /proc/cpuinfo."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith(("flags", "Features")):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return name, flags


def cpu_name() -> str:
    """The CPU's model name, and whether it has the bf16 units that change every timing (AMX, AVX-512 BF16)."""
    name, flags = cpu_model_and_flags()
    units = [unit for unit, flag in (("AMX", "amx_bf16"), ("AVX-512 BF16", "avx512_bf16")) if flag in flags]
    return f"{name} ({', '.join(units) or 'no bf16 units'})"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def collect(precision: str | None = None, device: torch.device | str | None = None) -> Provenance:
    """The provenance of what this process computes now, on `device` (CUDA: the GPU's name is recorded)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain") if commit else None
    _, flags = cpu_model_and_flags()
    device = torch.device(device) if device is not None else None
    gpu = torch.cuda.get_device_name(device) if device is not None and device.type == "cuda" else None
    return Provenance(
        git_commit=commit or "not a git checkout",
        git_dirty=bool(status) if commit else None,
        versions=_versions(),
        cpu=cpu_name(),
        cpu_flags=[flag for flag in KERNEL_FLAGS if flag in flags],
        onednn_max_cpu_isa=os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA"),
        gpu=gpu,
        threads=torch.get_num_threads(),
        precision=precision,
    )
