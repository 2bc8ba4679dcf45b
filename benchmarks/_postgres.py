"""Family "postgres": FlowStone on PostgreSQL against Dagster on a PostgreSQL instance.

Each system gets its own throwaway database on the server at ``FLOWSTONE_BENCH_POSTGRES``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``, the administrative connection used
to create and drop them). Both use a files I/O manager, so the difference is the orchestration
and the record store:

- per-materialization overhead: each DAG shape (chain, diamond, layered, fan-out)
  materialized in one call, per asset;
- a daily backfill of a two-asset chain, per partition (Dagster: one materialize per key);
- ``lineage.upstream`` latency over the backfilled records;
- ``lineage.upstream`` latency with 1M materialization records: the backfill's records are
  copied in SQL as older history (``_pg_seed``) up to 1M rows (quick: 100k), then queried;
- records per second through the lineage actor without group commit (one caller, each record
  its own transaction) and with it (64 concurrent callers, records gathered per transaction).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchmarks._answers import Answers, dagster_answers
from benchmarks._dags import SHAPES, DagSpec
from benchmarks._flowstone_side import run_in_child
from benchmarks._options import Options
from benchmarks._pg_seed import seed_history
from benchmarks._report import FamilyResult, Ratio, Row, Target, Value

FS_PG, DAG_PG = "FlowStone Postgres", "Dagster Postgres"
ADMIN_DSN = os.environ.get(
    "FLOWSTONE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CHAIN = 2


def _dsn(database: str) -> str:
    parts = urlsplit(ADMIN_DSN)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """Create a database for one system, yield its DSN, drop it afterwards."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _dsn(name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _history(dsn: str, count: int, target: int) -> Value:
    """Seed ``target`` records into the FlowStone database, then time lineage queries."""
    try:
        total = asyncio.run(seed_history(dsn, target))
    except Exception as exc:  # a changed schema or a failed insert is reported
        return Value.missing(f"seeding failed: {type(exc).__name__}: {exc}")
    job = {"task": "lineage", "count": count, "chain": CHAIN, "lineage_samples": 500}
    answer = run_in_child({"storage": dsn, "io_manager": "fs", "jobs": [job]})
    value = Answers(["lineage"], answer).lineage("lineage")
    return Value(value.value, p99=value.p99, note=f"{total:,} records") if value.ok else value


def _specs(options: Options) -> list[DagSpec]:
    return [make(options.pick(30, 100)) for make in SHAPES.values()]


def _measure(options: Options) -> tuple[dict[str, Answers], int, Value]:
    specs = _specs(options)
    count = options.pick(20, 60)
    keys = [spec.label for spec in specs] + ["backfill", "events"]
    fs_jobs: list[dict[str, Any]] = [
        {"task": "dag", "spec": spec.to_json(), "reps": options.pick(1, 3)} for spec in specs
    ]
    fs_jobs += [
        {"task": "backfill", "count": count, "chain": CHAIN, "lineage_samples": 200},
        {"task": "events", "single": options.pick(200, 1_000), "concurrent": 64 * 80},
    ]
    dagster_jobs: list[dict[str, Any]] = [
        {"task": "dag", "label": spec.label, "assets": spec.to_json()["assets"], "reps": 1}
        for spec in specs
    ]
    dagster_jobs.append({"task": "partitions", "count": count, "chain": CHAIN})
    answers: dict[str, Answers] = {}
    history = Value.missing("not measured")
    try:
        with throwaway_database("bench_flowstone") as dsn:
            request = {"storage": dsn, "io_manager": "fs", "jobs": fs_jobs}
            answers[FS_PG] = Answers(keys, run_in_child(request))
            history = answers[FS_PG].lineage("backfill")
            if history.ok:
                history = _history(dsn, count, options.pick(100_000, 1_000_000))
        with throwaway_database("bench_dagster") as dsn:
            answers[DAG_PG] = dagster_answers({"kind": "postgres", "url": dsn}, keys, dagster_jobs)
    except Exception as exc:  # unreachable server, auth, permissions: reported, not raised
        reason = f"PostgreSQL at {ADMIN_DSN}: {type(exc).__name__}: {exc}"
        answers = {name: Answers(keys, None, error=reason) for name in (FS_PG, DAG_PG)}
        history = Value.missing(reason)
    return answers, count, history


def run(options: Options) -> FamilyResult:
    """Measure both systems on their own database and build the family's table."""
    answers, count, history = _measure(options)
    ratio = Ratio(DAG_PG, FS_PG)
    result = FamilyResult(
        name="postgres",
        title="postgres: FlowStone on PostgreSQL vs Dagster on a PostgreSQL instance",
        systems=[FS_PG, DAG_PG],
        ratios=[ratio],
    )
    target = Target(FS_PG, ">=", 100, ratio=ratio, text=">= 100× less than Dagster")
    for spec in _specs(options):
        values = {name: a.per_unit(spec.label, spec.size) for name, a in answers.items()}
        result.add(Row(f"DAG {spec.label}: per asset", "µs", "lower", values, target))
    values = {name: a.per_unit("backfill", count) for name, a in answers.items()}
    metric = f"daily backfill {count} × {CHAIN}: per partition"
    result.add(Row(metric, "µs", "lower", values, target))
    no_query = Value.missing("no lineage query")
    no_writer = Value.missing("no single writer")
    lineage = {FS_PG: answers[FS_PG].lineage("backfill"), DAG_PG: no_query}
    result.add(Row(f"lineage.upstream over {count} partitions (median)", "µs", "lower", lineage))
    records = "100k" if options.quick else "1M"
    p50_target = Target(FS_PG, "<=", 5_000, text="p50 < 5 ms")
    metric = f"lineage.upstream with {records} records (p50)"
    result.add(Row(metric, "µs", "lower", {FS_PG: history, DAG_PG: no_query}, p50_target))
    for mode, name in (("without", "events_single"), ("with", "events_grouped")):
        events = {FS_PG: answers[FS_PG].field("events", name), DAG_PG: no_writer}
        metric = f"lineage actor records/s {mode} group commit"
        result.add(Row(metric, "records/s", "higher", events))
    memory = {name: a.memory() for name, a in answers.items()}
    result.add(Row("peak RSS of the benchmark process", "MiB", "lower", memory))
    result.notes += [
        f"Dagster {answers[DAG_PG].version or '(not run)'} with dagster-postgres: in-process"
        " executor, fs I/O manager, one materialize() per DAG and per partition",
        "each system writes to its own throwaway database, dropped afterwards",
    ]
    return result
