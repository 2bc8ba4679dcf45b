"""Family "flowstone": asset DAGs and a daily backfill, FlowStone vs Dagster vs plain Python.

- DAGs of 100 and 1,000 trivial assets (chain, diamond, layered, fan-out; see ``_dags``), all
  materialized by one call (``materialize_all(sink)`` / Dagster's ``materialize(assets)``);
  the figure is wall time divided by the number of assets, after one warm-up run.
- A backfill of daily partitions of a two-asset chain: FlowStone's ``backfill(max_parallel=10)``
  against one Dagster ``materialize(partition_key=...)`` per partition (Dagster's backfills
  need its daemon; this is how a script backfills). Figure: wall time per partition.
- Lineage: ``lineage.upstream`` latency over the backfilled records (no Dagster equivalent).
- Peak RSS of each system's benchmark process (FlowStone and Dagster each run in a child).

FlowStone runs with storage "memory" + the memory I/O manager, and with SQLite + the "fs"
I/O manager (the like-for-like peer of a Dagster SQLite instance with its fs I/O manager).
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._answers import Answers, dagster_answers
from benchmarks._dags import SHAPES, DagSpec, run_plain, trivial
from benchmarks._flowstone_side import run_in_child
from benchmarks._options import Options
from benchmarks._report import FamilyResult, Ratio, Row, Target, Value
from benchmarks._stats import now_ns

FS_MEM, FS_SQL = "FlowStone memory", "FlowStone SQLite"
DAG_SQL, DAG_EPH, PLAIN = "Dagster SQLite", "Dagster ephemeral", "plain Python"
BACKFILL_CHAIN = 2
DAGSTER_RATIO = Ratio(DAG_SQL, FS_SQL)
EPHEMERAL_RATIO = Ratio(DAG_EPH, FS_MEM)
TARGET = Target(
    FS_SQL,
    ">=",
    100,
    ratio=DAGSTER_RATIO,
    also=(EPHEMERAL_RATIO,),
    text=">= 100× less than Dagster (SQLite vs SQLite, memory vs ephemeral)",
)


def _specs(options: Options) -> list[DagSpec]:
    sizes = (100,) if options.quick else (100, 1_000)
    return [make(size) for size in sizes for make in SHAPES.values()]


def _reps(spec: DagSpec, options: Options) -> int:
    return options.pick(2, 5) if spec.size <= 100 else options.pick(1, 3)


def _dagster_runs(spec: DagSpec, options: Options) -> bool:
    """Dagster takes 50-100 ms per asset here: 1,000-asset DAGs only with --exhaustive."""
    return spec.size <= 100 or options.exhaustive


def _dagster_partitions(count: int, options: Options) -> int:
    """Dagster pays 0.2-1 s per partition here: a prefix of the days unless --exhaustive."""
    return count if options.exhaustive else min(count, options.pick(30, 60))


def _backfill_job(count: int, samples: int) -> dict[str, Any]:
    return {
        "task": "backfill",
        "count": count,
        "chain": BACKFILL_CHAIN,
        "max_parallel": 10,
        "lineage_samples": samples,
    }


def _flowstone(storage: str, io_manager: str, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    return run_in_child({"storage": storage, "io_manager": io_manager, "jobs": jobs})


def _plain_dag(spec: DagSpec) -> Value:
    samples = []
    for _ in range(20):
        started = now_ns()
        run_plain(spec)
        samples.append(now_ns() - started)
    return Value(statistics.median(samples) / 1_000 / spec.size)


def _plain_backfill(count: int) -> Value:
    started = now_ns()
    for _ in range(count):
        value = trivial()
        for _ in range(BACKFILL_CHAIN - 1):
            value = trivial(value)
    return Value((now_ns() - started) / 1_000 / count)


def run(options: Options) -> FamilyResult:
    """Measure every system on the same DAGs and partitions; build the family's table."""
    specs = _specs(options)
    count = options.pick(60, 365)
    dagster_count = _dagster_partitions(count, options)
    fs_jobs = [{"task": "dag", "spec": s.to_json(), "reps": _reps(s, options)} for s in specs]
    fs_jobs.append(_backfill_job(count, options.pick(100, 500)))
    fs_keys = [s.label for s in specs] + ["backfill"]
    dagster_specs = [s for s in specs if _dagster_runs(s, options)]
    dagster_jobs: list[dict[str, Any]] = [
        {"task": "dag", "label": s.label, "assets": s.to_json()["assets"], "reps": 1}
        for s in dagster_specs
    ]
    dagster_jobs.append({"task": "partitions", "count": dagster_count, "chain": BACKFILL_CHAIN})
    dagster_keys = [s.label for s in dagster_specs] + ["backfill"]

    answers = {
        FS_MEM: Answers(fs_keys, _flowstone("memory", "memory", fs_jobs)),
        FS_SQL: Answers(fs_keys, _flowstone("sqlite", "fs", fs_jobs)),
        DAG_SQL: dagster_answers({"kind": "sqlite"}, dagster_keys, dagster_jobs),
        DAG_EPH: dagster_answers({"kind": "ephemeral"}, dagster_keys, dagster_jobs),
    }
    result = _table(options, specs, answers)
    _add_backfill_rows(result, count, dagster_count, answers)
    return result


def _table(options: Options, specs: list[DagSpec], answers: dict[str, Answers]) -> FamilyResult:
    result = FamilyResult(
        name="flowstone",
        title="flowstone: asset DAGs and a daily backfill, FlowStone vs Dagster vs plain Python",
        systems=[FS_MEM, FS_SQL, DAG_SQL, DAG_EPH, PLAIN],
        ratios=[DAGSTER_RATIO, EPHEMERAL_RATIO],
    )
    not_run = "not run; use --exhaustive"
    for spec in specs:
        values = {name: a.per_unit(spec.label, spec.size, not_run) for name, a in answers.items()}
        values[PLAIN] = _plain_dag(spec)
        result.add(Row(f"DAG {spec.label}: per asset", "µs", "lower", values, TARGET))
    version = answers[DAG_SQL].version
    result.notes += [
        f"Dagster {version or '(not run)'}: in-process executor, fs I/O manager, one"
        " materialize() per DAG and per partition; 1,000-asset DAGs and all partitions only"
        " with --exhaustive",
        "FlowStone memory = memory store + memory I/O manager; SQLite = SQLite store + fs I/O"
        " manager; backfill max_parallel=10; each system runs in its own child process",
    ]
    if options.quick:
        result.notes.append("quick mode: 100-asset DAGs only, fewer partitions and repetitions")
    return result


def _add_backfill_rows(
    result: FamilyResult, count: int, dagster_count: int, answers: dict[str, Answers]
) -> None:
    values = {name: answers[name].per_unit("backfill", count) for name in (FS_MEM, FS_SQL)}
    for name in (DAG_SQL, DAG_EPH):
        value = answers[name].per_unit("backfill", dagster_count)
        if value.ok and dagster_count != count:
            value = Value(value.value, note=f"first {dagster_count} days")
        values[name] = value
    values[PLAIN] = _plain_backfill(count)
    metric = f"daily backfill {count} × {BACKFILL_CHAIN} assets: per partition"
    result.add(Row(metric, "µs", "lower", values, TARGET))
    no_lineage = Value.missing("no lineage query")
    lineage = {name: answers[name].lineage("backfill") for name in (FS_MEM, FS_SQL)}
    lineage |= {DAG_SQL: no_lineage, DAG_EPH: no_lineage}
    result.add(Row(f"lineage.upstream over {count} partitions (median)", "µs", "lower", lineage))
    memory = {name: a.memory() for name, a in answers.items()}
    result.add(Row("peak RSS of the benchmark process", "MiB", "lower", memory))
