"""The embedded SQLite backend passes the storage contract, and keeps its promises about
durability and the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from flowstone.errors import StorageError
from flowstone.storage import MaterializationRecord, SQLiteStorage, WriteBatch, open_storage
from flowstone.storage._migrations import MIGRATIONS
from tests.flowstone.storage.contract import StorageContract, StorageFactory
from tests.flowstone.storage.records import (
    TENANT_INPUT_ROWS,
    TENANT_PARTITION_ROWS,
    at,
    batch,
    check_two_pipelines_after_migrating,
    ids,
    mat,
    run,
    tenant_batch,
    write_two_pipelines_unscoped,
)

ROOT = Path(__file__).resolve().parents[3]


class TestSQLiteStorage(StorageContract):
    @pytest.fixture
    def make_storage(self, tmp_path: Path) -> StorageFactory:
        return lambda: SQLiteStorage(tmp_path / "records" / "flowstone.db")


async def test_records_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "flowstone.db"
    async with SQLiteStorage(path) as storage:
        await storage.write(batch(run("r1"), mat("raw", "a")))
    async with SQLiteStorage(path) as storage:
        assert ids(await storage.materializations()) == ["r1/raw/a/1"]
        assert await storage.latest_statuses("raw") == {"a": "succeeded"}


def test_a_write_that_returned_survives_kill_9(tmp_path: Path) -> None:
    """A child process writes, reports that write() returned, and is killed with SIGKILL."""
    path = tmp_path / "flowstone.db"
    child = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.path.insert(0, {str(ROOT)!r})
        from flowstone.storage import SQLiteStorage
        from tests.flowstone.storage.records import batch, mat, run

        async def main():
            storage = SQLiteStorage({str(path)!r})
            await storage.open()
            await storage.write(batch(run("r1"), mat("raw", "a"), mat("raw", "b")))
            print("written", flush=True)
            sys.stdin.readline()  # wait to be killed

        asyncio.run(main())
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "written"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id FROM materializations ORDER BY id").fetchall()
        assert rows == [("r1/raw/a/1",), ("r1/raw/b/1",)]
    finally:
        conn.close()


async def test_two_stores_opening_one_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    first, second = (SQLiteStorage(tmp_path / "flowstone.db") for _ in range(2))
    try:
        await asyncio.gather(first.open(), second.open())
        await first.write(batch(mat("raw", "a")))
        assert ids(await second.materializations()) == ["r1/raw/a/1"]
    finally:
        await first.close()
        await second.close()
    conn = sqlite3.connect(tmp_path / "flowstone.db")
    try:
        versions = conn.execute("SELECT version FROM schema_version").fetchall()
    finally:
        conn.close()
    assert versions == [(m.version,) for m in MIGRATIONS]


async def test_the_database_runs_in_wal_mode_with_normal_sync_by_default(tmp_path: Path) -> None:
    async with SQLiteStorage(tmp_path / "flowstone.db") as storage:
        await storage.write(batch(mat("raw")))
        conn = storage._connections[0]  # the writer's connection, made first
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL


async def test_synchronous_full_is_chosen_in_the_url(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/fs.db?synchronous=full")
    async with storage:
        await storage.write(batch(mat("raw")))
        conn = storage._connections[0]  # type: ignore[attr-defined]
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    assert storage.url.endswith("fs.db?synchronous=full")


def test_an_unknown_sqlite_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"unknown option\(s\) \['journal'\]"):
        open_storage(f"sqlite:///{tmp_path}/fs.db?journal=off")


async def test_sqlite_never_runs_on_the_event_loop_thread(tmp_path: Path) -> None:
    async with SQLiteStorage(tmp_path / "flowstone.db", readers=1) as storage:
        await storage.write(batch(mat("raw")))
        await storage.materializations()  # makes the reader connection
        threads: set[str] = set()
        for conn in storage._connections:
            conn.set_trace_callback(lambda _sql: threads.add(threading.current_thread().name))
        await storage.write(batch(mat("clean", inputs=[("raw", None)])))
        await storage.upstream("clean", None)
        assert threads
        assert all(name.startswith("flowstone-sqlite-") for name in threads), threads
        assert {name.split("_")[0] for name in threads} == {
            "flowstone-sqlite-writer",
            "flowstone-sqlite-reader",
        }


async def test_a_database_from_a_newer_flowstone_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flowstone.db"
    async with SQLiteStorage(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (999, 'future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match=r"schema version 999, but this FlowStone knows"):
        await SQLiteStorage(path).open()


async def test_a_path_that_cannot_be_created_gives_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match=r"cannot create the directory of sqlite:///"):
        await SQLiteStorage(blocker / "sub" / "flowstone.db").open()


async def test_using_a_storage_that_is_not_open_says_so(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "flowstone.db")
    with pytest.raises(StorageError, match=r"is not open; call `await storage.open\(\)` first"):
        await storage.get_run("r1")


async def test_inputs_and_partition_rows_carry_the_tenant_of_their_record(
    tmp_path: Path,
) -> None:
    path = tmp_path / "flowstone.db"
    async with SQLiteStorage(path) as storage:
        await storage.write(tenant_batch())
    conn = sqlite3.connect(path)
    try:
        inputs = conn.execute("SELECT materialization_id, tenant FROM materialization_inputs")
        assert inputs.fetchall() == TENANT_INPUT_ROWS
        partitions = conn.execute("SELECT asset, tenant FROM asset_partitions ORDER BY asset")
        assert partitions.fetchall() == TENANT_PARTITION_ROWS
    finally:
        conn.close()


async def test_a_store_of_schema_version_1_gains_tenant_columns_and_keeps_its_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "flowstone.db"
    async with SQLiteStorage(path) as storage:
        await storage.write(batch(run("r1"), mat("orders", "a", inputs=[("rates", None)])))
    conn = sqlite3.connect(path)  # take the file back to version 1
    rewind_to_version_2(conn)
    for table in ("runs", "materializations", "materialization_inputs", "asset_partitions"):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN tenant")
    conn.execute("DELETE FROM schema_version WHERE version > 1")
    conn.commit()
    conn.close()

    # Version 3 gives the materialization the pipeline of its run.
    async with SQLiteStorage(path, pipeline="analytics") as storage:
        assert await storage.schema_version() == MIGRATIONS[-1].version
        assert await storage.get_run("r1") == run("r1")
        assert await storage.materializations() == [mat("orders", "a", inputs=[("rates", None)])]
        await storage.write(batch(mat("orders", "b", tenant="acme")))
        assert (await storage.latest("orders", ["b"]))["b"].tenant == "acme"


def rewind_to_version_2(conn: sqlite3.Connection) -> None:
    """Undo migration 3 (per-pipeline materializations) on a SQLite file."""
    for index in ("mat_by_key", "mat_succeeded_by_key", "mat_by_asset", "mat_by_time"):
        conn.execute(f"DROP INDEX {index}")
    conn.execute("DROP INDEX runs_by_pipeline")
    conn.execute("ALTER TABLE materializations DROP COLUMN pipeline")
    conn.execute("DROP TABLE asset_partitions")
    (v1,) = (m for m in MIGRATIONS if m.version == 1)
    for statement in v1.sqlite:
        head = statement.split("(")[0]
        if "asset_partitions" in head or any(i in head for i in ("key", "asset ", "time")):
            conn.execute(statement)
    conn.execute("ALTER TABLE asset_partitions ADD COLUMN tenant TEXT")
    conn.execute("DELETE FROM schema_version WHERE version > 2")


async def test_a_store_of_schema_version_2_gives_each_record_the_pipeline_of_its_run(
    tmp_path: Path,
) -> None:
    path = tmp_path / "flowstone.db"
    await write_two_pipelines_unscoped(SQLiteStorage(path))
    conn = sqlite3.connect(path)
    rewind_to_version_2(conn)
    conn.commit()
    conn.close()
    await check_two_pipelines_after_migrating(SQLiteStorage(path))


async def test_partition_pointers_stay_those_of_a_recomputation_over_random_writes(
    tmp_path: Path,
) -> None:
    # New records move a key's pointers forward from its row alone; replaced and moved
    # records recompute it. Either way the row must be, after every write, what a
    # recomputation gives: the newest record (by finish, then id) and the newest succeeded
    # one, ties included.
    chooser = random.Random(17)
    path = tmp_path / "flowstone.db"
    written: dict[str, MaterializationRecord] = {}
    async with SQLiteStorage(path) as storage:
        conn = sqlite3.connect(path)
        try:
            for step in range(150):
                records: list[MaterializationRecord] = []
                for _ in range(chooser.choice([1, 1, 2, 3, 5])):
                    if written and chooser.random() < 0.2:
                        old = chooser.choice(list(written.values()))  # replaced, maybe moved
                        record = dataclasses.replace(
                            old,
                            partition=chooser.choice([old.partition, "a", "b", None]),
                            status=chooser.choice(["succeeded", "failed"]),
                            finished_at=at(chooser.randrange(3)),
                            tenant=chooser.choice([None, "t1"]),
                        )
                    else:
                        record = mat(
                            chooser.choice(["x", "y"]),
                            chooser.choice(["a", "b", None]),
                            run=f"r{chooser.randrange(1000):03d}",
                            attempt=step * 10 + len(records),
                            status=chooser.choice(["succeeded", "failed"]),
                            finished=chooser.randrange(3),
                            started=0,
                            tenant=chooser.choice([None, "t1"]),
                        )
                    records.append(record)
                    written[record.id] = record
                await storage.write(WriteBatch(materializations=tuple(records)))
                assert _pointer_rows(conn) == _recomputed_pointers(written.values()), step
        finally:
            conn.close()


def _pointer_rows(conn: sqlite3.Connection) -> dict[tuple[str, str | None], tuple[object, ...]]:
    rows = conn.execute(
        "SELECT asset, partition, latest_id, latest_status, tenant, succeeded_id "
        "FROM asset_partitions"
    ).fetchall()
    return {(asset, partition): tuple(rest) for asset, partition, *rest in rows}


def _recomputed_pointers(
    records: Iterable[MaterializationRecord],
) -> dict[tuple[str, str | None], tuple[object, ...]]:
    by_key: dict[tuple[str, str | None], list[MaterializationRecord]] = {}
    for record in records:
        by_key.setdefault((record.asset, record.partition), []).append(record)
    pointers: dict[tuple[str, str | None], tuple[object, ...]] = {}
    for key, at_key in by_key.items():
        newest = max(at_key, key=lambda r: (r.finished_at, r.id))
        succeeded = [r for r in at_key if r.status == "succeeded"]
        best = max(succeeded, key=lambda r: (r.finished_at, r.id)) if succeeded else None
        pointers[key] = (newest.id, newest.status, newest.tenant, best and best.id)
    return pointers
