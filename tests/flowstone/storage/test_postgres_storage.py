"""The PostgreSQL backend passes the storage contract, migrates safely when several
processes start at once, and survives lost connections."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from flowstone.errors import StorageError
from flowstone.storage import PostgresStorage
from flowstone.storage._migrations import LATEST_VERSION, MIGRATIONS
from flowstone.tenancy import RECORD_TABLES, record_store_tenant_columns_sql
from tests.flowstone.storage.contract import StorageContract, StorageFactory
from tests.flowstone.storage.records import (
    TENANT_INPUT_ROWS,
    TENANT_PARTITION_ROWS,
    batch,
    check_two_pipelines_after_migrating,
    ids,
    mat,
    run,
    tenant_batch,
    write_two_pipelines_unscoped,
)
from tests.pg import (
    clear_schema,
    database_fixture,
    set_accepting_connections,
    terminate_connections,
)

pytestmark = pytest.mark.postgres

pg_module_url = database_fixture(scope="module")
pg_url = database_fixture()


class TestPostgresStorage(StorageContract):
    @pytest.fixture
    def make_storage(self, pg_module_url: str) -> StorageFactory:
        # One database for the module, emptied before each test: isolation without paying
        # for a database (or a migrated schema) per test. Fresh migrations are covered by
        # the tests below, which each get a database of their own.
        clear_schema(pg_module_url, "contract", keep=("schema_version",))
        return lambda: PostgresStorage(pg_module_url, schema="contract")


class Sleeps:
    """Records the backoff delays instead of waiting them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def test_two_processes_opening_at_once_migrate_exactly_once(pg_url: str) -> None:
    first, second = PostgresStorage(pg_url), PostgresStorage(pg_url)
    try:
        await asyncio.gather(first.open(), second.open())
        assert await first.schema_version() == await second.schema_version() == LATEST_VERSION
    finally:
        await first.close()
        await second.close()
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch("SELECT version FROM flowstone.schema_version ORDER BY version")
    finally:
        await conn.close()
    assert [r["version"] for r in rows] == [m.version for m in MIGRATIONS]


async def test_the_tables_live_in_their_own_schema_beside_user_tables(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("CREATE TABLE public.runs (anything text)")
    finally:
        await conn.close()
    async with PostgresStorage(pg_url) as storage:
        await storage.write(batch(run("r1")))
        assert await storage.get_run("r1") == run("r1")


async def test_the_next_write_succeeds_after_every_connection_was_dropped(pg_url: str) -> None:
    sleeps = Sleeps()
    async with PostgresStorage(pg_url, sleep=sleeps) as storage:
        await storage.write(batch(run("r1"), mat("raw", "a")))
        assert await terminate_connections(pg_url) >= 1
        await storage.write(batch(mat("raw", "b")))
        assert ids(await storage.materializations()) == ["r1/raw/b/1", "r1/raw/a/1"]
        assert sleeps.delays in ([], [0.0])  # at most one immediate retry was needed


async def test_a_write_that_keeps_failing_raises_and_the_same_batch_succeeds_later(
    pg_url: str,
) -> None:
    sleeps = Sleeps()
    storage = PostgresStorage(pg_url, retry_delays=(0.0, 0.5, 1.0), sleep=sleeps)
    await storage.open()
    try:
        replay = batch(run("r1"), mat("raw", "a"), mat("clean", "a", inputs=[("raw", "a")]))
        await set_accepting_connections(pg_url, False)
        await terminate_connections(pg_url)
        with pytest.raises(StorageError) as failure:
            await storage.write(replay)
        message = str(failure.value)
        assert message.startswith(f"cannot reach PostgreSQL at {storage.url} (write): 4 attempt")
        assert "is not currently accepting connections" in message
        assert sleeps.delays == [0.0, 0.5, 1.0]
        await set_accepting_connections(pg_url, True)
        await storage.write(replay)
        await storage.write(replay)
        assert ids(await storage.materializations()) == ["r1/raw/a/1", "r1/clean/a/1"]
    finally:
        await set_accepting_connections(pg_url, True)
        await storage.close()


async def test_an_unreachable_server_names_the_url_without_its_password() -> None:
    sleeps = Sleeps()
    storage = PostgresStorage(
        "postgresql://alice:s3cret@127.0.0.1:1/flowstone", retry_delays=(0.0, 0.1), sleep=sleeps
    )
    with pytest.raises(StorageError) as failure:
        await storage.open()
    message = str(failure.value)
    assert "s3cret" not in message
    assert message.startswith(
        "cannot reach PostgreSQL at postgresql://alice:***@127.0.0.1:1/flowstone (connect): "
        "3 attempt(s) over 0.1 s of backoff all failed; last error: "
    )
    assert "Check that the server is running" in message
    assert sleeps.delays == [0.0, 0.1]


async def test_wrong_credentials_or_database_fail_at_once(pg_url: str) -> None:
    sleeps = Sleeps()
    missing = pg_url.rsplit("/", 1)[0] + "/fs_test_does_not_exist"
    with pytest.raises(StorageError, match=r"does not exist"):
        await PostgresStorage(missing, sleep=sleeps).open()
    assert sleeps.delays == []


async def test_the_pool_stays_small_under_many_concurrent_reads(pg_url: str) -> None:
    async with PostgresStorage(pg_url, max_size=3) as storage:
        await storage.write(batch(mat("raw", "a")))
        await asyncio.gather(*(storage.upstream("raw", "a") for _ in range(40)))
        conn = await asyncpg.connect(pg_url)
        try:
            count = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'flowstone'"
            )
        finally:
            await conn.close()
    assert 1 <= count <= 3


async def flowstone_backends(url: str) -> list[tuple[int, str]]:
    """The store's connections to the database of ``url``: (pid, last statement)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid, query FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'flowstone'"
        )
    finally:
        await conn.close()
    return [(row["pid"], row["query"]) for row in rows]


async def test_writes_keep_a_connection_of_their_own_within_max_size(pg_url: str) -> None:
    async with PostgresStorage(pg_url, max_size=2) as storage:
        for name in ("a", "b", "c"):
            await storage.write(batch(mat("raw", name)))
            assert [r.id for r in await storage.materializations(limit=1)] == [f"r1/raw/{name}/1"]
        backends = await flowstone_backends(pg_url)
    writers = [pid for pid, query in backends if "write_batch" in query]
    assert len(writers) == 1  # every write went over the same connection, no read did
    assert len(backends) == 2


async def test_writes_at_once_share_the_pool_when_the_writers_connection_is_busy(
    pg_url: str,
) -> None:
    async with PostgresStorage(pg_url, max_size=3) as storage:
        records = [mat("raw", f"p{n}") for n in range(20)]
        await asyncio.gather(*(storage.write(batch(record)) for record in records))
        assert len(await storage.materializations()) == 20
        writers = [pid for pid, query in await flowstone_backends(pg_url) if "write_batch" in query]
    assert 2 <= len(writers) <= 3


async def test_a_write_cancelled_midway_leaves_the_next_write_a_fresh_connection(
    pg_url: str,
) -> None:
    async with PostgresStorage(pg_url) as storage:
        await storage.write(batch(mat("raw", "a")))
        (first,) = [pid for pid, q in await flowstone_backends(pg_url) if "write_batch" in q]
        task = asyncio.ensure_future(storage.write(batch(mat("raw", "b"))))
        await asyncio.sleep(0)  # the statement is on its way
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await storage.write(batch(mat("raw", "c")))
        writers = [pid for pid, q in await flowstone_backends(pg_url) if "write_batch" in q]
        assert first not in writers
        assert len(writers) == 1
        assert {r.id for r in await storage.materializations()} >= {"r1/raw/a/1", "r1/raw/c/1"}


async def test_a_database_from_a_newer_flowstone_is_refused(pg_url: str) -> None:
    async with PostgresStorage(pg_url):
        pass
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("INSERT INTO flowstone.schema_version VALUES (999, 'future')")
    finally:
        await conn.close()
    with pytest.raises(StorageError, match=r"schema version 999, but this FlowStone knows"):
        await PostgresStorage(pg_url).open()


async def test_planner_statistics_are_refreshed_once_a_thousand_records_were_written(
    pg_url: str,
) -> None:
    async with PostgresStorage(pg_url) as storage:
        await storage.write(batch(*(mat("raw", f"p{i:04}") for i in range(1000))))
        await storage._statistics.wait()
        conn = await asyncpg.connect(pg_url)
        try:
            analyzed = await conn.fetch(
                "SELECT relname FROM pg_stat_user_tables "
                "WHERE schemaname = 'flowstone' AND last_analyze IS NOT NULL ORDER BY relname"
            )
        finally:
            await conn.close()
    assert [r["relname"] for r in analyzed] == [
        "asset_partitions",
        "materialization_inputs",
        "materializations",
        "runs",
    ]


def test_a_schema_name_must_be_a_plain_identifier() -> None:
    with pytest.raises(StorageError, match=r"schema name 'x; drop' is not a plain SQL identifier"):
        PostgresStorage("postgresql://localhost/db", schema="x; drop")


async def test_inputs_and_partition_rows_carry_the_tenant_of_their_record(pg_url: str) -> None:
    async with PostgresStorage(pg_url) as storage:
        await storage.write(tenant_batch())
    conn = await asyncpg.connect(pg_url)
    try:
        inputs = await conn.fetch(
            "SELECT materialization_id, tenant FROM flowstone.materialization_inputs"
        )
        partitions = await conn.fetch(
            "SELECT asset, tenant FROM flowstone.asset_partitions ORDER BY asset"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in inputs] == TENANT_INPUT_ROWS
    assert [tuple(r) for r in partitions] == TENANT_PARTITION_ROWS


async def test_a_store_of_schema_version_1_gains_tenant_columns_and_keeps_its_records(
    pg_url: str,
) -> None:
    async with PostgresStorage(pg_url) as storage:
        await storage.write(batch(run("r1"), mat("orders", "a", inputs=[("rates", None)])))
    conn = await asyncpg.connect(pg_url)  # take the store back to version 1
    try:
        for table in RECORD_TABLES:
            await conn.execute(f"ALTER TABLE flowstone.{table} DROP COLUMN tenant")
        await conn.execute("DELETE FROM flowstone.schema_version WHERE version > 1")
        # Columns added by hand before the migration existed do not stop it.
        for statement in record_store_tenant_columns_sql("flowstone"):
            await conn.execute(statement)
    finally:
        await conn.close()

    # Version 3 gives the materialization the pipeline of its run.
    async with PostgresStorage(pg_url, pipeline="analytics") as storage:
        assert await storage.schema_version() == LATEST_VERSION
        assert await storage.get_run("r1") == run("r1")
        assert await storage.materializations() == [mat("orders", "a", inputs=[("rates", None)])]
        await storage.write(batch(mat("orders", "b", tenant="acme")))
        assert (await storage.latest("orders", ["b"]))["b"].tenant == "acme"


async def test_a_store_of_schema_version_2_gives_each_record_the_pipeline_of_its_run(
    pg_url: str,
) -> None:
    await write_two_pipelines_unscoped(PostgresStorage(pg_url))
    conn = await asyncpg.connect(pg_url)  # take the store back to version 2
    try:
        for table in ("materializations", "asset_partitions"):
            await conn.execute(f"ALTER TABLE flowstone.{table} DROP COLUMN pipeline")
        await conn.execute("DROP INDEX flowstone.runs_by_pipeline")
        await conn.execute("DELETE FROM flowstone.schema_version WHERE version > 2")
    finally:
        await conn.close()
    await check_two_pipelines_after_migrating(PostgresStorage(pg_url))
