"""What a benchmark reads of the process it runs in: its resident memory (the machine: segbench.record.provenance)."""

from __future__ import annotations

import re
from pathlib import Path


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
