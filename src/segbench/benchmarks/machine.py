"""What a benchmark says about the machine and the process it ran in: the CPU's name, resident memory."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import torch

# The flags that decide which convolution kernels oneDNN has: AVX-512 (bf16 emulated), and the bf16 units.
KERNEL_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


def _status_mb(field: str) -> float:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    return int(match.group(1)) / 1024


def resident_mb() -> float:
    """This process's resident memory now."""
    return _status_mb("VmRSS")


def peak_resident_mb() -> float:
    """The most resident memory this process has held since it started or since `reset_peak_resident`.

    Linux's VmHWM, not getrusage's ru_maxrss: a process started by fork and exec inherits its parent's
    ru_maxrss, so a large parent would hide the child's own peak.
    """
    return _status_mb("VmHWM")


def reset_peak_resident() -> None:
    """Start the peak afresh from the memory held now (Linux >= 4.0: writing 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


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


def machine_record() -> dict:
    """Where a measurement was taken, recorded beside it: the CPU and the flags that pick its kernels, oneDNN's
    ISA cap if one is set (ONEDNN_MAX_CPU_ISA emulates a lesser CPU), threads and torch."""
    _, flags = cpu_model_and_flags()
    return {
        "cpu": cpu_name(),
        "cpu_flags": [flag for flag in KERNEL_FLAGS if flag in flags],
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
