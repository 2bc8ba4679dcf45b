"""Live updates: changes coalesce per browser, so a large backfill cannot flood a socket."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from flowstone.storage import MemoryStorage
from flowstone.storage._changes import Change
from flowstone.web._hub import Client, Coalescer, Hub
from tests.flowstone.storage.records import batch, mat

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def backfill_changes(count: int) -> list[Change]:
    """What a backfill of ``count`` partitions logs: a run and a materialization each."""
    changes = []
    for i in range(count):
        changes.append(Change(2 * i + 1, NOW, "run", f"run-{i}", "events", f"p{i}", "succeeded"))
        changes.append(
            Change(2 * i + 2, NOW, "materialization", f"run-{i}", "events", f"p{i}", "succeeded")
        )
    return changes


def test_ten_thousand_partitions_fold_into_one_small_message() -> None:
    coalescer = Coalescer()
    coalescer.add(backfill_changes(10_000))
    message = coalescer.take()
    assert message["last_id"] == 20_000
    assert message["assets"]["events"]["changed"] == 10_000
    assert len(message["assets"]["events"]["partitions"]) == 20
    assert (len(message["runs"]), message["runs_dropped"]) == (100, 9_900)
    assert len(json.dumps(message)) < 10_000
    assert not coalescer.pending


async def test_a_browser_gets_one_message_per_window_however_many_changes_arrive() -> None:
    sent: list[dict[str, Any]] = []
    first = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        first.set()

    client = Client(send, interval=0.05)
    changes = backfill_changes(10_000)
    for chunk in range(100):  # 100 commits of 100 partitions, before the flusher runs
        client.push(changes[chunk * 200 : chunk * 200 + 200])
    task = asyncio.create_task(client.run())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    assert len(sent) == 1
    assert sent[0]["assets"]["events"]["changed"] == 10_000


async def test_the_hub_follows_writes_and_replays_what_a_browser_missed() -> None:
    storage = MemoryStorage()
    await storage.write(batch(mat("a", "p1"), mat("a", "p2")))
    hub = Hub(storage, interval=0.01)
    await hub.start()
    received: list[dict[str, Any]] = []
    got = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        received.append(message)
        if message["type"] == "changes":
            got.set()

    try:
        client = await hub.attach(send, after=0)
        runner = asyncio.create_task(client.run())
        await asyncio.wait_for(got.wait(), 5)
        assert received[0] == {"type": "hello", "last_id": 2}
        assert received[1]["assets"]["a"]["partitions"] == ["p1", "p2"]
        got.clear()
        await storage.write(batch(mat("a", "p3", run="r2", status="failed")))
        await asyncio.wait_for(got.wait(), 5)
        assert received[-1]["assets"] == {
            "a": {"changed": 1, "status": "failed", "partitions": ["p3"]}
        }
        assert received[-1]["last_id"] == 3
        runner.cancel()
        hub.detach(client)
    finally:
        await hub.stop()
