"""Small measurement helpers: clocks, medians and percentiles, memory."""

from __future__ import annotations

import math
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

NS_PER_US = 1_000
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000

now_ns = time.perf_counter_ns
"""The one clock every benchmark reads (monotonic, nanoseconds)."""


def median(samples: Sequence[float]) -> float:
    """The median of ``samples`` (which must not be empty)."""
    return statistics.median(samples)


def percentile(samples: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile by the nearest-rank method (p99 of 100 samples is the 99th)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def rate(count: int, elapsed_ns: int) -> float:
    """Events per second for ``count`` events that took ``elapsed_ns``."""
    return count * NS_PER_S / max(elapsed_ns, 1)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB.

    Linux's ``VmHWM`` is reset by ``exec``; ``ru_maxrss`` is not (a child started from a big
    parent reports the parent's peak), so it is only the fallback (KiB on Linux, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
