"""What a benchmark says about the machine and the process it ran in: the CPU's name, resident memory."""

from __future__ import annotations

import platform
import resource
from pathlib import Path


def resident_mb() -> float:
    """This process's resident memory now."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def peak_resident_mb() -> float:
    """The most resident memory this process has held so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def cpu_name() -> str:
    """The CPU's model name, and whether it has the bf16 units that change every timing (AMX, AVX-512 BF16)."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    units = [unit for unit, flag in (("AMX", "amx_bf16"), ("AVX-512 BF16", "avx512_bf16")) if flag in flags]
    return f"{name} ({', '.join(units) or 'no bf16 units'})"
