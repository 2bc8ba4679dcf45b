"""Status ranges on PostgreSQL with several writers at once: the per-asset range lock keeps
every read-modify-write whole, and the change log stays in commit order."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from flowstone.storage import PostgresStorage
from flowstone.storage import _postgres_ranges as pg_ranges
from flowstone.storage import _postgres_write as pg_write
from flowstone.storage._postgres_queries import Statements
from tests.flowstone.storage.contract_ranges import NumberedKeys, expected
from tests.flowstone.storage.records import batch, mat
from tests.pg import database_fixture

pytestmark = pytest.mark.postgres

pg_url = database_fixture()
SCHEMA = '"flowstone"'


async def test_concurrent_writers_keep_the_ranges_exact(pg_url: str) -> None:
    stores = [PostgresStorage(pg_url, max_size=2) for _ in range(8)]
    for store in stores:
        await store.open()
        store.order_partitions("a", NumberedKeys())
    try:
        await stores[0].rebuild_partition_ranges("a")

        async def writer(index: int, store: PostgresStorage) -> None:
            rng = random.Random(index)
            for step in range(40):
                records = [
                    mat(
                        "a",
                        f"p{rng.randrange(24)}",
                        run=f"w{index}-{step}",
                        attempt=i + 1,
                        status=rng.choice(["succeeded", "failed"]),
                        finished=float(step * 10 + index),
                    )
                    for i in range(rng.randrange(1, 6))
                ]
                await store.write(batch(*records))

        await asyncio.gather(*(writer(i, s) for i, s in enumerate(stores)))
        summary = await stores[0].partition_ranges("a")
        assert list(summary.ranges) == await expected(stores[0], "a")
        changes = await stores[0].changes(limit=10_000)
        assert [c.seq for c in changes] == sorted(c.seq for c in changes)
        assert len(changes) == sum(1 for c in changes if c.kind == "materialization")
    finally:
        for store in stores:
            await store.close()


async def test_a_second_writer_waits_for_the_first_ones_range_update(pg_url: str) -> None:
    store = PostgresStorage(pg_url)
    await store.open()
    store.order_partitions("a", NumberedKeys())
    await store.rebuild_partition_ranges("a")
    first, second = await asyncpg.connect(pg_url), await asyncpg.connect(pg_url)
    st, orders = Statements(SCHEMA), {"a": NumberedKeys()}
    try:
        one = first.transaction()  # the writes' locks are held until these commit
        await one.start()
        await pg_write.write(first, st, [], [mat("a", "p1")], orders, None)
        two = second.transaction()
        await two.start()
        waiting = asyncio.create_task(
            pg_write.write(second, st, [], [mat("a", "p2", run="r2")], orders, None)
        )
        pid, key = second.get_server_pid(), pg_ranges.range_lock(SCHEMA, "", "a")
        for _ in range(500):  # the second must come to wait on the first one's range lock
            if waiting.done() or await first.fetchval(
                "SELECT ((classid::bigint << 32) | objid::bigint) = $2 FROM pg_locks "
                "WHERE pid = $1 AND locktype = 'advisory' AND NOT granted",
                pid,
                key,
            ):
                break
            await asyncio.sleep(0.01)
        assert not waiting.done(), "the second writer updated the ranges without waiting"
        await one.commit()
        await waiting
        await two.commit()
        summary = await store.partition_ranges("a")
        assert list(summary.ranges) == await expected(store, "a")
    finally:
        await first.close()
        await second.close()
        await store.close()
