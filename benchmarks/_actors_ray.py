"""Ray actors for the "actors" family: the same questions, asked of ``@ray.remote`` classes.

Round trip is ``ray.get(actor.ping.remote())``; throughput is fire-and-forget method calls
followed by one ``ray.get`` (a Ray actor runs one caller's calls in order); spawn is actor
creation until each answered once; restart is ``ray.kill(no_restart=False)`` on an actor with
``max_restarts`` until the next call succeeds; memory is the RSS of the actor's worker.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks._options import Options
from benchmarks._ray import init_local_ray
from benchmarks._report import Value
from benchmarks._stats import now_ns, rate

Figures = dict[str, Value]
KEYS = ("call", "cast", "spawn", "restart", "memory")


def _failed(exc: BaseException) -> Figures:
    return {key: Value.missing(f"Ray: {type(exc).__name__}: {exc}") for key in KEYS}


def measure_ray(options: Options) -> tuple[Figures, str]:
    """Measure Ray actors on a fresh local cluster; returns the figures and a note."""
    try:
        import ray
    except ImportError as exc:
        return _failed(exc), ""
    started = now_ns()
    try:
        init_local_ray(ray)
    except Exception as exc:  # a broken system is reported, not raised
        return _failed(exc), ""
    note = f"ray.init took {(now_ns() - started) / 1e9:.1f} s"
    try:
        return _ray_measure(ray, options), note
    except Exception as exc:  # a broken system is reported, not raised
        return _failed(exc), note
    finally:
        ray.shutdown()


def _ray_echo_class(ray: Any) -> Any:
    """Define the actor inside a function so Ray ships it by value to its workers."""

    @ray.remote(num_cpus=0)
    class Echo:
        def __init__(self) -> None:
            self.count = 0

        def ping(self, message: Any = None) -> Any:
            return message

        def inc(self) -> None:
            self.count += 1

        def total(self) -> int:
            return self.count

        def pid(self) -> int:
            return os.getpid()

    return Echo


def _ray_measure(ray: Any, options: Options) -> Figures:
    echo = _ray_echo_class(ray)
    figures: Figures = {}
    actor = echo.remote()
    for _ in range(50):
        ray.get(actor.ping.remote())
    samples = []
    for _ in range(options.pick(300, 1_000)):
        started = now_ns()
        ray.get(actor.ping.remote())
        samples.append(now_ns() - started)
    figures["call"] = Value.latency(samples)

    calls = options.pick(3_000, 4_500)  # Ray warns past 5,000 pending calls
    started = now_ns()
    for _ in range(calls):
        actor.inc.remote()
    handled = ray.get(actor.total.remote())
    figures["cast"] = Value(rate(calls, now_ns() - started))
    if handled != calls:
        figures["cast"] = Value(figures["cast"].value, note=f"only {handled} handled")
    figures["memory"] = Value(_rss_kib(ray.get(actor.pid.remote())), note="its worker's RSS")
    ray.kill(actor)

    count = options.pick(4, 8)
    started = now_ns()
    created = [echo.remote() for _ in range(count)]
    ray.get([each.ping.remote() for each in created])
    figures["spawn"] = Value(rate(count, now_ns() - started))
    for each in created:
        ray.kill(each)

    figures["restart"] = _ray_restart(ray, echo, options.pick(3, 5))
    return figures


def _ray_restart(ray: Any, echo: Any, reps: int) -> Value:
    """Kill an actor that may restart and time until a call succeeds again."""
    actor = echo.options(max_restarts=reps, max_task_retries=0).remote()
    ray.get(actor.ping.remote())
    samples = []
    for _ in range(reps):
        began = now_ns()
        ray.kill(actor, no_restart=False)
        while now_ns() - began < 60 * 1_000_000_000:
            try:
                ray.get(actor.ping.remote(), timeout=30)
                break
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
                continue
        samples.append(now_ns() - began)
    ray.kill(actor)
    return Value.latency(samples)


def _rss_kib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1])
    raise LookupError(f"no VmRSS line in /proc/{pid}/status")
