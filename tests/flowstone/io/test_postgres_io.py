"""PostgresIOManager against the real PostgreSQL server: one database per module, one
schema per test."""

from __future__ import annotations

import asyncio
import datetime as dt
import pickle
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pyarrow as pa
import pytest

import flowstone as fs
from flowstone.errors import ConfigurationError, IOManagerError
from flowstone.io import IOContext
from flowstone.io._postgres import PostgresIOManager
from flowstone.partitions import PartitionsDefinition
from tests.pg import database_fixture, terminate_connections

pytestmark = pytest.mark.postgres

pg_module_url = database_fixture(scope="module")

DAILY = fs.DailyPartitions(start="2024-01-01")
REGIONS = fs.StaticPartitions(["eu", "us"])
MULTI = fs.MultiPartitions({"region": REGIONS, "date": DAILY})


@pytest.fixture
def schema() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def manager(pg_module_url: str, schema: str) -> AsyncIterator[PostgresIOManager]:
    io = PostgresIOManager(pg_module_url, schema=schema, pool_max=3)
    yield io
    await io.aclose()


@pytest.fixture
async def conn(pg_module_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(pg_module_url)
    yield connection
    await connection.close()


def context(
    manager: PostgresIOManager,
    asset: str,
    key: Any = None,
    partitions: PartitionsDefinition | None = None,
    **io_options: Any,
) -> IOContext:
    """The context the engine would build for ``asset`` at ``key``."""
    canonical = None if partitions is None else partitions.validate(key)
    return IOContext(
        asset=asset,
        partition=canonical,
        partition_key=None if partitions is None else partitions.encode(canonical),
        run_id="run-1",
        io_options=io_options,
        options=manager.validate_options(io_options),
    )


async def count_by_partition(conn: asyncpg.Connection, table: str) -> dict[str, int]:
    rows = await conn.fetch(f"SELECT partition_key, count(*) FROM {table} GROUP BY 1")
    return {row[0]: row[1] for row in rows}


# -- values in, the same values out ---------------------------------------------------------


async def test_a_list_of_dicts_loads_back_as_the_same_list_of_dicts(
    manager: PostgresIOManager,
) -> None:
    rows = [
        {
            "id": 1,
            "name": "Ada",
            "score": 1.5,
            "price": Decimal("12.30"),
            "active": True,
            "born": dt.date(1815, 12, 10),
            "seen": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
            "local": dt.datetime(2024, 1, 2, 3, 4, 5),
            "at": dt.time(9, 30),
            "took": dt.timedelta(seconds=90),
            "ref": uuid.UUID(int=7),
            "blob": b"\x00\xff",
            "tags": {"langs": ["en", "fr"], "n": 2},
            "note": None,
        },
        {"id": 2, "name": "Grace", "score": 2, "note": None, "tags": [1, 2]},
    ]
    ctx = context(manager, "people", "2024-01-01", DAILY)

    await manager.store(ctx, rows)
    loaded = await manager.load(ctx)

    # Every row comes back with every column; keys a row lacked come back as None.
    assert loaded[0] == rows[0]
    assert loaded[1] == {**dict.fromkeys(rows[0]), **rows[1], "score": 2.0}
    assert isinstance(loaded[1]["score"], float)


async def test_a_pyarrow_table_loads_back_with_its_exact_schema(
    manager: PostgresIOManager,
) -> None:
    table = pa.table(
        {
            "i8": pa.array([1, None], pa.int8()),
            "i32": pa.array([2, 3], pa.int32()),
            "u64": pa.array([2**64 - 1, 0], pa.uint64()),
            "f16": pa.array([1.5, None], pa.float16()),
            "f64": pa.array([0.25, -1.0]),
            "flag": pa.array([True, False]),
            "text": pa.array(["a", "é"], pa.large_string()),
            "cat": pa.array(["x", "y"]).dictionary_encode(),
            "raw": pa.array([b"\x00", None], pa.binary()),
            "day": pa.array([dt.date(2024, 2, 29), None], pa.date32()),
            "ns": pa.array([1_000, 2_000], pa.timestamp("ns", tz="Europe/Oslo")),
            "naive": pa.array([dt.datetime(2024, 1, 1, 12), None], pa.timestamp("us")),
            "clock": pa.array([dt.time(1, 2, 3), None], pa.time64("us")),
            "dur": pa.array([dt.timedelta(seconds=3), None], pa.duration("s")),
            "money": pa.array([Decimal("1.25"), None], pa.decimal128(10, 2)),
            "nested": pa.array([{"a": 1, "b": ["x"]}, None]),
            "items": pa.array([[1, 2], []], pa.list_(pa.int64())),
            "nothing": pa.array([None, None], pa.null()),
        },
        metadata={"owner": "data-team"},
    )
    ctx = context(manager, "wide")

    meta = await manager.store(ctx, table)
    loaded = await manager.load(ctx)

    assert loaded.schema == table.schema
    assert loaded.schema.metadata[b"owner"] == b"data-team"
    assert loaded.equals(table)
    assert meta["kind"] == "pyarrow"
    types = {column["name"]: column["type"] for column in meta["columns"]}
    assert types["u64"] == "numeric(20,0)"
    assert types["ns"] == "timestamp with time zone"
    assert types["nested"] == "jsonb"


async def test_a_pandas_dataframe_loads_back_as_an_equal_dataframe(
    manager: PostgresIOManager,
) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(
        {
            "n": [1, 2, 3],
            "label": ["a", None, "c"],
            "when": pandas.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        }
    )
    ctx = context(manager, "frames", "eu", REGIONS)

    meta = await manager.store(ctx, frame)
    loaded = await manager.load(ctx)

    assert meta["kind"] == "pandas"
    assert isinstance(loaded, pandas.DataFrame)
    pandas.testing.assert_frame_equal(loaded, frame)


async def test_each_partition_loads_back_as_the_kind_stored_into_it(
    manager: PostgresIOManager,
) -> None:
    as_rows, as_table = (
        context(manager, "mixed", "eu", REGIONS),
        context(manager, "mixed", "us", REGIONS),
    )

    await manager.store(as_rows, [{"x": 1}])
    await manager.store(as_table, pa.table({"x": [2]}))

    assert await manager.load(as_rows) == [{"x": 1}]
    assert (await manager.load(as_table)).equals(pa.table({"x": [2]}))


# -- replace-partition semantics -------------------------------------------------------------


async def test_storing_a_partition_replaces_its_rows_and_no_others(
    manager: PostgresIOManager, conn: asyncpg.Connection, schema: str
) -> None:
    first, second = (context(manager, "sales", day, DAILY) for day in ("2024-01-01", "2024-01-02"))
    await manager.store(first, [{"amount": n} for n in range(5)])
    await manager.store(second, [{"amount": 100}])

    meta = await manager.store(first, [{"amount": 7}, {"amount": 8}])

    assert await count_by_partition(conn, f"{schema}.sales") == {"2024-01-01": 2, "2024-01-02": 1}
    assert await manager.load(first) == [{"amount": 7}, {"amount": 8}]
    assert meta == {
        "table": f"{schema}.sales",
        "rows": 2,
        "partition_column": "partition_key",
        "partition_key": "2024-01-01",
        "kind": "rows",
        "columns": [{"name": "amount", "type": "bigint"}],
    }


async def test_a_store_that_fails_midway_leaves_the_previous_rows(
    manager: PostgresIOManager,
) -> None:
    ctx = context(manager, "notes", "2024-01-01", DAILY)
    await manager.store(ctx, [{"text": "kept"}])

    # PostgreSQL text cannot hold NUL: the insert fails after the DELETE, in one transaction.
    with pytest.raises(IOManagerError, match=r"^cannot store asset 'notes' partition '2024-01-01'"):
        await manager.store(ctx, [{"text": "new"}, {"text": "bad\x00"}])

    assert await manager.load(ctx) == [{"text": "kept"}]


async def test_an_unpartitioned_asset_replaces_the_whole_table(
    manager: PostgresIOManager, conn: asyncpg.Connection, schema: str
) -> None:
    ctx = context(manager, "dimension")
    await manager.store(ctx, [{"k": "a"}, {"k": "b"}, {"k": "c"}])

    meta = await manager.store(ctx, [{"k": "z"}])

    assert await conn.fetch(f"SELECT k FROM {schema}.dimension") == [("z",)]
    assert meta["partition_column"] is None
    assert await manager.load(ctx) == [{"k": "z"}]


async def test_rows_keep_their_order(manager: PostgresIOManager) -> None:
    ctx = context(manager, "ordered")
    rows = [{"n": n} for n in (5, 3, 9, 1, 7)] * 200

    await manager.store(ctx, rows)

    assert await manager.load(ctx) == rows


async def test_concurrent_stores_of_one_partition_never_mix_rows(
    manager: PostgresIOManager, conn: asyncpg.Connection, schema: str
) -> None:
    ctx = context(manager, "racing", "2024-01-01", DAILY)
    await manager.store(ctx, [{"writer": "first"}])

    values = [[{"writer": f"w{i}"}] * (i + 1) for i in range(6)]
    await asyncio.gather(*(manager.store(ctx, value) for value in values))

    loaded = await manager.load(ctx)
    assert loaded in values  # one writer's rows, whole: never two sets interleaved
    assert await count_by_partition(conn, f"{schema}.racing") == {"2024-01-01": len(loaded)}


async def test_multi_partition_keys_are_stored_in_the_encoded_key_column(
    manager: PostgresIOManager, conn: asyncpg.Connection, schema: str
) -> None:
    eu = context(manager, "regional", {"region": "eu", "date": "2024-01-01"}, MULTI)
    us = context(manager, "regional", {"region": "us", "date": "2024-01-01"}, MULTI)

    await manager.store(eu, [{"v": 1}])
    await manager.store(us, [{"v": 2}, {"v": 3}])

    assert await count_by_partition(conn, f"{schema}.regional") == {
        "region=eu|date=2024-01-01": 1,
        "region=us|date=2024-01-01": 2,
    }
    assert await manager.load(us) == [{"v": 2}, {"v": 3}]


# -- exists, delete, missing values ----------------------------------------------------------


async def test_exists_and_delete_act_on_one_partition(manager: PostgresIOManager) -> None:
    kept, dropped = (context(manager, "events", day, DAILY) for day in ("2024-01-01", "2024-01-02"))
    assert not await manager.exists(kept)  # nothing at all yet: no tables
    await manager.delete(kept)  # and deleting nothing is quiet

    await manager.store(kept, [{"e": 1}])
    await manager.store(dropped, [])  # an empty value is stored too
    assert await manager.exists(dropped)
    assert await manager.load(dropped) == []

    await manager.delete(dropped)

    assert not await manager.exists(dropped)
    assert await manager.exists(kept)
    assert await manager.load(kept) == [{"e": 1}]


async def test_an_empty_table_keeps_its_columns(manager: PostgresIOManager) -> None:
    ctx = context(manager, "empty")
    empty = pa.table({"a": pa.array([], pa.int16()), "b": pa.array([], pa.string())})

    await manager.store(ctx, empty)

    assert (await manager.load(ctx)).equals(empty)


async def test_loading_a_partition_never_stored_says_what_is_missing(
    manager: PostgresIOManager, schema: str
) -> None:
    await manager.store(context(manager, "daily", "2024-01-01", DAILY), [{"x": 1}])

    with pytest.raises(IOManagerError) as raised:
        await manager.load(context(manager, "daily", "2024-01-02", DAILY))

    assert str(raised.value) == (
        f"cannot load partition '2024-01-02' of asset 'daily': nothing stored in "
        f"{schema}.daily (it was never materialized, or it was deleted); materialize it first"
    )
    assert raised.value.asset == "daily"


# -- tables: options, creation, compatibility ------------------------------------------------


async def test_io_options_choose_the_schema_table_and_partition_column(
    manager: PostgresIOManager, conn: asyncpg.Connection, schema: str
) -> None:
    qualified = context(manager, "a", "eu", REGIONS, table=f"{schema}_x.orders")
    separate = context(manager, "b", "eu", REGIONS, table="items", schema=f"{schema}_y")
    column = context(manager, "c", "eu", REGIONS, partition_column="region_key")

    assert (await manager.store(qualified, [{"n": 1}]))["table"] == f"{schema}_x.orders"
    assert (await manager.store(separate, [{"n": 2}]))["table"] == f"{schema}_y.items"
    await manager.store(column, [{"n": 3}])

    assert await conn.fetchval(f"SELECT n FROM {schema}_x.orders") == 1
    assert await conn.fetchval(f"SELECT n FROM {schema}_y.items") == 2
    assert await conn.fetchval(f"SELECT region_key FROM {schema}.c") == "eu"


async def test_conflicting_or_unknown_io_options_are_refused(manager: PostgresIOManager) -> None:
    with pytest.raises(ValueError, match="names schema 'a' but schema is 'b'; give the schema"):
        manager.validate_options({"table": "a.t", "schema": "b"})
    with pytest.raises(ValueError, match="path"):
        manager.validate_options({"path": "x"})
    with pytest.raises(ConfigurationError, match="is the manager's tenant column"):
        manager.validate_options({"partition_column": "tenant"})


async def test_a_value_whose_columns_changed_is_refused_with_the_differences(
    manager: PostgresIOManager, schema: str
) -> None:
    first, later = (context(manager, "typed", day, DAILY) for day in ("2024-01-01", "2024-01-02"))
    await manager.store(first, pa.table({"a": [1], "b": ["x"]}))

    with pytest.raises(IOManagerError) as raised:
        await manager.store(later, pa.table({"a": ["one"], "c": [1.0]}))

    assert str(raised.value) == (
        f"cannot store asset 'typed' into {schema}.typed: the value does not match the table's "
        "columns: new column(s) 'c'; missing column(s) 'b'; 'a' is bigint in the table but "
        "text in the value. To go on, store a value with the table's columns, change the table "
        "(ALTER TABLE, or drop it to have it created again from the next value), or store into "
        "another table with io_options={'table': ...}"
    )
    assert await manager.load(first) == pa.table({"a": [1], "b": ["x"]})


async def test_rows_may_omit_columns_and_widen_ints_into_float_columns(
    manager: PostgresIOManager,
) -> None:
    first, later = (context(manager, "loose", day, DAILY) for day in ("2024-01-01", "2024-01-02"))
    await manager.store(first, [{"x": 0.5, "y": "a"}])

    await manager.store(later, [{"x": 2}])

    assert await manager.load(later) == [{"x": 2.0, "y": None}]


async def test_a_partitioned_asset_cannot_reuse_an_unpartitioned_table(
    manager: PostgresIOManager, schema: str
) -> None:
    await manager.store(context(manager, "whole"), [{"x": 1}])

    with pytest.raises(
        IOManagerError, match=r"created unpartitioned, but this value is partitioned"
    ):
        await manager.store(context(manager, "whole", "eu", REGIONS), [{"x": 1}])


async def test_a_table_flowstone_did_not_create_is_left_alone(
    manager: PostgresIOManager, conn: asyncpg.Connection, schema: str
) -> None:
    await conn.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.legacy (x int)")
    await conn.execute(f"INSERT INTO {schema}.legacy VALUES (42)")

    with pytest.raises(IOManagerError, match="it exists but was not created by PostgresIOManager"):
        await manager.store(context(manager, "legacy"), [{"x": 1}])

    assert await conn.fetchval(f"SELECT x FROM {schema}.legacy") == 42


async def test_values_without_a_postgres_mapping_are_refused_clearly(
    manager: PostgresIOManager,
) -> None:
    ctx = context(manager, "odd")
    with pytest.raises(IOManagerError, match=r"expected a pyarrow.Table, .* got builtins.dict"):
        await manager.store(ctx, {"x": 1})
    with pytest.raises(IOManagerError, match=r"column 'x' holds a set .* no PostgreSQL mapping"):
        await manager.store(ctx, [{"x": {1}}])
    with pytest.raises(IOManagerError, match=r"column 'x' mixes values of PostgreSQL types"):
        await manager.store(ctx, [{"x": 1}, {"x": "1"}])
    with pytest.raises(IOManagerError, match=r"column 'x' holds \d+, outside bigint's range"):
        await manager.store(ctx, [{"x": 2**70}])
    with pytest.raises(IOManagerError, match=r"would lose data"):
        await manager.store(ctx, pa.table({"t": pa.array([1], pa.timestamp("ns"))}))


# -- names and values cannot inject SQL ------------------------------------------------------

HOSTILE_NAMES = [
    'orders"; DROP TABLE victims; --',
    "orders; DROP TABLE victims",
    "a.b.c",
    "1orders",
    "x" * 64,
    "",
    "naïve",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_hostile_table_and_schema_names_are_refused(
    manager: PostgresIOManager, name: str
) -> None:
    for options in ({"table": name}, {"schema": name}):
        with pytest.raises(ValueError, match=r"is not a plain SQL identifier|more than one '\.'"):
            manager.validate_options(options)
    with pytest.raises(ConfigurationError, match="is not a plain SQL identifier"):
        PostgresIOManager("postgresql://localhost/db", schema=name)


async def test_hostile_asset_names_and_column_names_are_refused_and_change_nothing(
    manager: PostgresIOManager, conn: asyncpg.Connection, schema: str
) -> None:
    await manager.store(context(manager, "victims"), [{"x": 1}])

    with pytest.raises(IOManagerError, match=r"asset 'v; DROP TABLE victims' needs a table name"):
        await manager.store(context(manager, "v; DROP TABLE victims"), [{"x": 1}])
    for column in ['x" text); DROP TABLE victims; --', "x y", "x" * 64]:
        with pytest.raises(IOManagerError, match=r"column .* is not a plain SQL identifier"):
            await manager.store(context(manager, "other"), [{column: 1}])

    assert await conn.fetchval(f"SELECT count(*) FROM {schema}.victims") == 1
    tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
    assert sorted(t[0] for t in tables) == ["flowstone_io_partitions", "victims"]


async def test_hostile_partition_values_are_stored_literally(
    manager: PostgresIOManager, conn: asyncpg.Connection, schema: str
) -> None:
    keys = ["'; DROP TABLE victims; --", 'x" OR 1=1 --', "$1", "a\\b"]
    partitions = fs.StaticPartitions(keys)
    await manager.store(context(manager, "victims"), [{"x": 1}])

    for n, key in enumerate(keys):
        await manager.store(context(manager, "literal", key, partitions), [{"n": n, "key": key}])

    for n, key in enumerate(keys):
        assert await manager.load(context(manager, "literal", key, partitions)) == [
            {"n": n, "key": key}
        ]
    assert await count_by_partition(conn, f"{schema}.literal") == dict.fromkeys(keys, 1)
    assert await conn.fetchval(f"SELECT count(*) FROM {schema}.victims") == 1


async def test_value_columns_named_like_flowstones_own_are_refused(
    manager: PostgresIOManager,
) -> None:
    with pytest.raises(IOManagerError, match=r"'partition_key' holds the partition key"):
        await manager.store(context(manager, "clash", "eu", REGIONS), [{"partition_key": 1}])
    with pytest.raises(IOManagerError, match=r"'flowstone_row' holds each row's position"):
        await manager.store(context(manager, "clash"), [{"flowstone_row": 1}])
    with pytest.raises(IOManagerError, match=r"FlowStone's bookkeeping table"):
        await manager.store(context(manager, "flowstone_io_partitions"), [{"x": 1}])


# -- lifecycle -------------------------------------------------------------------------------


async def test_a_pickled_manager_opens_its_own_pool(manager: PostgresIOManager) -> None:
    ctx = context(manager, "shared")
    await manager.store(ctx, [{"x": 1}])

    copy = pickle.loads(pickle.dumps(manager))
    try:
        assert await copy.load(ctx) == [{"x": 1}]
    finally:
        await copy.aclose()


async def test_a_connection_the_server_dropped_is_replaced_without_failing(
    manager: PostgresIOManager, pg_module_url: str
) -> None:
    ctx = context(manager, "survivor", "2024-01-01", DAILY)
    await manager.store(ctx, [{"x": 1}])

    assert await terminate_connections(pg_module_url) >= 1  # as a server restart would

    await manager.store(ctx, [{"x": 2}])
    assert await manager.load(ctx) == [{"x": 2}]


async def test_an_unreachable_server_is_named_without_its_password() -> None:
    io = PostgresIOManager("postgresql://app:s3cret@127.0.0.1:1/db", connect_timeout=2)
    ctx = IOContext(asset="x", partition=None, partition_key=None, run_id="r")
    try:
        with pytest.raises(
            IOManagerError,
            match=r"cannot reach PostgreSQL at postgresql://app:\*\*\*@127.0.0.1:1/db",
        ) as raised:
            await io.exists(ctx)
        assert "s3cret" not in str(raised.value)
    finally:
        await io.aclose()


def test_a_runtime_stores_and_loads_assets_through_the_manager(
    pg_module_url: str, schema: str, tmp_path: Any
) -> None:
    pipeline = fs.Pipeline("pg_io")

    @pipeline.asset(io_manager="pg", partitioned_by=DAILY)
    def orders(context: Any) -> list[dict[str, Any]]:
        return [{"day": context.partition, "amount": n} for n in (10, 20)]

    @pipeline.asset(io_manager="pg", partitioned_by=DAILY, depends_on=["orders"])
    def totals(context: Any, orders: list[dict[str, Any]]) -> pa.Table:
        return pa.table({"total": [sum(row["amount"] for row in orders)]})

    io = PostgresIOManager(pg_module_url, schema=schema)
    with fs.Runtime(pipeline, storage="memory", base_dir=tmp_path, io_managers={"pg": io}) as rt:
        result = rt.materialize_all("totals", partition="2024-01-03")

    assert result.success
    (mat,) = [m for m in result.materializations if m.asset == "totals"]
    assert mat.metadata["table"] == f"{schema}.totals"
    assert mat.metadata["rows"] == 1
