"""Migration 9 on SQLite and PostgreSQL: ticks, state, run keys and decisions written
before they belonged to a pipeline are adopted into the pipeline that owns them, or kept
under the pipeline "" (which no daemon reads) when that cannot be told."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import asyncpg

from flowstone.automation._store import AutomationStore, open_automation_store
from flowstone.storage import Storage, open_storage
from flowstone.storage._automation_schema import POSTGRES_V5, SQLITE_V5
from flowstone.storage._codec import to_micros
from tests.flowstone.storage.records import batch, mat, run

T0 = datetime.fromisoformat("2025-01-15T02:00:00+00:00")
T1 = T0 + timedelta(days=1)
TABLES = ("automation_ticks", "automation_state", "run_keys", "automation_decisions")

#: (origin, tick time, run ids) of the ticks written before migration 9.
TICKS = (
    ("automation:north", T0, []),
    ("schedule:nightly", T0, ["r-north"]),
    ("schedule:nightly", T1, []),  # no run: the other ticks of its origin tell
    ("sensor:inbox", T0, ["r-south"]),
    ("sensor:orphan", T0, []),  # nothing tells
)
#: (origin, enabled, cursor)
STATES = (("schedule:nightly", 0, None), ("sensor:inbox", 1, "c7"), ("sensor:orphan", 0, "c1"))
#: (asset, pkey, partition, run id)
DECISIONS = (
    ("follower", "", None, "r-north"),  # its run tells
    ("clean", "~2025-01-01", "2025-01-01", None),  # only south has the asset
    ("mystery", "", None, None),  # nothing tells
)


async def legacy_store(url: str, pipelines: tuple[str, ...]) -> None:
    """A store whose automation tables are as before migration 9, holding the rows above
    (runs r-PIPELINE of each of ``pipelines``; asset ``clean`` materialized in south)."""
    storage = open_storage(url)
    await storage.open()
    try:
        await storage.write(batch(*(run(f"r-{p}", pipeline=p) for p in pipelines)))
        if "south" in pipelines:
            south = storage.for_pipeline("south")
            await south.open()
            await south.write(batch(mat("clean", "2025-01-01", run="r-south")))
            await south.close()
    finally:
        await storage.close()
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///") :])
        try:
            rewind_sqlite(conn)
            conn.commit()
        finally:
            conn.close()
    else:
        pg = await asyncpg.connect(url)
        try:
            async with pg.transaction():
                await rewind_postgres(pg)
        finally:
            await pg.close()


def _legacy_statements(statements: tuple[str, ...]) -> list[str]:
    return [s for s in statements if any(f"{t} " in s or f"{t}\n" in s for t in TABLES)]


def rewind_sqlite(conn: sqlite3.Connection) -> None:
    for table in TABLES:
        conn.execute(f"DROP TABLE {table}")
    for statement in _legacy_statements(SQLITE_V5):
        conn.execute(statement)
    for origin, tick_at, run_ids in TICKS:
        conn.execute(
            "INSERT INTO automation_ticks (origin, tick_at, status, owner, lease_until, "
            "updated_at, run_ids, cursor, error, info) VALUES (?, ?, 'requested', 'd1', NULL, "
            "?, ?, NULL, NULL, '{}')",
            (origin, to_micros(tick_at), to_micros(tick_at), json.dumps(run_ids)),
        )
    for origin, enabled, cursor in STATES:
        conn.execute(
            "INSERT INTO automation_state VALUES (?, ?, ?, ?, ?)",
            (origin, enabled, cursor, to_micros(T0), to_micros(T0)),
        )
    conn.execute("INSERT INTO run_keys VALUES ('sensor:inbox', 'file-a', 'r-south', ?)", (0,))
    for asset, pkey, partition, run_id in DECISIONS:
        conn.execute(
            "INSERT INTO automation_decisions VALUES (?, ?, ?, ?, 'on_missing()', ?, 'why', ?)",
            (asset, pkey, partition, to_micros(T0), int(run_id is not None), run_id),
        )
    conn.execute("DELETE FROM schema_version WHERE version > 8")


async def rewind_postgres(conn: asyncpg.Connection) -> None:
    for table in TABLES:
        await conn.execute(f"DROP TABLE flowstone.{table}")
    for statement in _legacy_statements(POSTGRES_V5):
        await conn.execute(statement.format(s="flowstone"))
    for origin, tick_at, run_ids in TICKS:
        await conn.execute(
            "INSERT INTO flowstone.automation_ticks (origin, tick_at, status, owner, "
            "lease_until, updated_at, run_ids, cursor, error, info) VALUES ($1, $2, "
            "'requested', 'd1', NULL, $2, $3, NULL, NULL, '{}')",
            origin, tick_at, json.dumps(run_ids),
        )  # fmt: skip
    for origin, enabled, cursor in STATES:
        await conn.execute(
            "INSERT INTO flowstone.automation_state VALUES ($1, $2, $3, $4, $4)",
            origin, enabled, cursor, T0,
        )  # fmt: skip
    await conn.execute(
        "INSERT INTO flowstone.run_keys VALUES ('sensor:inbox', 'file-a', 'r-south', $1)", T0
    )
    for asset, pkey, partition, run_id in DECISIONS:
        await conn.execute(
            "INSERT INTO flowstone.automation_decisions VALUES ($1, $2, $3, $4, "
            "'on_missing()', $5, 'why', $6)",
            asset, pkey, partition, T0, int(run_id is not None), run_id,
        )  # fmt: skip
    await conn.execute("DELETE FROM flowstone.schema_version WHERE version > 8")


async def open_migrated(url: str) -> tuple[Storage, AutomationStore]:
    storage = open_storage(url)
    await storage.open()
    store = open_automation_store(storage)
    await store.open()
    return storage, store


async def test_rows_are_adopted_by_the_pipeline_their_runs_origin_or_asset_name(
    store_url: str, storage: Storage
) -> None:
    await storage.close()  # the fixture migrated and emptied the store
    await legacy_store(store_url, ("north", "south"))
    storage, store = await open_migrated(store_url)
    try:
        assert await storage.schema_version() >= 9
        assert [t.origin for t in await store.ticks("north", limit=100)] == [
            "schedule:nightly", "automation:north", "schedule:nightly",
        ]  # fmt: skip
        assert [t.origin for t in await store.ticks("south", limit=100)] == ["sensor:inbox"]
        assert [t.origin for t in await store.ticks("", limit=100)] == ["sensor:orphan"]

        ((north_state,),) = [await store.states("north", ["schedule:nightly"], T1)]
        assert not north_state.enabled  # switched off before: stays off
        ((inbox,),) = [await store.states("south", ["sensor:inbox"], T1)]
        assert inbox.cursor == "c7"
        assert await store.run_keys("south", "sensor:inbox") == {"file-a": "r-south"}
        assert await store.run_keys("north", "sensor:inbox") == {}
        # The orphan's state stays under "": for each pipeline it starts anew.
        ((orphan,),) = [await store.states("north", ["sensor:orphan"], T1)]
        assert (orphan.enabled, orphan.cursor, orphan.since) == (True, None, T1)

        (follower,) = await store.decisions("north", "follower")
        assert follower.run_id == "r-north"
        (clean,) = await store.decisions("south", "clean", "2025-01-01")
        assert clean.partition == "2025-01-01"
        assert await store.decisions("north", "mystery") == []
        assert len(await store.decisions("", "mystery")) == 1
    finally:
        await store.close()
        await storage.close()


async def test_in_a_store_of_one_pipeline_every_row_is_that_pipelines(
    store_url: str, storage: Storage
) -> None:
    await storage.close()
    await legacy_store(store_url, ("north",))
    storage, store = await open_migrated(store_url)
    try:
        assert len(await store.ticks("north", limit=100)) == len(TICKS)
        assert await store.ticks("", limit=100) == []
        inbox, orphan = await store.states("north", ["sensor:orphan", "sensor:inbox"], T1)
        assert (inbox.origin, inbox.cursor) == ("sensor:inbox", "c7")
        assert (orphan.enabled, orphan.cursor) == (False, "c1")
        assert await store.run_keys("north", "sensor:inbox") == {"file-a": "r-south"}
        assert len(await store.decisions("north", "mystery")) == 1
    finally:
        await store.close()
        await storage.close()
