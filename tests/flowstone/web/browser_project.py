"""The project the browser tests serve: a pipeline module, flowstone.toml, a SQLite store
with history, and ``big``, an hourly asset of 1,000,000 partitions whose statuses are
written directly through the store."""

from __future__ import annotations

import asyncio
import random
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import flowstone as fs
from flowstone.partitions._order import PartitionOrder
from flowstone.storage import MaterializationRecord, SQLiteStorage, WriteBatch

BIG_START = datetime(1900, 1, 1, tzinfo=UTC)
BIG_COUNT = 1_000_000

PIPELINE = textwrap.dedent(
    f"""
    import datetime as dt
    import flowstone as fs

    pipeline = fs.Pipeline("browser")
    days = fs.DailyPartitions(start="2024-01-01", end="2024-01-31")
    start = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)

    @pipeline.asset(partitioned_by=days)
    def raw(context):
        return context.partition.day

    @pipeline.asset(depends_on=["raw"], partitioned_by=days)
    def clean(context, raw):
        context.log.info("cleaning %d rows of %s", raw, context.partition)
        if context.partition.day == 13:
            raise RuntimeError("unlucky day")
        return raw

    @pipeline.asset()
    def config(context):
        return 1

    @pipeline.checkpoint(depends_on=["raw"],
                         message=lambda context, raw: f"Publish {{context.partition}}?")
    def reviewed(context, raw):
        return raw

    @pipeline.asset(depends_on=["reviewed"], partitioned_by=days)
    def published(context, reviewed):
        return reviewed

    pipeline.schedule("nightly_raw", asset="raw", cron="0 2 * * *")

    @pipeline.sensor(interval=30)
    def new_files(context):
        return None

    @pipeline.asset(partitioned_by=fs.HourlyPartitions(
        start=start, end=start + dt.timedelta(hours={BIG_COUNT - 1})))
    def big(context):
        return 1
    """
)


def create(folder: Path, module: str) -> Path:
    """Write the project into ``folder`` and record some history; return the store path."""
    (folder / f"{module}.py").write_text(PIPELINE)
    (folder / "flowstone.toml").write_text(
        f'[flowstone]\npipeline = "{module}:pipeline"\nbase_dir = ".fs"\n'
    )
    namespace: dict[str, object] = {}
    exec(PIPELINE, namespace)  # the same definitions the server imports
    pipeline = namespace["pipeline"]
    store = folder / ".fs" / "flowstone.db"
    days = fs.DailyPartitions(start="2024-01-01", end="2024-01-31")
    with fs.Runtime(pipeline, base_dir=folder / ".fs") as rt:
        rt.backfill("clean", days.range("2024-01-10", "2024-01-15"))
        big = pipeline.get("big").partitions  # type: ignore[attr-defined]
    # In a thread of its own: Playwright's sync API may already run a loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _seed_big(store, big)).result()
    return store


async def _seed_big(store: Path, hourly: fs.HourlyPartitions) -> None:
    """The first 20,000 hours succeeded, then 4,000 scattered hours failed: thousands of
    ranges over a million partitions, most of them never materialized."""
    rng = random.Random(15)
    ordinals = list(range(20_000)) + rng.sample(range(20_000, BIG_COUNT), 4_000)
    async with SQLiteStorage(store, pipeline="browser") as storage:
        storage.order_partitions("big", PartitionOrder(hourly))
        await storage.rebuild_partition_ranges("big")
        for lo in range(0, len(ordinals), 8_000):
            records = []
            for i in ordinals[lo : lo + 8_000]:
                key = hourly.encode(hourly._key_at(i))
                at = BIG_START + timedelta(hours=i)
                records.append(
                    MaterializationRecord(
                        id=f"seed/big/{key}/1",
                        run_id="seed",
                        asset="big",
                        partition=key,
                        attempt=1,
                        status="succeeded" if i < 20_000 else "failed",
                        started_at=at,
                        finished_at=at + timedelta(minutes=1),
                        triggered_by="seed@test",
                    )
                )
            await storage.write(WriteBatch(materializations=tuple(records)))
