"""Family "actors": FlowStone's actors and supervisors against pykka and Ray actors.

Every system answers the same questions in the same process and run:

- call round trip: one request, one reply, measured one at a time (median and p99);
- cast throughput: N fire-and-forget messages, then one call whose reply proves all N were
  handled (mailboxes are FIFO per sender in all three systems);
- spawn rate: start K actors and get one reply from each;
- crash to restarted: a cast makes the child raise; the clock stops when the replacement's
  ``init`` runs (FlowStone, one_for_one supervisor) or when a call succeeds again (Ray,
  ``max_restarts``). pykka has no supervisor;
- memory per actor: Python heap growth per actor (tracemalloc) for FlowStone and pykka, the
  resident size of the worker process for Ray (one process per actor).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks._actors_ray import measure_ray
from benchmarks._options import Options
from benchmarks._report import FamilyResult, Ratio, Row, Target, Value
from benchmarks._stats import now_ns, rate

FS, PYKKA, RAY = "FlowStone", "pykka", "Ray"
Figures = dict[str, Value]


@contextmanager
def _quiet_logging() -> Iterator[None]:
    """Crash reports are the point of the restart benchmark; keep them off the table."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _failed(keys: tuple[str, ...], exc: BaseException) -> Figures:
    return {key: Value.missing(f"{type(exc).__name__}: {exc}") for key in keys}


KEYS = ("call", "cast", "spawn", "restart", "memory")


# -- FlowStone ------------------------------------------------------------------------------


def _flowstone(options: Options) -> Figures:
    try:
        return asyncio.run(_flowstone_async(options))
    except Exception as exc:  # a broken system is reported, not raised
        return _failed(KEYS, exc)


async def _flowstone_async(options: Options) -> Figures:
    import actors

    class Echo(actors.Actor):
        async def init(self) -> None:
            self.count = 0

        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            return self.count if message == "count" else message

        async def handle_cast(self, message: Any) -> None:
            self.count += 1

    figures: Figures = {}
    ref = await actors.spawn(Echo)
    for _ in range(1_000):  # warm-up
        await ref.call("ping")
    samples = []
    for _ in range(options.pick(5_000, 20_000)):
        started = now_ns()
        await ref.call("ping")
        samples.append(now_ns() - started)
    figures["call"] = Value.latency(samples)

    casts = options.pick(50_000, 200_000)
    started = now_ns()
    for _ in range(casts):
        ref.cast("inc")
    handled = await ref.call("count", timeout=60.0)
    figures["cast"] = Value(rate(casts, now_ns() - started))
    if handled != casts:
        figures["cast"] = Value(figures["cast"].value, note=f"only {handled} handled")
    await ref.stop()

    count = options.pick(1_000, 5_000)
    started = now_ns()
    refs = [await actors.spawn(Echo) for _ in range(count)]
    for each in refs:
        await each.call("ping")
    figures["spawn"] = Value(rate(count, now_ns() - started))
    await asyncio.gather(*(each.stop() for each in refs))

    figures["memory"] = await _flowstone_memory(Echo, options.pick(500, 2_000))
    try:
        figures["restart"] = await _flowstone_restart(options)
    except Exception as exc:  # supervisors still in progress are reported
        figures["restart"] = Value.missing(f"{type(exc).__name__}: {exc}")
    return figures


async def _flowstone_memory(actor_class: Any, count: int) -> Value:
    import actors

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        refs = [await actors.spawn(actor_class) for _ in range(count)]
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    await asyncio.gather(*(each.stop() for each in refs))
    return Value(grown / count / 1024)


async def _flowstone_restart(options: Options) -> Value:
    import actors

    try:
        supervisors: Any = importlib.import_module("supervisors")
        start_supervisor = supervisors.Supervisor.start
        child_spec = supervisors.ChildSpec
    except (ImportError, AttributeError):
        return Value.missing("supervisors not available")

    loop = asyncio.get_running_loop()
    waiting: list[asyncio.Future[tuple[int, actors.ActorRef]]] = []

    def started(ref: actors.ActorRef) -> None:
        stamp = now_ns()
        if waiting and not waiting[-1].done():
            waiting[-1].set_result((stamp, ref))

    class Crasher(actors.Actor):
        async def init(self, on_start: Callable[[actors.ActorRef], None]) -> None:
            on_start(self.ref)

        async def handle_cast(self, message: Any) -> None:
            raise RuntimeError("crash requested by the restart benchmark")

    warmup, reps = 20, options.pick(300, 2_000)
    spec = child_spec("w", lambda: actors.spawn(Crasher, started))
    with _quiet_logging():
        sup = await start_supervisor(
            [spec], strategy="one_for_one", max_restarts=2 * (warmup + reps), max_seconds=3600.0
        )
        try:
            ref = (await sup.which_children())[0].ref
            samples = []
            for i in range(warmup + reps):
                waiting.append(loop.create_future())
                began = now_ns()
                ref.cast("crash")
                restarted_at, ref = await asyncio.wait_for(waiting[-1], 10.0)
                if i >= warmup:
                    samples.append(restarted_at - began)
        finally:
            await sup.stop("shutdown")
    return Value.latency(samples)


# -- pykka ----------------------------------------------------------------------------------


def _pykka(options: Options) -> Figures:
    try:
        return _pykka_measure(options)
    except Exception as exc:  # a broken system is reported, not raised
        return _failed(KEYS, exc)


def _pykka_measure(options: Options) -> Figures:
    import pykka

    class Echo(pykka.ThreadingActor):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def on_receive(self, message: Any) -> Any:
            if message == "inc":
                self.count += 1
                return None
            return self.count if message == "count" else message

    figures: Figures = {"restart": Value.missing("pykka has no supervisor")}
    ref = Echo.start()
    try:
        for _ in range(500):
            ref.ask("ping")
        samples = []
        for _ in range(options.pick(2_000, 10_000)):
            started = now_ns()
            ref.ask("ping")
            samples.append(now_ns() - started)
        figures["call"] = Value.latency(samples)

        tells = options.pick(20_000, 100_000)
        started = now_ns()
        for _ in range(tells):
            ref.tell("inc")
        handled = ref.ask("count", timeout=120)
        figures["cast"] = Value(rate(tells, now_ns() - started))
        if handled != tells:
            figures["cast"] = Value(figures["cast"].value, note=f"only {handled} handled")
    finally:
        ref.stop()

    count = options.pick(200, 1_000)
    started = now_ns()
    refs = [Echo.start() for _ in range(count)]
    for each in refs:
        each.ask("ping")
    figures["spawn"] = Value(rate(count, now_ns() - started))
    for each in refs:
        each.stop()

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        refs = [Echo.start() for _ in range(200)]
        for each in refs:
            each.ask("ping")
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    for each in refs:
        each.stop()
    figures["memory"] = Value(grown / 200 / 1024, note="+ a thread stack")
    return figures


# -- the table ------------------------------------------------------------------------------


def run(options: Options) -> FamilyResult:
    """Measure the three actor systems and build the family's table."""
    figures = {FS: _flowstone(options), PYKKA: _pykka(options)}
    figures[RAY], ray_note = measure_ray(options)
    result = FamilyResult(
        name="actors",
        title="actors: FlowStone actors + supervisors vs pykka (threads) vs Ray actors",
        systems=[FS, PYKKA, RAY],
        ratios=[Ratio(PYKKA, FS), Ratio(RAY, FS)],
    )

    def row(key: str, metric: str, unit: str, better: Any, target: Target | None = None) -> None:
        values = {system: figures[system][key] for system in result.systems}
        result.add(Row(metric, unit, better, values, target))

    row("call", "call round trip (median)", "µs", "lower", Target(FS, "<=", 20, text="<= 20 µs"))
    row("cast", "cast throughput", "msgs/s", "higher", Target(FS, ">=", 100_000, text=">= 100k/s"))
    row("spawn", "spawn rate (start + first reply)", "actors/s", "higher")
    row(
        "restart",
        "crash → restarted, one_for_one (median)",
        "µs",
        "lower",
        Target(FS, "<=", 100, text="<= 100 µs"),
    )
    row("memory", "memory per actor", "KiB", "lower")
    result.notes += [
        "pykka: ThreadingActor with ask/tell; Ray: actor methods with ray.get / fire-and-forget,"
        " restart = ray.kill(no_restart=False) until the next call succeeds",
        "memory: tracemalloc heap growth per actor (FlowStone, pykka); Ray: worker process RSS",
    ]
    if ray_note:
        result.notes.append(f"Ray local cluster, num_cpus=2, no dashboard; {ray_note}")
    return result
