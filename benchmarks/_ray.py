"""Family "ray": the same backfill by FlowStone on Ray, by raw Ray tasks, and by Dagster.

The work: N daily partitions of a chain of three assets, each step summing ``range(WORK)``
(a few milliseconds of CPU), at most ``MAX_PARALLEL`` partitions in flight. Every system runs
a 10-partition warm-up first (for Ray: worker start-up), then the measured N.

- FlowStone on Ray: ``executor="ray"`` assets, ``backfill(max_parallel=10)``, SQLite store and
  fs I/O manager, in a child process that starts its own local Ray;
- raw Ray, values in files: ``@ray.remote`` tasks chained by object refs, the same window of
  partitions kept in flight with ``ray.wait``, each task reading its upstream value from a file
  and writing its own as FlowStone's fs I/O manager does (the same work: a backfill's point is
  the partitions it leaves behind). The target: FlowStone at most 1.3× its time;
- raw Ray, values in object store: the same tasks passing values through Ray's object store
  only (the floor of what Ray itself costs; nothing remains once Ray stops);
- FlowStone local (threads) for reference; Dagster: one ``materialize`` per partition on a
  SQLite instance (its in-process executor runs steps one at a time).
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

from benchmarks._answers import Answers, dagster_answers
from benchmarks._flowstone_side import run_in_child
from benchmarks._options import Options
from benchmarks._report import FamilyResult, Ratio, Row, Target, Value
from benchmarks._stats import NS_PER_S, now_ns

FS_RAY, FS_LOCAL, DAGSTER = "FlowStone on Ray", "FlowStone local", "Dagster"
RAW_PERSISTED = "raw Ray, values in files"
RAW = "raw Ray, values in object store"
CHAIN, WORK, MAX_PARALLEL, WARMUP = 3, 200_000, 10, 10


def _step_function(ray: Any) -> Any:
    """Define the task inside a function so Ray ships it by value to its workers."""

    @ray.remote(max_retries=0)  # type: ignore[untyped-decorator]
    def step(upstream: Any, work: int) -> int:
        return sum(range(work))

    return step


def _persisting_step_function(ray: Any) -> Any:
    """The same step, written as a careful Ray user who keeps the backfill's partitions
    would: read the upstream value from its file, write the value to a file of its own
    (a temporary file renamed into place, so a crash never leaves half a file), and pass
    the path on. The same files FlowStone's filesystem I/O manager writes."""

    @ray.remote(max_retries=0)  # type: ignore[untyped-decorator]
    def step(upstream: Any, work: int, path: str) -> str:
        import os
        import pickle

        if upstream is not None:
            with open(upstream, "rb") as file:
                pickle.load(file)
        value = sum(range(work))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as file:
            pickle.dump(value, file)
        os.replace(temporary, path)
        return path

    return step


def _raw_backfill(ray: Any, step: Any, partitions: int, base: str | None = None) -> None:
    """Run ``partitions`` chains of CHAIN tasks, at most MAX_PARALLEL chains in flight;
    with ``base``, each step gets the path of the file it writes."""
    in_flight: list[Any] = []
    for partition in range(partitions):
        if len(in_flight) >= MAX_PARALLEL:
            done, in_flight = ray.wait(in_flight, num_returns=1)
            ray.get(done)
        ref = None
        for asset in range(CHAIN):
            if base is None:
                ref = step.remote(ref, WORK)
            else:
                path = os.path.join(base, f"p{asset}", f"{partition}.pickle")
                ref = step.remote(ref, WORK, path)
        in_flight.append(ref)
    ray.get(in_flight)


def _raw_ray(count: int) -> tuple[Value, Value, str]:
    """Time raw Ray's backfill twice: values in the object store, then persisted."""
    try:
        import ray

        started = now_ns()
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    except Exception as exc:  # a broken Ray is reported, not raised
        broken = Value.missing(f"Ray: {type(exc).__name__}: {exc}")
        return broken, broken, ""
    note = f"ray.init took {(now_ns() - started) / NS_PER_S:.1f} s"
    try:
        step = _step_function(ray)
        _raw_backfill(ray, step, WARMUP)
        started = now_ns()
        _raw_backfill(ray, step, count)
        in_store = Value((now_ns() - started) / NS_PER_S)
        persisting = _persisting_step_function(ray)
        with tempfile.TemporaryDirectory(prefix="bench-ray-") as base:
            _raw_backfill(ray, persisting, WARMUP, os.path.join(base, "warm-up"))
            started = now_ns()
            _raw_backfill(ray, persisting, count, base)
            persisted = Value((now_ns() - started) / NS_PER_S)
        return in_store, persisted, note
    except Exception as exc:  # a broken Ray is reported, not raised
        broken = Value.missing(f"Ray: {type(exc).__name__}: {exc}")
        return broken, broken, note
    finally:
        ray.shutdown()


def _flowstone(executor: str, count: int) -> Answers:
    job = {
        "task": "backfill",
        "count": count,
        "chain": CHAIN,
        "work": WORK,
        "executor": executor,
        "max_parallel": MAX_PARALLEL,
    }
    request = {"storage": "sqlite", "io_manager": "fs", "jobs": [job]}
    return Answers(["backfill"], run_in_child(request))


def _median(values: list[Value]) -> tuple[Value, int | None]:
    """The median measured value (and its round), or the first reason none was measured."""
    measured = sorted((v.value, i) for i, v in enumerate(values) if v.value is not None)
    if not measured:
        return values[0], None
    value, index = measured[(len(measured) - 1) // 2]
    return Value(value), index


def _spread(fs_ray: list[Value], raw: list[Value]) -> str:
    """The per-round ratios of FlowStone to ``raw``: their median and range."""
    ratios = sorted(
        f.value / r.value for f, r in zip(fs_ray, raw, strict=True) if f.value and r.value
    )
    if len(ratios) < 2:
        return ""
    median = ratios[(len(ratios) - 1) // 2]
    return f"median {median:.2f}×, range {ratios[0]:.2f}–{ratios[-1]:.2f}×"


def run(options: Options) -> FamilyResult:
    """Run the same backfill on every system and build the family's table.

    FlowStone on Ray and raw Ray run in alternating rounds (the median is reported): on a
    small machine the two compete with anything else running, and one round of each is
    noisier than the difference being measured.
    """
    count = options.pick(40, 200)
    rounds = options.pick(1, 5)
    # Dagster runs one partition at a time at ~1 s each here: a prefix unless --exhaustive.
    dagster_count = count if options.exhaustive else min(count, options.pick(10, 40))
    fs_rounds: list[Answers] = []
    raw_rounds: list[Value] = []
    persisted_rounds: list[Value] = []
    ray_note = ""
    for _ in range(rounds):
        fs_rounds.append(_flowstone("ray", count))
        raw, persisted, ray_note = _raw_ray(count)
        raw_rounds.append(raw)
        persisted_rounds.append(persisted)
    fs_values = [a.per_unit("backfill", count, scale=1e3) for a in fs_rounds]
    fs_value, fs_round = _median(fs_values)
    answers = {
        FS_RAY: fs_rounds[fs_round if fs_round is not None else 0],
        FS_LOCAL: _flowstone("local", count),
    }
    job = {"task": "partitions", "count": dagster_count, "chain": CHAIN, "work": WORK}
    answers[DAGSTER] = dagster_answers({"kind": "sqlite"}, ["backfill"], [job])

    target_ratio = Ratio(RAW_PERSISTED, FS_RAY)
    result = FamilyResult(
        name="ray",
        title=f"ray: backfill of {count} partitions × {CHAIN} assets on a local Ray cluster",
        systems=[FS_RAY, RAW_PERSISTED, RAW, FS_LOCAL, DAGSTER],
        ratios=[target_ratio, Ratio(RAW, FS_RAY), Ratio(DAGSTER, FS_RAY)],
    )
    per_partition = {name: a.per_unit("backfill", count, scale=1e3) for name, a in answers.items()}
    per_partition[FS_RAY] = fs_value
    per_partition[DAGSTER] = answers[DAGSTER].per_unit("backfill", dagster_count, scale=1e3)
    if per_partition[DAGSTER].ok and dagster_count != count:
        note = f"first {dagster_count} days"
        per_partition[DAGSTER] = Value(per_partition[DAGSTER].value, note=note)
    for name, values in ((RAW, raw_rounds), (RAW_PERSISTED, persisted_rounds)):
        per_partition[name] = _per_partition(_median(values)[0], count)
    target = Target(
        FS_RAY, ">=", 1 / 1.3, ratio=target_ratio, text="<= 1.3× raw Ray's time, same work"
    )
    result.add(Row("backfill time per partition", "ms", "lower", per_partition, target))
    totals = {name: a.per_unit("backfill", 1, scale=1.0) for name, a in answers.items()}
    totals[FS_RAY] = Value(fs_value.value * count / 1e3) if fs_value.value else fs_value
    totals[RAW] = _median(raw_rounds)[0]
    totals[RAW_PERSISTED] = _median(persisted_rounds)[0]
    if totals[DAGSTER].ok and dagster_count != count:
        totals[DAGSTER] = Value.missing(f"ran {dagster_count} partitions")
    result.add(Row(f"backfill wall time, {count} partitions", "s", "lower", totals))
    memory = {name: a.memory() for name, a in answers.items()}
    memory[RAW] = memory[RAW_PERSISTED] = Value.missing("measured in-process")
    result.add(Row("peak RSS of the driver process", "MiB", "lower", memory))
    result.notes += [
        f"each step sums range({WORK:,}); max_parallel={MAX_PARALLEL}; Ray num_cpus=2;"
        f" {WARMUP} warm-up partitions not counted",
        f"{RAW_PERSISTED}: each task reads its upstream value from a file and writes its own"
        " (temporary file renamed into place), as FlowStone's fs I/O manager does; "
        f"{RAW}: values stay in Ray's object store and are gone when Ray stops",
        "FlowStone: SQLite store + fs I/O manager; Dagster: SQLite instance, one materialize()"
        " per partition, in-process executor",
    ]
    if rounds > 1:
        result.notes.append(
            f"FlowStone on Ray and raw Ray ran in {rounds} alternating rounds; medians shown"
        )
        for name, values in ((RAW_PERSISTED, persisted_rounds), (RAW, raw_rounds)):
            spread = _spread(fs_values, [_per_partition(v, count) for v in values])
            if spread:
                result.notes.append(f"{FS_RAY} / {name}, round by round: {spread}")
    if ray_note:
        result.notes.append(f"raw Ray: {ray_note}")
    return result


def _per_partition(total: Value, count: int) -> Value:
    return Value(total.value / count * 1e3) if total.value else total
