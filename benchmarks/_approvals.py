"""Family "approvals": checkpoint gates on SQLite and PostgreSQL.

- listing 10,000 open gates (``rt.approvals.pending()``: the store query and the public
  records), median of repeated calls (target < 200 ms on both stores);
- decision -> resumed node start: ``approve()`` on a run waiting at its gate until the
  function of the asset after the gate starts, in the same process (target < 50 ms);
- a daily backfill through an auto-deciding gate against the same backfill through a plain
  pass-through asset, per partition; the difference is the gate's cost (a request and an
  audit row per partition, both in the store).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import uuid
from pathlib import Path
from typing import Any

import flowstone as fs
from benchmarks._options import Options
from benchmarks._postgres import throwaway_database
from benchmarks._report import FamilyResult, Row, Target, Value
from benchmarks._stats import NS_PER_MS, NS_PER_US, median, now_ns, percentile
from flowstone.approvals import ApprovalsWing
from flowstone.storage import ApprovalPolicy, ApprovalRecord, AuditEntry, Storage, open_storage

SQLITE, POSTGRES = "SQLite", "PostgreSQL"
DAYS = fs.DailyPartitions(start="2020-01-01")
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _gated(auto: bool, started: list[int] | None = None) -> fs.Pipeline:
    p = fs.Pipeline("bench_gates")

    @p.asset(partitioned_by=DAYS, io_manager="memory")
    def raw(context: Any) -> int:
        return 1

    decide = (lambda context, raw: fs.Approve()) if auto else None

    @p.checkpoint(depends_on=["raw"], auto_decide=decide, io_manager="memory")
    def gate(context: Any, raw: int) -> int:
        return raw

    @p.asset(depends_on=["gate"], partitioned_by=DAYS, io_manager="memory")
    def after(context: Any, gate: int) -> int:
        if started is not None:
            started.append(now_ns())
        return gate + 1

    return p


def _plain() -> fs.Pipeline:
    p = fs.Pipeline("bench_gates")

    @p.asset(partitioned_by=DAYS, io_manager="memory")
    def raw(context: Any) -> int:
        return 1

    @p.asset(depends_on=["raw"], partitioned_by=DAYS, io_manager="memory")
    def gate(context: Any, raw: int) -> int:
        return raw

    @p.asset(depends_on=["gate"], partitioned_by=DAYS, io_manager="memory")
    def after(context: Any, gate: int) -> int:
        return gate + 1

    return p


# -- listing -----------------------------------------------------------------------------------


def _pending(i: int) -> tuple[ApprovalRecord, AuditEntry]:
    key = DAYS.encode(dt.date(2020, 1, 1) + dt.timedelta(days=i))
    record = ApprovalRecord(
        id=uuid.uuid4().hex,
        run_id=f"run-{i}",
        checkpoint="gate",
        partition=key,
        status="pending",
        requested_at=T0 + dt.timedelta(seconds=i),
        message=f"check {key}",
        view={"rows": i, "title": f"report {key}"},
        timeout_at=T0 + dt.timedelta(days=1, seconds=i),
        policy=ApprovalPolicy("reject", 86400.0),
        pipeline="bench_gates",
    )
    audit = AuditEntry(
        id=uuid.uuid4().hex,
        event="requested",
        actor="flowstone:gate",
        at=record.requested_at,
        run_id=record.run_id,
        asset="gate",
        partition=key,
        approval_id=record.id,
    )
    return record, audit


async def _seed(storage: Storage, count: int) -> None:
    semaphore = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        record, audit = _pending(i)
        async with semaphore:
            await storage.approvals.request(record, [audit])

    await asyncio.gather(*(one(i) for i in range(count)))


async def _listing(url: str, count: int, reps: int) -> Value:
    async with open_storage(url) as storage:
        await _seed(storage, count)
        wing = ApprovalsWing(_gated(auto=False), storage, timer_interval=None)
        samples = []
        for _ in range(reps):
            started = now_ns()
            found = await wing.approvals.pending()
            samples.append(now_ns() - started)
            assert len(found) == count, f"listed {len(found)} of {count}"
    return Value(median(samples) / NS_PER_MS, p99=percentile(samples, 99) / NS_PER_MS)


# -- decision -> resume --------------------------------------------------------------------------


async def _resume_latency(url: str, base: Path, count: int) -> Value:
    started: list[int] = []
    async with fs.AsyncRuntime(_gated(False, started), storage=url, base_dir=base) as rt:
        day = dt.date(2021, 1, 1)
        runs = []
        for i in range(count):
            runs.append(await rt.materialize_all("after", day + dt.timedelta(days=i)))
        pending = {a.run_id: a.id for a in await rt.approvals.pending()}
        samples = []
        for run in runs:
            before = now_ns()
            await rt.approvals.approve(pending[run.run_id], by="bench")
            result = await rt.wait(run.run_id, timeout=30)
            assert result.status == "succeeded", result.status
            samples.append(started[-1] - before)
    return Value(median(samples) / NS_PER_MS, p99=percentile(samples, 99) / NS_PER_MS)


# -- backfill overhead ---------------------------------------------------------------------------


async def _backfill(url: str, base: Path, pipeline: fs.Pipeline, count: int) -> float:
    days = [dt.date(2022, 1, 1) + dt.timedelta(days=i) for i in range(count)]
    async with fs.AsyncRuntime(pipeline, storage=url, base_dir=base) as rt:
        started = now_ns()
        result = await rt.backfill("after", days, max_parallel=10)
        elapsed = now_ns() - started
        assert len(result.succeeded) == count, result.errors
    return elapsed / count / NS_PER_US


def _measure(url_of: Any, options: Options) -> dict[str, Value]:
    listed, resumed = options.pick(2_000, 10_000), options.pick(10, 50)
    partitions = options.pick(100, 1_000)
    figures: dict[str, Value] = {}
    with url_of("list") as url:
        figures["list"] = asyncio.run(_listing(url, listed, options.pick(5, 20)))
    with tempfile.TemporaryDirectory() as tmp, url_of("resume") as url:
        figures["resume"] = asyncio.run(_resume_latency(url, Path(tmp), resumed))
    with tempfile.TemporaryDirectory() as tmp, url_of("plain") as url:
        plain = asyncio.run(_backfill(url, Path(tmp), _plain(), partitions))
    with tempfile.TemporaryDirectory() as tmp, url_of("gated") as url:
        gated = asyncio.run(_backfill(url, Path(tmp), _gated(auto=True), partitions))
    figures["plain"], figures["gated"] = Value(plain), Value(gated)
    figures["overhead"] = Value(gated - plain)
    return figures


class _SQLiteURL:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory()

    def __call__(self, name: str) -> Any:
        import contextlib

        @contextlib.contextmanager
        def url() -> Any:
            yield f"sqlite:///{Path(self._dir.name) / name}.db"

        return url()


def run(options: Options) -> FamilyResult:
    """Measure both stores; build the family's table."""
    result = FamilyResult(
        name="approvals",
        title="approvals: checkpoint gates on SQLite and PostgreSQL",
        systems=[SQLITE, POSTGRES],
        ratios=[],
    )
    sqlite_urls = _SQLiteURL()
    measured = {SQLITE: _measure(sqlite_urls, options)}
    try:
        measured[POSTGRES] = _measure(lambda name: throwaway_database(f"fs_bench_{name}"), options)
    except Exception as exc:  # no server: the SQLite column still stands
        reason = f"{type(exc).__name__}: {exc}"
        measured[POSTGRES] = {k: Value.missing(reason) for k in measured[SQLITE]}
    listed, partitions = options.pick(2_000, 10_000), options.pick(100, 1_000)

    def row(key: str) -> dict[str, Value]:
        return {system: figures[key] for system, figures in measured.items()}

    for system in (SQLITE, POSTGRES):
        result.add(
            Row(
                f"list {listed:,} open gates, pending() ({system})",
                "ms",
                "lower",
                {system: measured[system]["list"]},
                Target(system, "<=", 200, text="< 200 ms"),
            )
        )
    result.add(
        Row(
            "approve -> resumed node start (same process)",
            "ms",
            "lower",
            row("resume"),
            Target(SQLITE, "<=", 50, text="< 50 ms (SQLite)"),
        )
    )
    result.add(
        Row(f"backfill {partitions:,} partitions, no gate", "µs/partition", "lower", row("plain"))
    )
    result.add(
        Row(
            f"backfill {partitions:,} partitions, auto-deciding gate",
            "µs/partition",
            "lower",
            row("gated"),
        )
    )
    result.add(Row("gate overhead per partition", "µs/partition", "lower", row("overhead")))
    result.notes.append(
        "listing: the store query plus fs.Approval records; resume: approve() until the "
        "function after the gate starts (the run is resumed by the deciding process)"
    )
    return result
