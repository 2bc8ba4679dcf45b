"""ParquetIOManager on a local directory and on moto's S3 server over HTTP."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from flowstone.errors import IOManagerError
from flowstone.io._manager import IOContext
from flowstone.io._parquet import ParquetIOManager

DAY = dt.date(2025, 1, 15)
DAYS = [DAY + dt.timedelta(days=i) for i in range(3)]
TABLE = pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})


def ctx(
    manager: ParquetIOManager,
    partition: Any = None,
    io_options: Mapping[str, Any] | None = None,
    asset: str = "events",
) -> IOContext:
    """An IOContext as the runtime builds it: options validated by the manager."""
    options = dict(io_options or {})
    if partition is None:
        key = None
    elif isinstance(partition, Mapping):
        key = "|".join(f"{k}={_text(v)}" for k, v in partition.items())
    else:
        key = _text(partition)
    return IOContext(
        asset=asset,
        partition=partition,
        partition_key=key,
        run_id="run-1",
        io_options=options,
        options=manager.validate_options(options),
    )


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def day_table(day: dt.date) -> pa.Table:
    return pa.table({"id": [day.day, day.day + 100], "amount": [1.5, 2.5]})


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[ParquetIOManager]:
    manager = ParquetIOManager(tmp_path)
    yield manager
    await manager.aclose()


# -- layout and interoperability with plain pyarrow ------------------------------------------


async def test_a_table_is_written_as_a_hive_partition_that_plain_pyarrow_reads(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    await local.store(ctx(local, DAY), TABLE)

    path = tmp_path / "events" / "date=2025-01-15" / "part-0.parquet"
    assert pq.read_table(path).equals(TABLE)
    assert sorted(os.listdir(path.parent)) == ["part-0.parquet"]  # no temporary files left


async def test_the_materialization_metadata_records_location_rows_and_schema(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    metadata = await local.store(ctx(local, DAY), TABLE)

    path = tmp_path / "events" / "date=2025-01-15" / "part-0.parquet"
    assert metadata == {
        "path": str(path),
        "uri": path.as_uri(),
        "size": path.stat().st_size,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "format": "parquet",
        "compression": "snappy",
        "kind": "pyarrow",
        "rows": 3,
        "columns": 2,
        "schema": "id: int64\nname: string",
        "fields": [
            {"name": "id", "type": "int64", "nullable": True},
            {"name": "name", "type": "string", "nullable": True},
        ],
        "partition_columns": ["date"],
    }


async def test_an_unpartitioned_asset_is_one_file_in_its_directory(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    await local.store(ctx(local), TABLE)

    assert pq.read_table(tmp_path / "events" / "part-0.parquet").equals(TABLE)
    assert (await local.load(ctx(local))).equals(TABLE)


async def test_a_file_written_by_plain_pyarrow_is_loaded(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    folder = tmp_path / "events" / "date=2025-01-15"
    folder.mkdir(parents=True)
    pq.write_table(TABLE, folder / "data.parquet")

    assert (await local.load(ctx(local, DAY))).equals(TABLE)


async def test_a_dataset_written_by_pyarrow_write_to_dataset_loads_partition_by_partition(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    rows = pa.table({"date": ["2025-01-15", "2025-01-15", "2025-01-16"], "id": [1, 2, 3]})
    pq.write_to_dataset(rows, tmp_path / "events", partition_cols=["date"])

    loaded = await local.load(ctx(local, DAY))
    assert loaded.column("id").to_pylist() == [1, 2]


async def test_the_whole_layout_reads_as_one_hive_partitioned_pyarrow_dataset(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    for day in DAYS:
        await local.store(ctx(local, day), day_table(day))

    dataset = ds.dataset(tmp_path / "events", format="parquet", partitioning="hive")
    table = dataset.to_table().sort_by("id")
    assert table.column("id").to_pylist() == [15, 16, 17, 115, 116, 117]
    assert set(table.column("date").to_pylist()) == {d.isoformat() for d in DAYS}


async def test_storing_a_partition_again_replaces_every_file_in_it(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    folder = tmp_path / "events" / "date=2025-01-15"
    folder.mkdir(parents=True)
    pq.write_table(day_table(DAY), folder / "old-0.parquet")

    await local.store(ctx(local, DAY), TABLE)

    assert sorted(os.listdir(folder)) == ["part-0.parquet"]
    assert (await local.load(ctx(local, DAY))).equals(TABLE)


async def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary_file(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    await local.store(ctx(local, DAY), TABLE)
    union = pa.UnionArray.from_sparse(
        pa.array([0, 1], type=pa.int8()), [pa.array([1, 2]), pa.array(["a", "b"])]
    )

    with pytest.raises(
        IOManagerError,
        match=re.escape(
            f"cannot store asset 'events' partition '2025-01-15': writing Parquet to "
            f"{tmp_path / 'events' / 'date=2025-01-15'} failed (ArrowNotImplementedError: "
        ),
    ):
        await local.store(ctx(local, DAY), pa.table({"u": union}))

    assert sorted(os.listdir(tmp_path / "events" / "date=2025-01-15")) == ["part-0.parquet"]
    assert (await local.load(ctx(local, DAY))).equals(TABLE)


# -- partitions, options and ranges ----------------------------------------------------------


async def test_multi_partition_keys_get_one_directory_level_per_dimension(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    key = {"tenant": "acme/eu", "date": DAY}
    await local.store(ctx(local, key), TABLE)

    assert (
        tmp_path / "events" / "tenant=acme%2Feu" / "date=2025-01-15" / "part-0.parquet"
    ).is_file()
    dataset = ds.dataset(tmp_path / "events", format="parquet", partitioning="hive")
    assert set(dataset.to_table().column("tenant").to_pylist()) == {"acme/eu"}


async def test_the_partition_column_option_names_the_directory(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    options = {"partition_column": "day", "path": "lake/events_v2"}
    await local.store(ctx(local, DAY, options), TABLE)

    assert (tmp_path / "lake" / "events_v2" / "day=2025-01-15" / "part-0.parquet").is_file()
    assert (await local.load(ctx(local, DAY, options))).equals(TABLE)


async def test_compression_is_set_per_manager_and_per_asset(tmp_path: Path) -> None:
    manager = ParquetIOManager(tmp_path, compression="zstd", compression_level=5)
    await manager.store(ctx(manager, "eu"), TABLE)
    await manager.store(ctx(manager, "us", {"compression": "gzip"}), TABLE)

    def codec(path: Path) -> str:
        return str(pq.ParquetFile(path).metadata.row_group(0).column(0).compression)

    assert codec(tmp_path / "events" / "partition=eu" / "part-0.parquet") == "ZSTD"
    assert codec(tmp_path / "events" / "partition=us" / "part-0.parquet") == "GZIP"


async def test_a_range_of_partitions_loads_as_one_table_with_a_typed_partition_column(
    local: ParquetIOManager,
) -> None:
    for day in DAYS:
        await local.store(ctx(local, day), day_table(day))

    table = await local.load_partitions(ctx(local), DAYS)

    assert table.column_names == ["id", "amount", "date"]
    assert table.schema.field("date").type == pa.date32()
    assert table.column("date").to_pylist() == [DAYS[0]] * 2 + [DAYS[1]] * 2 + [DAYS[2]] * 2
    assert table.column("id").to_pylist() == [15, 115, 16, 116, 17, 117]


async def test_a_schema_change_between_partitions_is_reported_when_loading_a_range(
    local: ParquetIOManager,
) -> None:
    await local.store(ctx(local, DAYS[0]), day_table(DAYS[0]))
    await local.store(ctx(local, DAYS[1]), day_table(DAYS[1]))
    changed = pa.table({"id": [1.0], "amount": [1.0], "note": ["x"]})
    await local.store(ctx(local, DAYS[2]), changed)

    with pytest.raises(IOManagerError) as raised:
        await local.load_partitions(ctx(local), DAYS)
    assert str(raised.value) == (
        "cannot load asset 'events' partitions '2025-01-15'...'2025-01-17' as one table: the "
        "schema changed between partitions: partition '2025-01-17' differs from '2025-01-15': "
        "column 'id' is double (was int64), column 'note' was added. Rewrite the older "
        "partitions with the new schema (backfill with force=True), or pass "
        "unify_schemas=True to accept added columns and widened types"
    )


async def test_unify_schemas_accepts_added_columns_and_widened_types(
    local: ParquetIOManager,
) -> None:
    await local.store(ctx(local, DAYS[0]), pa.table({"id": pa.array([1], pa.int32())}))
    await local.store(ctx(local, DAYS[1]), pa.table({"id": [2], "note": ["x"]}))

    table = await local.load_partitions(ctx(local), DAYS[:2], unify_schemas=True)

    assert table.to_pydict() == {"id": [1, 2], "date": DAYS[:2], "note": [None, "x"]}


async def test_a_missing_partition_in_a_range_is_named(local: ParquetIOManager) -> None:
    await local.store(ctx(local, DAYS[0]), day_table(DAYS[0]))

    with pytest.raises(
        IOManagerError,
        match=re.escape("cannot load asset 'events' partition '2025-01-16': no Parquet files in "),
    ):
        await local.load_partitions(ctx(local), DAYS[:2])


# -- errors, exists and delete --------------------------------------------------------------


async def test_loading_a_partition_never_stored_says_it_was_probably_never_materialized(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    with pytest.raises(IOManagerError) as raised:
        await local.load(ctx(local, DAY))
    assert str(raised.value) == (
        "cannot load asset 'events' partition '2025-01-15': no Parquet files in "
        f"{tmp_path / 'events' / 'date=2025-01-15'}; it was probably never materialized, or "
        "it was deleted"
    )


def test_a_path_leaving_the_base_path_is_refused_when_options_are_validated(
    tmp_path: Path,
) -> None:
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "path '../elsewhere' must name a directory inside the base path (no '..'), "
            "e.g. 'lake/events'"
        ),
    ):
        ParquetIOManager(tmp_path).validate_options({"path": "../elsewhere"})


def test_a_partition_column_with_a_separator_is_refused_when_options_are_validated(
    tmp_path: Path,
) -> None:
    with pytest.raises(
        ValidationError, match=re.escape("partition_column 'a=b' must be a name without '/' or '='")
    ):
        ParquetIOManager(tmp_path).validate_options({"partition_column": "a=b"})


async def test_a_value_that_is_not_a_table_is_refused(local: ParquetIOManager) -> None:
    with pytest.raises(IOManagerError) as raised:
        await local.store(ctx(local, DAY), {"id": [1]})
    assert str(raised.value) == (
        "cannot store asset 'events' partition '2025-01-15': ParquetIOManager stores pyarrow "
        "Tables and pandas or polars DataFrames, got dict; return a table, or give the asset "
        "another io_manager"
    )


async def test_a_corrupt_file_is_reported_with_its_path(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    folder = tmp_path / "events" / "date=2025-01-15"
    folder.mkdir(parents=True)
    (folder / "part-0.parquet").write_bytes(b"not parquet")

    with pytest.raises(
        IOManagerError,
        match=re.escape(
            f"cannot load asset 'events' partition '2025-01-15': {folder}/part-0.parquet is not "
            "a readable Parquet file (ArrowInvalid: "
        ),
    ):
        await local.load(ctx(local, DAY))


async def test_exists_and_delete_follow_the_partition_directory(
    local: ParquetIOManager, tmp_path: Path
) -> None:
    key = {"tenant": "acme", "date": DAY}
    assert not await local.exists(ctx(local, key))
    await local.store(ctx(local, key), TABLE)
    assert await local.exists(ctx(local, key))

    await local.delete(ctx(local, key))
    await local.delete(ctx(local, key))

    assert not await local.exists(ctx(local, key))
    assert not (tmp_path / "events").exists()  # directories left empty go too


async def test_a_pandas_dataframe_loads_back_as_a_dataframe(local: ParquetIOManager) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": [1, 2], "name": ["a", "b"]}, index=[10, 20])
    metadata = await local.store(ctx(local, DAY), frame)

    assert metadata["kind"] == "pandas"
    pd.testing.assert_frame_equal(await local.load(ctx(local, DAY)), frame)
    await local.store(ctx(local, DAYS[1]), frame)
    both = await local.load_partitions(ctx(local), DAYS[:2])
    assert isinstance(both, pd.DataFrame)
    assert list(both["id"]) == [1, 2, 1, 2]


async def test_a_polars_dataframe_loads_back_as_a_dataframe(local: ParquetIOManager) -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"id": [1, 2], "name": ["a", "b"]})
    metadata = await local.store(ctx(local, DAY), frame)

    loaded = await local.load(ctx(local, DAY))
    assert metadata["kind"] == "polars"
    assert isinstance(loaded, pl.DataFrame)
    assert loaded.equals(frame)


# -- on S3 (moto server over HTTP) -----------------------------------------------------------


@pytest.fixture
async def on_s3(s3_endpoint: str, s3_bucket: str) -> AsyncIterator[ParquetIOManager]:
    manager = ParquetIOManager(f"s3://{s3_bucket}/tables", endpoint_url=s3_endpoint)
    yield manager
    await manager.aclose()


def arrow_s3(endpoint: str) -> pafs.S3FileSystem:
    """pyarrow's own S3 filesystem on the moto server: the 'plain pyarrow' reader."""
    return pafs.S3FileSystem(
        endpoint_override=endpoint.removeprefix("http://"),
        scheme="http",
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
    )


@pytest.mark.s3
async def test_on_s3_files_written_by_flowstone_are_read_by_plain_pyarrow(
    on_s3: ParquetIOManager, s3_endpoint: str, s3_bucket: str
) -> None:
    for day in DAYS:
        metadata = await on_s3.store(ctx(on_s3, day), day_table(day))
    assert metadata["uri"] == f"s3://{s3_bucket}/tables/events/date=2025-01-17/part-0.parquet"

    s3 = arrow_s3(s3_endpoint)
    one = pq.read_table(f"{s3_bucket}/tables/events/date=2025-01-15/part-0.parquet", filesystem=s3)
    assert one.equals(day_table(DAY))
    dataset = ds.dataset(f"{s3_bucket}/tables/events", filesystem=s3, partitioning="hive")
    assert dataset.to_table().num_rows == 6


@pytest.mark.s3
async def test_on_s3_files_written_by_plain_pyarrow_are_loaded(
    on_s3: ParquetIOManager, s3_endpoint: str, s3_bucket: str
) -> None:
    s3 = arrow_s3(s3_endpoint)
    pq.write_table(TABLE, f"{s3_bucket}/tables/events/date=2025-01-15/x.parquet", filesystem=s3)

    assert (await on_s3.load(ctx(on_s3, DAY))).equals(TABLE)
    assert await on_s3.exists(ctx(on_s3, DAY))
    await on_s3.delete(ctx(on_s3, DAY))
    assert not await on_s3.exists(ctx(on_s3, DAY))


@pytest.mark.s3
async def test_on_s3_a_range_loads_as_one_table_and_a_schema_change_is_reported(
    on_s3: ParquetIOManager,
) -> None:
    await on_s3.store(ctx(on_s3, DAYS[0]), day_table(DAYS[0]))
    await on_s3.store(ctx(on_s3, DAYS[1]), day_table(DAYS[1]))
    table = await on_s3.load_partitions(ctx(on_s3), DAYS[:2])
    assert table.column("id").to_pylist() == [15, 115, 16, 116]

    await on_s3.store(ctx(on_s3, DAYS[2]), day_table(DAYS[2]).drop_columns(["amount"]))
    with pytest.raises(
        IOManagerError,
        match=re.escape(
            "the schema changed between partitions: partition '2025-01-17' differs from "
            "'2025-01-15': column 'amount' was dropped."
        ),
    ):
        await on_s3.load_partitions(ctx(on_s3), DAYS)


@pytest.mark.s3
async def test_on_s3_a_missing_bucket_is_blamed_on_the_base_path(s3_endpoint: str) -> None:
    manager = ParquetIOManager("s3://no-such-lake/tables", endpoint_url=s3_endpoint)
    try:
        with pytest.raises(IOManagerError) as raised:
            await manager.store(ctx(manager, DAY), TABLE)
    finally:
        await manager.aclose()
    assert str(raised.value) == (
        "cannot store asset 'events' partition '2025-01-15': bucket 'no-such-lake' does not "
        f"exist at {s3_endpoint}; create it or fix the bucket of ParquetIOManager's base_path"
    )


@pytest.mark.s3
async def test_on_s3_a_partition_never_stored_is_reported_with_its_uri(
    on_s3: ParquetIOManager, s3_bucket: str
) -> None:
    with pytest.raises(IOManagerError) as raised:
        await on_s3.load(ctx(on_s3, DAY))
    assert str(raised.value) == (
        "cannot load asset 'events' partition '2025-01-15': no Parquet files in "
        f"s3://{s3_bucket}/tables/events/date=2025-01-15/; it was probably never "
        "materialized, or it was deleted"
    )
