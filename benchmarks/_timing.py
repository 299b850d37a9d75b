"""Plumbing shared by the CPU benchmarks: the CPU model and wall-clock timing of repeated calls."""

from __future__ import annotations

import platform
import time

__all__ = ["cpu_model", "wall_times"]


def cpu_model():
    """The CPU's model name from ``/proc/cpuinfo``, else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def wall_times(fn, repeats):
    """Wall-clock seconds of ``repeats`` successive calls ``fn()`` (a list, in call order)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times
