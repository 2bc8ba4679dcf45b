"""The lineage actor's group commit: what shares a transaction, and what never waits."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import actors
from actors.testing import MockClock, wait_all_idle
from flowstone.engine._lineage_writer import (
    COMMIT_SIBLINGS,
    GetStatistics,
    LineageStatistics,
    LineageWriter,
    Record,
    raise_refused,
    record_durably,
)
from flowstone.errors import StorageError, StorageUnavailable
from flowstone.storage import MaterializationRecord, MemoryStorage, SQLiteStorage, WriteBatch


class CountingStorage(MemoryStorage):
    """A memory store that remembers the size of every transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.transactions: list[int] = []

    async def write(self, batch: WriteBatch) -> None:
        self.transactions.append(len(batch.runs) + len(batch.materializations))
        await super().write(batch)


def record(index: int) -> MaterializationRecord:
    now = datetime.now(UTC)
    return MaterializationRecord(
        id=f"m{index}",
        run_id="r1",
        asset="a",
        partition=str(index),
        attempt=1,
        status="succeeded",
        started_at=now,
        finished_at=now,
        triggered_by="test",
        trigger="manual",
        user="u",
        host="h",
    )


@pytest.fixture
async def storage() -> AsyncIterator[CountingStorage]:
    store = CountingStorage()
    await store.open()
    yield store
    await store.close()


async def start_writer(
    storage: CountingStorage,
    in_flight: Callable[[], int] | None,
    delay: float,
    timer: actors.Clock | None = None,
) -> actors.ActorRef:
    return await actors.spawn(LineageWriter, storage, in_flight, delay, timer)


async def write(writer: actors.ActorRef, index: int) -> None:
    await writer.call(Record(record(index)), timeout=10.0)


async def test_records_arriving_one_by_one_share_a_transaction_while_many_are_in_flight(
    storage: CountingStorage,
) -> None:
    # Every materialization in flight reports, one at a time: the writer commits as soon
    # as the last of them is waiting, long before its (huge) commit delay.
    writer = await start_writer(storage, lambda: COMMIT_SIBLINGS, delay=3600.0)
    calls = []
    for index in range(COMMIT_SIBLINGS):
        calls.append(asyncio.ensure_future(write(writer, index)))
        await wait_all_idle()  # arrive separately, not in one mailbox batch
    await asyncio.wait_for(asyncio.gather(*calls), timeout=10.0)
    assert storage.transactions == [COMMIT_SIBLINGS]
    assert len(await storage.materializations()) == COMMIT_SIBLINGS
    await writer.stop()


async def test_a_record_waits_at_most_the_commit_delay_for_siblings(
    storage: CountingStorage,
) -> None:
    clock = MockClock()
    writer = await start_writer(storage, lambda: 100, delay=0.01, timer=clock)
    call = asyncio.ensure_future(write(writer, 1))
    await clock.advance(0.005)
    assert not call.done()
    assert storage.transactions == []
    await clock.advance(0.005)
    await asyncio.wait_for(call, timeout=10.0)
    assert storage.transactions == [1]
    await writer.stop()


@pytest.mark.parametrize("in_flight", [None, lambda: COMMIT_SIBLINGS - 1])
async def test_with_few_materializations_in_flight_a_record_is_committed_at_once(
    storage: CountingStorage, in_flight: Any
) -> None:
    # A chain of steps runs one at a time: each step waits for its record, so a delay
    # would add up along the chain. A delay of an hour would time the test out.
    writer = await start_writer(storage, in_flight, delay=3600.0)
    for index in range(3):
        await asyncio.wait_for(write(writer, index), timeout=10.0)
    assert storage.transactions == [1, 1, 1]
    await writer.stop()


async def test_records_cast_while_waiting_join_the_delayed_transaction(
    storage: CountingStorage,
) -> None:
    writer = await start_writer(storage, lambda: 2 * COMMIT_SIBLINGS, delay=3600.0)
    writer.cast(Record(record(0)))  # a progress marker: nobody waits for it
    calls = [asyncio.ensure_future(write(writer, i)) for i in range(1, 2 * COMMIT_SIBLINGS + 1)]
    await asyncio.wait_for(asyncio.gather(*calls), timeout=10.0)
    assert sum(storage.transactions) == 2 * COMMIT_SIBLINGS + 1
    assert storage.transactions[-1] >= 2  # the cast did not get a transaction of its own
    stats = await writer.call(GetStatistics())
    assert isinstance(stats, LineageStatistics)
    assert stats.pending == 0
    await writer.stop()


async def test_an_orderly_stop_writes_what_is_waiting_for_its_delay(
    storage: CountingStorage,
) -> None:
    writer = await start_writer(storage, lambda: 100, delay=3600.0)
    writer.cast(Record(record(7)))
    await wait_all_idle()
    await writer.stop()
    assert [m.id for m in await storage.materializations()] == ["m7"]


# -- records a store refuses (issue 12, items 1 and 2) ----------------------------------------


def poison(index: int) -> MaterializationRecord:
    """A record every store refuses: its key holds a NUL character."""
    return replace(record(index), asset="a\x00b", id=f"m{index}\x00")


async def test_a_record_the_store_refuses_fails_only_its_caller_and_the_writer_lives_on(
    tmp_path: Path,
) -> None:
    storage = SQLiteStorage(tmp_path / "flowstone.db")
    await storage.open()
    try:
        # Commit only once all five wait, so that the poison record shares their batch.
        in_flight = [5]
        writer = await actors.spawn(LineageWriter, storage, lambda: in_flight[0], 3600.0)
        good = [asyncio.ensure_future(write(writer, i)) for i in (1, 2, 4, 5)]
        bad = asyncio.ensure_future(writer.call(Record(poison(3)), timeout=10.0))
        outcome = await asyncio.wait_for(
            asyncio.gather(*good, record_reply(bad), return_exceptions=True), timeout=10.0
        )
        assert outcome[:4] == [None] * 4
        assert isinstance(outcome[4], StorageError)
        assert re.match(
            r"could not record materialization 'm3\\x00': materialization .* holds a NUL",
            str(outcome[4]),
        )
        assert writer.alive
        assert sorted(m.id for m in await storage.materializations()) == ["m1", "m2", "m4", "m5"]
        in_flight[0] = 1
        await write(writer, 6)  # and later records are written as before
        assert len(await storage.materializations()) == 5
        await writer.stop()
    finally:
        await storage.close()


async def record_reply(call: asyncio.Future[Any]) -> None:
    """Turn the writer's reply to a call into what ``record_durably`` makes of it."""
    raise_refused(await call)


async def test_a_full_disk_fails_the_records_of_that_moment_and_later_ones_are_written(
    tmp_path: Path,
) -> None:
    storage = SQLiteStorage(tmp_path / "flowstone.db")
    await storage.open()
    try:
        writer = await actors.spawn(LineageWriter, storage)
        await write(writer, 0)
        # SQLite's own limit on the file's size: SQLITE_FULL, as on a full disk.
        pages = await storage._write(lambda c, *_: c.execute("PRAGMA page_count").fetchone()[0])
        await storage._write(lambda c, *_: c.execute(f"PRAGMA max_page_count={pages}"))
        big = replace(record(1), metadata={"blob": "x" * 200_000})
        with pytest.raises(
            StorageUnavailable, match=r"could not record materialization 'm1'.*full"
        ):
            await record_durably(writer, big, timeout=10.0)
        assert writer.alive
        await storage._write(lambda c, *_: c.execute("PRAGMA max_page_count=1073741823"))
        await record_durably(writer, big, timeout=10.0)  # space is back
        assert sorted(m.id for m in await storage.materializations()) == ["m0", "m1"]
        await writer.stop()
    finally:
        await storage.close()
