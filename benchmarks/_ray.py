"""Family "ray": the same backfill by FlowStone on Ray, by raw Ray tasks, and by Dagster.

The work: N daily partitions of a chain of three assets, each step summing ``range(WORK)``
(a few milliseconds of CPU), at most ``MAX_PARALLEL`` partitions in flight. Every system runs
a 10-partition warm-up first (for Ray: worker start-up), then the measured N.

- FlowStone on Ray: ``executor="ray"`` assets, ``backfill(max_parallel=10)``, SQLite store and
  fs I/O manager;
- raw Ray, values in files: ``@ray.remote`` tasks chained by object refs, the same window of
  partitions kept in flight with ``ray.wait``, each task reading its upstream value from a file
  and writing its own as FlowStone's fs I/O manager does (the same work: a backfill's point is
  the partitions it leaves behind). The target: FlowStone at most 1.3× its time;
- raw Ray, values in object store: the same tasks passing values through Ray's object store
  only (the floor of what Ray itself costs; nothing remains once Ray stops);
- FlowStone local (threads) for reference; Dagster: one ``materialize`` per partition on a
  SQLite instance (its in-process executor runs steps one at a time).

The three Ray backfills run in one child process on one local cluster, round after round
(``benchmarks._ray_side``). FlowStone on Ray also runs once as users run it, starting its own
cluster, for its peak memory.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from benchmarks._answers import Answers, dagster_answers
from benchmarks._flowstone_side import run_in_child
from benchmarks._options import Options
from benchmarks._report import FamilyResult, Ratio, Row, Target, Value

FS_RAY, FS_LOCAL, DAGSTER = "FlowStone on Ray", "FlowStone local", "Dagster"
RAW_PERSISTED = "raw Ray, values in files"
RAW = "raw Ray, values in object store"
CHAIN, WORK, MAX_PARALLEL, WARMUP = 3, 200_000, 10, 10
PAIRED = {"flowstone": FS_RAY, "raw_files": RAW_PERSISTED, "raw_store": RAW}
"""The systems the paired child (``benchmarks._ray_side``) measures, by its names."""


def init_local_ray(ray: Any, **extra: Any) -> None:
    """Start the private local Ray cluster every Ray benchmark measures on: two CPUs, no
    dashboard, quiet."""
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        **extra,
    )


def step_function(ray: Any) -> Any:
    """Define the task inside a function so Ray ships it by value to its workers."""

    @ray.remote(max_retries=0)  # type: ignore[untyped-decorator]
    def step(upstream: Any, work: int) -> int:
        return sum(range(work))

    return step


def persisting_step_function(ray: Any) -> Any:
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


def raw_backfill(
    ray: Any,
    step: Any,
    partitions: int,
    work: int,
    max_parallel: int,
    chain: int,
    base: str | None = None,
) -> None:
    """Run ``partitions`` chains of ``chain`` tasks, at most ``max_parallel`` chains in
    flight; with ``base``, each step gets the path of the file it writes."""
    in_flight: list[Any] = []
    for partition in range(partitions):
        if len(in_flight) >= max_parallel:
            done, in_flight = ray.wait(in_flight, num_returns=1)
            ray.get(done)
        ref = None
        for asset in range(chain):
            if base is None:
                ref = step.remote(ref, work)
            else:
                path = os.path.join(base, f"p{asset}", f"{partition}.pickle")
                ref = step.remote(ref, work, path)
        in_flight.append(ref)
    ray.get(in_flight)


def _paired(count: int, rounds: int) -> dict[str, Any]:
    """FlowStone on Ray and both raw Ray backfills, round after round on one cluster."""
    request = {
        "count": count,
        "rounds": rounds,
        "chain": CHAIN,
        "work": WORK,
        "max_parallel": MAX_PARALLEL,
        "warmup": WARMUP,
    }
    return run_in_child(request, module="benchmarks._ray_side")


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


def _median(values: list[Value]) -> Value:
    """The median measured value, or the first reason none was measured."""
    measured = sorted(v.value for v in values if v.value is not None)
    if not measured:
        return values[0] if values else Value.missing("not run")
    return Value(measured[(len(measured) - 1) // 2])


def _spread(fs_ray: list[Value], raw: list[Value]) -> str:
    """The per-round ratios of FlowStone to ``raw``: their median and range."""
    ratios = sorted(
        f.value / r.value for f, r in zip(fs_ray, raw, strict=True) if f.value and r.value
    )
    if len(ratios) < 2:
        return ""
    median = ratios[(len(ratios) - 1) // 2]
    return f"median {median:.2f}×, range {ratios[0]:.2f}–{ratios[-1]:.2f}×"


def _rounds(paired: dict[str, Any], count: int) -> dict[str, list[Value]]:
    """Milliseconds per partition of every round, per system (one missing value each if
    the paired run failed)."""
    if "error" in paired:
        broken = [Value.missing(str(paired["error"])[:200])]
        return dict.fromkeys(PAIRED.values(), broken)
    return {
        name: [Value(r[key] / count * 1e3) for r in paired["rounds"]]
        for key, name in PAIRED.items()
    }


def run(options: Options) -> FamilyResult:
    """Run the same backfill on every system and build the family's table.

    FlowStone on Ray and the two raw Ray backfills run round after round on one cluster
    (``benchmarks._ray_side``), and the medians are reported: on a small machine shared with
    others, one run of each is noisier than the difference being measured.
    """
    count = options.pick(40, 200)
    rounds = options.pick(1, 7)
    # Dagster runs one partition at a time at ~1 s each here: a prefix unless --exhaustive.
    dagster_count = count if options.exhaustive else min(count, options.pick(10, 40))
    paired = _paired(count, rounds)
    per_round = _rounds(paired, count)
    # FlowStone as users run it, starting its own local cluster: for its memory, and the
    # same backfill measured once more.
    own = _flowstone("ray", count)
    answers = {FS_LOCAL: _flowstone("local", count)}
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
    per_partition.update({name: _median(values) for name, values in per_round.items()})
    per_partition[DAGSTER] = answers[DAGSTER].per_unit("backfill", dagster_count, scale=1e3)
    if per_partition[DAGSTER].ok and dagster_count != count:
        note = f"first {dagster_count} days"
        per_partition[DAGSTER] = Value(per_partition[DAGSTER].value, note=note)
    target = Target(
        FS_RAY, ">=", 1 / 1.3, ratio=target_ratio, text="<= 1.3× raw Ray's time, same work"
    )
    result.add(Row("backfill time per partition", "ms", "lower", per_partition, target))
    totals = {name: a.per_unit("backfill", 1, scale=1.0) for name, a in answers.items()}
    for name in PAIRED.values():
        value = per_partition[name].value
        totals[name] = Value(value * count / 1e3) if value else per_partition[name]
    if totals[DAGSTER].ok and dagster_count != count:
        totals[DAGSTER] = Value.missing(f"ran {dagster_count} partitions")
    result.add(Row(f"backfill wall time, {count} partitions", "s", "lower", totals))
    memory = {name: a.memory() for name, a in answers.items()}
    memory[FS_RAY] = own.memory()
    memory[RAW] = memory[RAW_PERSISTED] = Value.missing("measured with FlowStone")
    result.add(Row("peak RSS of the driver process", "MiB", "lower", memory))
    result.notes += [
        f"each step sums range({WORK:,}); max_parallel={MAX_PARALLEL}; Ray num_cpus=2;"
        f" {WARMUP} warm-up partitions not counted",
        f"{RAW_PERSISTED}: each task reads its upstream value from a file and writes its own"
        " (temporary file renamed into place), as FlowStone's fs I/O manager does; "
        f"{RAW}: values stay in Ray's object store and are gone when Ray stops",
        "FlowStone: SQLite store + fs I/O manager; Dagster: SQLite instance, one materialize()"
        " per partition, in-process executor",
        f"{FS_RAY} and both raw Ray backfills ran on one local Ray cluster, back to back in"
        f" {rounds} round(s), the order rotating; medians of the rounds shown",
    ]
    for name in (RAW_PERSISTED, RAW):
        spread = _spread(per_round[FS_RAY], per_round[name])
        if spread:
            result.notes.append(f"{FS_RAY} / {name}, round by round: {spread}")
    fs_own = own.per_unit("backfill", count, scale=1e3)
    if fs_own.ok:
        result.notes.append(
            f"{FS_RAY} starting its own local cluster (dashboard on), one run:"
            f" {fs_own.value:.1f} ms per partition; peak RSS is from this run"
        )
    if "ray_init_s" in paired:
        result.notes.append(f"ray.init took {paired['ray_init_s']:.1f} s")
    return result
