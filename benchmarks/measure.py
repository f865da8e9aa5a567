"""Measuring helpers of the benchmark: medians of repeated runs, memory, the machine."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# ---- measuring ----------------------------------------------------------------------------------

def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    """Median seconds of repeat runs, every run's seconds, and the last result."""
    times, result = [], None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), [round(x, 4) for x in times], result


def rss_mb() -> float:
    """Resident memory now (not the peak), from /proc."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def peak_rss_mb() -> float:
    """Peak resident memory of this process. VmHWM, since ru_maxrss carries over from the parent
    across fork and exec on Linux, which would give a child process its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    mem_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    import duckdb
    import geopandas
    import streamlit

    return {
        "nproc": os.cpu_count(), "memory_gb": mem_gb, "cpu": cpu, "python": platform.python_version(),
        "duckdb": duckdb.__version__, "geopandas": geopandas.__version__, "streamlit": streamlit.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


# ---- the naive approach: geopandas reads the files on every rerun --------------------------------
