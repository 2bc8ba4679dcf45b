"""Family "partition_status": the status of every partition of an hourly asset, as ranges.

For 10k / 100k / 1M hourly partitions (quick: 10k / 100k) on SQLite and on PostgreSQL:
records are written through ``Storage.write`` in batches of 10,000 with the status ranges
maintained (every partition succeeded, except one failed partition in 500 and a failed
block of 100), then ``partition_status`` is timed over the whole asset. Compared with
the straightforward way: read the newest status of every partition and compress it
(``latest_statuses`` + ``PartitionSet.summarize``), O(partitions). Also reported: the JSON
payload the dashboard receives, the Python memory a status read allocates at peak
(tracemalloc; bounded by ranges), and the write throughput with ranges kept.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import tracemalloc
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks._options import Options
from benchmarks._postgres import throwaway_database
from benchmarks._report import FamilyResult, Ratio, Row, Target, Value
from benchmarks._stats import NS_PER_MS, median, now_ns, percentile
from flowstone.partitions import HourlyPartitions
from flowstone.partitions._order import PartitionOrder
from flowstone.status import partition_status
from flowstone.storage import MaterializationRecord, Storage, WriteBatch, open_storage

RANGES, FULL = "ranges (FlowStone)", "full read"
START = datetime(1900, 1, 1, tzinfo=UTC)
BATCH = 10_000


def _records(hourly: HourlyPartitions, count: int) -> list[list[MaterializationRecord]]:
    rng = random.Random(count)
    failed = {rng.randrange(count) for _ in range(count // 500)} | set(
        range(count // 3, count // 3 + 100)
    )
    encode = hourly.encode
    batches: list[list[MaterializationRecord]] = []
    for lo in range(0, count, BATCH):
        batch = []
        for i in range(lo, min(count, lo + BATCH)):
            key = encode(hourly._key_at(i))
            at = START + timedelta(hours=i)
            batch.append(
                MaterializationRecord(
                    id=f"bench/h/{key}/1",
                    run_id="bench",
                    asset="h",
                    partition=key,
                    attempt=1,
                    status="failed" if i in failed else "succeeded",
                    started_at=at,
                    finished_at=at + timedelta(seconds=1),
                    triggered_by="bench@host",
                )
            )
        batches.append(batch)
    return batches


async def _measure(storage: Storage, count: int, samples: int) -> dict[str, Value]:
    hourly = HourlyPartitions(start=START, end=START + timedelta(hours=count - 1))
    order = PartitionOrder(hourly)
    async with storage:
        storage.order_partitions("h", order)
        await storage.rebuild_partition_ranges("h")
        written = 0
        began = now_ns()
        for batch in _records(hourly, count):
            await storage.write(WriteBatch(materializations=tuple(batch)))
            written += len(batch)
        write_rate = written * 1e9 / (now_ns() - began)
        times, full = [], []
        for _ in range(samples):
            t0 = now_ns()
            status = await partition_status(storage, "h", order)
            payload = json.dumps(status.to_json(), separators=(",", ":"))
            times.append(now_ns() - t0)
        for _ in range(max(1, samples // 3)):
            t0 = now_ns()
            statuses = await storage.latest_statuses("h")
            hourly.all().summarize({k: v for k, v in statuses.items() if k is not None})
            full.append(now_ns() - t0)
        tracemalloc.start()
        await partition_status(storage, "h", order)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        t0 = now_ns()
        await storage.rebuild_partition_ranges("h")
        rebuild = now_ns() - t0
    ms = [t / NS_PER_MS for t in times]
    return {
        "status": Value(median(ms), p99=percentile(ms, 99), note=f"{len(status.runs):,} ranges"),
        "full": Value(median([t / NS_PER_MS for t in full])),
        "payload": Value(len(payload) / 1024),
        "memory": Value(peak / 2**20),
        "write": Value(write_rate),
        "rebuild": Value(rebuild / NS_PER_MS),
    }


def _store_url(kind: str, stack: ExitStack) -> str:
    """A fresh store of ``kind``: a SQLite file in a temporary folder, or a throwaway
    PostgreSQL database dropped when ``stack`` closes."""
    if kind == "SQLite":
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="fs-bench-status-"))
        return f"sqlite:///{Path(folder) / 'fs.db'}"
    return stack.enter_context(throwaway_database("fs_bench_status"))


def run(options: Options) -> FamilyResult:
    """Measure partition_status at each size on both SQL stores."""
    sizes = [10_000, 100_000] if options.quick else [10_000, 100_000, 1_000_000]
    systems = [f"{store} {how}" for store in ("SQLite", "PostgreSQL") for how in (RANGES, FULL)]
    result = FamilyResult(
        name="partition_status",
        title="partition_status: every partition of an hourly asset, as ranges",
        systems=systems,
        ratios=[Ratio(f"{s} {FULL}", f"{s} {RANGES}") for s in ("SQLite", "PostgreSQL")],
    )
    for store in ("SQLite", "PostgreSQL"):
        for count in sizes:
            try:
                with ExitStack() as stack:
                    url = _store_url(store, stack)
                    samples = options.pick(5, 11)
                    figures = asyncio.run(_measure(open_storage(url), count, samples))
            except Exception as exc:  # a store that cannot be reached is reported, not fatal
                result.notes.append(f"{store} at {count:,}: {type(exc).__name__}: {exc}")
                continue
            _rows(result, store, count, figures)
    return result


def _rows(result: FamilyResult, store: str, count: int, f: dict[str, Value]) -> None:
    ours, full = f"{store} {RANGES}", f"{store} {FULL}"
    under_1s = Target(ours, "<=", 1000, text="< 1 s")
    result.add(
        Row(
            f"{count:,} partitions: status of all",
            "ms",
            "lower",
            {ours: f["status"], full: f["full"]},
            under_1s,
        )
    )
    result.add(
        Row(
            f"{count:,} partitions: JSON payload",
            "KiB",
            "lower",
            {ours: f["payload"]},
            Target(ours, "<=", 100, text="< 100 KB"),
        )
    )
    result.add(
        Row(
            f"{count:,} partitions: peak Python memory of a read",
            "MiB",
            "lower",
            {ours: f["memory"]},
        )
    )
    result.add(
        Row(
            f"{count:,} partitions: records written per second, ranges kept",
            "records/s",
            "higher",
            {ours: f["write"]},
        )
    )
    result.add(
        Row(
            f"{count:,} partitions: rebuild from asset_partitions (once per new order)",
            "ms",
            "lower",
            {ours: f["rebuild"]},
        )
    )
