"""``ParquetIOManager``: tables as hive-partitioned Parquet files, locally or on S3."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any, Literal

import pyarrow as pa
from pydantic import field_validator

from flowstone.errors import IOManagerError

from . import _parquet_layout as layout
from . import _tabular
from ._manager import IOContext, IOManager, IOOptions
from ._parquet_files import LocalFiles, ParquetFiles, S3Files, Where
from ._s3_client import S3Client, S3Retry, S3Settings, S3Transfer

Compression = Literal["snappy", "gzip", "brotli", "zstd", "lz4", "none"]
_READ_CONCURRENCY = 8


class ParquetOptions(IOOptions):
    """Per-asset options of ``ParquetIOManager``.

    Attributes:
        path: the asset's directory under the base path (default: the asset name).
        partition_column: the directory name of a single-dimension partition key
            (``date=2025-01-15``); default ``"date"`` for dates, ``"datetime"`` for times,
            ``"partition"`` otherwise. Multi-partition keys use their dimension names.
        compression: the codec, overriding the manager's.
        compression_level: the codec's level, overriding the manager's.
    """

    path: str | None = None
    partition_column: str | None = None
    compression: Compression | None = None
    compression_level: int | None = None

    @field_validator("path")
    @classmethod
    def _relative(cls, path: str | None) -> str | None:
        if path is not None and (not path.strip("/") or ".." in path.split("/")):
            raise ValueError(
                f"path {path!r} must name a directory inside the base path (no '..'), "
                "e.g. 'lake/events'"
            )
        return path

    @field_validator("partition_column")
    @classmethod
    def _column_name(cls, column: str | None) -> str | None:
        if column is not None and (not column or any(c in column for c in "/=")):
            raise ValueError(f"partition_column {column!r} must be a name without '/' or '='")
        return column


class ParquetIOManager(IOManager):
    """Store tables as Parquet in hive-style partition directories.

    ``<base_path>/<asset>/date=2025-01-15/part-0.parquet`` (one directory level per
    dimension of a multi-partition key; ``<asset>/part-0.parquet`` when unpartitioned).
    Values are pyarrow Tables, or pandas / polars DataFrames when those are installed; a load
    gives back the kind that was stored. The schema is recorded in the materialization's
    metadata; ``load_partitions`` reads a range of partitions as one table and says which
    partition's schema differs when they do not match.

    Args:
        base_path: a local directory, or ``"s3://bucket/prefix"``.
        compression: ``"snappy"`` (default), ``"zstd"``, ``"gzip"``, ``"brotli"``, ``"lz4"``
            or ``"none"``.
        compression_level: the codec's level (zstd, gzip, brotli), None for its default.
        partition_column: the default directory name of single-dimension partition keys.
        endpoint_url, region, access_key_id, secret_access_key, session_token, retry,
            transfer: the S3 connection for an ``s3://`` base path, as for ``S3IOManager``
            (defaults from the standard AWS environment variables).
    """

    options_model = ParquetOptions

    def __init__(
        self,
        base_path: str | os.PathLike[str],
        *,
        compression: Compression = "snappy",
        compression_level: int | None = None,
        partition_column: str | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        retry: S3Retry | None = None,
        transfer: S3Transfer | None = None,
    ) -> None:
        self.base_path = str(base_path)
        self.compression: Compression = compression
        self.compression_level = compression_level
        self.partition_column = partition_column
        self.files: ParquetFiles
        if self.base_path.startswith("s3://"):
            bucket, _, prefix = self.base_path[len("s3://") :].partition("/")
            settings = S3Settings(
                endpoint_url=endpoint_url,
                region=region,
                access_key_id=access_key_id,
                secret_access_key=secret_access_key,
                session_token=session_token,
                retry=retry or S3Retry(),
                transfer=transfer or S3Transfer(),
            )
            self.files = S3Files(bucket, prefix, S3Client(settings))
        else:
            self.files = LocalFiles(self.base_path.removeprefix("file://"))

    # -- the I/O manager interface ---------------------------------------------------------

    async def store(self, context: IOContext, value: Any) -> dict[str, Any]:  # type: ignore[override]
        """Write the table; return its location, size, rows and schema."""
        where = _where(context, "store")
        try:
            table, kind = _tabular.to_arrow(value)
        except TypeError as exc:
            raise IOManagerError(
                f"cannot {where.what}: ParquetIOManager stores pyarrow Tables and pandas or "
                f"polars DataFrames, got {type(value).__qualname__}; return a table, or give "
                "the asset another io_manager",
                asset=context.asset,
                partition=context.partition,
            ) from exc
        options = self._write_options(context)
        directory = self._directory(context)
        try:
            stored = await self.files.write(directory, table, options, where)
        except IOManagerError:
            raise
        except Exception as exc:
            raise IOManagerError(
                f"cannot {where.what}: writing Parquet to {self.files.location(directory)} "
                f"failed ({type(exc).__name__}: {exc})",
                asset=context.asset,
                partition=context.partition,
            ) from exc
        return {
            **stored,
            "format": "parquet",
            "compression": options["compression"],
            **_tabular.table_metadata(table, kind),
            "partition_columns": [name for name, _ in self._columns(context, context.partition)],
        }

    async def load(self, context: IOContext) -> Any:
        """Read the partition's Parquet file(s) back as the kind that was stored."""
        where = _where(context, "load")
        table = await self._read_partition(self._directory(context), where)
        return _tabular.from_arrow(table, _tabular.stored_kind(table))

    async def exists(self, context: IOContext) -> bool:  # type: ignore[override]
        """Return True when the partition directory holds Parquet files."""
        return bool(await self.files.names(self._directory(context), _where(context, "check")))

    async def delete(self, context: IOContext) -> None:  # type: ignore[override]
        """Delete the partition's Parquet files (quietly when there are none)."""
        where = _where(context, "delete")
        directory = self._directory(context)
        await self.files.remove(directory, await self.files.names(directory, where), where)

    async def load_partitions(
        self, context: IOContext, partitions: Sequence[Any], *, unify_schemas: bool = False
    ) -> Any:
        """Load several partitions of ``context.asset`` as one table, in the order given.

        Partition keys are the values the asset's partitions definition yields (dates,
        strings, dicts for multi-partitions). Each partition's columns (``date`` ...) are
        added, typed from the key, as pyarrow.dataset's hive partitioning would.

        Raises:
            IOManagerError: a partition has no files, or the schema changed between
                partitions (unless ``unify_schemas`` accepts compatible changes: added
                columns, widened types).
        """
        if not partitions:
            raise IOManagerError(
                f"cannot load asset {context.asset!r}: no partitions were asked for",
                asset=context.asset,
            )
        gate = asyncio.Semaphore(_READ_CONCURRENCY)

        async def read(key: Any) -> pa.Table:
            where = Where(
                f"load asset {context.asset!r} partition {layout.key_text(key)!r}",
                context.asset,
                key,
            )
            async with gate:
                return await self._read_partition(self._directory(context, key), where)

        tables = await asyncio.gather(*(read(key) for key in partitions))
        combined = self._combine(context, partitions, tables, unify_schemas)
        return _tabular.from_arrow(combined, _tabular.stored_kind(tables[0]))

    async def aclose(self) -> None:
        """Close the S3 client (if any)."""
        await self.files.aclose()

    def __repr__(self) -> str:
        return f"<ParquetIOManager base_path={self.base_path!r} compression={self.compression!r}>"

    # -- internals -------------------------------------------------------------------------

    def _options(self, context: IOContext) -> ParquetOptions:
        if isinstance(context.options, ParquetOptions):
            return context.options
        return ParquetOptions(**dict(context.io_options))

    def _columns(self, context: IOContext, key: Any) -> list[tuple[str, Any]]:
        column = self._options(context).partition_column or self.partition_column
        return layout.partition_columns(key, column)

    def _directory(self, context: IOContext, key: Any = None) -> str:
        options = self._options(context)
        key = context.partition if key is None else key
        column = options.partition_column or self.partition_column
        return layout.partition_dir((options.path or context.asset).strip("/"), key, column)

    def _write_options(self, context: IOContext) -> dict[str, Any]:
        options = self._options(context)
        compression = options.compression or self.compression
        level = options.compression_level
        return {
            "compression": compression,
            "compression_level": self.compression_level if level is None else level,
        }

    async def _read_partition(self, directory: str, where: Where) -> pa.Table:
        names = await self.files.names(directory, where)
        if not names:
            raise IOManagerError(
                f"cannot {where.what}: no Parquet files in {self.files.location(directory)}; "
                "it was probably never materialized, or it was deleted",
                asset=where.asset,
                partition=where.partition,
            )
        tables = [await self._read_file(directory, name, where) for name in names]
        if len(tables) == 1:
            return tables[0]
        problem = layout.schema_differences(names, tables)
        if problem is not None:
            raise IOManagerError(
                f"cannot {where.what}: the files of {self.files.location(directory)} do not "
                f"share one schema: file {problem}",
                asset=where.asset,
                partition=where.partition,
            )
        return pa.concat_tables(tables)

    async def _read_file(self, directory: str, name: str, where: Where) -> pa.Table:
        try:
            return await self.files.read(directory, name, where)
        except IOManagerError:
            raise
        except Exception as exc:
            location = self.files.location(directory).rstrip("/")
            raise IOManagerError(
                f"cannot {where.what}: {location}/{name} is not a readable Parquet file "
                f"({type(exc).__name__}: {exc})",
                asset=where.asset,
                partition=where.partition,
            ) from exc

    def _combine(
        self,
        context: IOContext,
        partitions: Sequence[Any],
        tables: Sequence[pa.Table],
        unify_schemas: bool,
    ) -> pa.Table:
        labels = [layout.key_text(key) for key in partitions]
        if not unify_schemas:
            problem = layout.schema_differences(labels, tables)
            if problem is not None:
                raise IOManagerError(
                    f"cannot load asset {context.asset!r} partitions {labels[0]!r}..."
                    f"{labels[-1]!r} as one table: the schema changed between partitions: "
                    f"partition {problem}. Rewrite the older partitions with the new schema "
                    "(backfill with force=True), or pass unify_schemas=True to accept added "
                    "columns and widened types",
                    asset=context.asset,
                )
        column = self._options(context).partition_column or self.partition_column
        # Metadata goes: pandas' index description fits one partition, not their union.
        parts = [
            layout.with_partition_columns(table.replace_schema_metadata(None), key, column)
            for key, table in zip(partitions, tables, strict=True)
        ]
        try:
            combined = pa.concat_tables(
                parts, promote_options="permissive" if unify_schemas else "none"
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise IOManagerError(
                f"cannot load asset {context.asset!r} partitions {labels[0]!r}..."
                f"{labels[-1]!r} as one table: their schemas cannot be unified ({exc})",
                asset=context.asset,
            ) from exc
        kind = _tabular.stored_kind(tables[0])
        return combined.replace_schema_metadata({_tabular.KIND_KEY: kind.encode()})


def _where(context: IOContext, verb: str) -> Where:
    what = f"{verb} asset {context.asset!r}"
    if context.partition_key is not None:
        what += f" partition {context.partition_key!r}"
    return Where(what, context.asset, context.partition)
