"""Measure crash-to-restarted latency and DynamicSupervisor throughput (not a test).

Run: ``.venv/bin/python -m tests.supervisors.bench_restart_latency``. The latency is taken
from the moment a child's handler raises to the moment its replacement's ``init`` runs,
under a static ``Supervisor`` and under a ``DynamicSupervisor`` holding 10,000 idle
siblings (any O(n) work on the restart path would show; what does show there is Python's
cyclic garbage collector walking the larger heap).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from typing import Any

import actors
from supervisors import ChildSpec, DynamicSupervisor, Supervisor

_crashed_at: list[float] = []
_latencies: list[float] = []
_current: list[actors.ActorRef] = []
_restarted: list[asyncio.Event] = []


class Crasher(actors.Actor):
    async def init(self) -> None:
        if _crashed_at:
            _latencies.append(time.perf_counter() - _crashed_at.pop())
            _restarted[0].set()
        _current[:] = [self.ref]

    async def handle_cast(self, message: Any) -> None:
        _crashed_at.append(time.perf_counter())
        raise RuntimeError("crash")


async def _crash_repeatedly(times: int) -> tuple[float, float]:
    _latencies.clear()
    _restarted[:] = [asyncio.Event()]
    for _ in range(times):
        _restarted[0].clear()
        _current[0].cast("crash")
        await _restarted[0].wait()
    ordered = sorted(_latencies)
    return statistics.median(ordered) * 1e6, ordered[int(len(ordered) * 0.9)] * 1e6


async def main() -> None:
    logging.disable(logging.CRITICAL)  # the runtime logs every crash
    spec = ChildSpec("crasher", lambda: actors.spawn(Crasher))
    sup = await Supervisor.start([spec], max_restarts=10**9)
    median, p90 = await _crash_repeatedly(3000)
    print(f"Supervisor: crash to restarted median {median:.1f} us, p90 {p90:.1f} us")
    await sup.stop("shutdown")
    for siblings in (0, 10_000):
        dyn = await DynamicSupervisor.start(max_restarts=10**9)
        for n in range(siblings):
            await dyn.start_child(ChildSpec(n, lambda: actors.spawn(actors.Actor)))
        await dyn.start_child(spec)
        median, p90 = await _crash_repeatedly(3000)
        print(
            f"DynamicSupervisor with {siblings} siblings: median {median:.1f} us, p90 {p90:.1f} us"
        )
        began = time.perf_counter()
        await dyn.stop("shutdown")
        print(f"  stopping {siblings + 1} children: {time.perf_counter() - began:.3f} s")


if __name__ == "__main__":
    asyncio.run(main())
