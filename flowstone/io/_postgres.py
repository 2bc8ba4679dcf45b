"""``PostgresIOManager``: asset values as rows of PostgreSQL tables, one table per asset.

Storing a partition replaces it in one transaction: lock the partition, delete its rows,
bulk-insert the new ones (COPY; ``INSERT ... unnest`` under row-level security) and record
it in the schema's ``flowstone_io_partitions``. Readers see the old rows or the new, never a
mix, and two stores of one partition never interleave. Tables are created from the first
value stored and checked against every later one. Layout, type mapping and tenant isolation:
docs/postgres.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from flowstone.errors import ConfigurationError, IOManagerError, TenantIsolationError
from flowstone.storage._url import redact
from flowstone.tenancy import check_tenant, current_tenant, quote_identifier, set_tenant

from . import _postgres_sql as sql
from ._manager import IOContext, IOManager, IOOptions
from ._postgres_checks import check_layout, check_reserved, insert_types
from ._postgres_options import PostgresOptions, check_not_reserved
from ._postgres_types import (
    Frame,
    UnsupportedValue,
    decode_column,
    rows_value,
    schema_bytes,
    schema_from_bytes,
    table_value,
    to_frame,
)

T = TypeVar("T")
_log = logging.getLogger("flowstone.io")
# Errors after which the same work may succeed on a fresh connection (one more try): the
# server restarted or dropped the pooled connection. Every operation is idempotent.
_CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    ConnectionError,
    # A pooled connection whose server process was terminated while idle: asyncpg notices
    # only when the next statement starts ("cannot switch to state ...").
    asyncpg.InternalClientError,
)
_THREAD_THRESHOLD = 5000  # rows above which converting a value leaves the event loop


class PostgresIOManager(IOManager):
    """Store table-like asset values in PostgreSQL, one table per asset, one partition per
    set of rows.

    Values: pyarrow Tables, pandas (and polars) DataFrames, and lists of dicts; a load gives
    back the kind that was stored. Assets partitioned with a ``tenant`` dimension get
    tenant-isolated tables under row-level security (see ``flowstone.tenancy``).

    Args:
        dsn: a ``postgresql://`` URL (or libpq connection string) asyncpg accepts.
        schema: the default schema of asset tables (created if missing).
        pool_min, pool_max: bounds of the asyncpg pool, created on first use on the running
            event loop and closed by ``aclose()``.
        tenant_dimension: the multi-partition dimension whose value is the tenant; None
            turns tenant isolation off.
        tenant_column: the column of tenant tables that holds the tenant.
        connect_timeout: seconds allowed to open one connection.
        application_name: shown in ``pg_stat_activity``.
    """

    options_model = PostgresOptions

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "public",
        pool_min: int = 1,
        pool_max: int = 4,
        tenant_dimension: str | None = "tenant",
        tenant_column: str = "tenant",
        connect_timeout: float = 10.0,
        application_name: str = "flowstone",
    ) -> None:
        quote_identifier(schema, "schema")
        quote_identifier(tenant_column, "tenant_column")
        if tenant_column == sql.ROW_COLUMN:
            raise ConfigurationError(f"tenant_column cannot be {sql.ROW_COLUMN!r}")
        if pool_min < 0 or pool_max < max(1, pool_min):
            raise ConfigurationError(
                f"pool bounds pool_min={pool_min}, pool_max={pool_max} are invalid; expected "
                "0 <= pool_min <= pool_max and pool_max >= 1"
            )
        self._dsn = dsn
        self.url = redact(dsn)
        self.schema = schema
        self.pool_min, self.pool_max = pool_min, pool_max
        self.tenant_dimension = tenant_dimension
        self.tenant_column = tenant_column
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        self._pool: asyncpg.Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._bypasses_rls = False
        self._warned_bypass = False

    def validate_options(self, options: Mapping[str, Any]) -> IOOptions:
        """Validate ``io_options``; the partition column may not be the tenant column."""
        validated = super().validate_options(options)
        assert isinstance(validated, PostgresOptions)
        if validated.partition_column == self.tenant_column:
            raise ConfigurationError(
                f"partition_column {validated.partition_column!r} is the manager's tenant "
                "column; choose another partition_column or PostgresIOManager(tenant_column=)"
            )
        return validated

    # -- the I/O manager interface ---------------------------------------------------------

    async def store(self, context: IOContext, value: Any) -> dict[str, Any]:  # type: ignore[override]
        """Replace the partition's rows with ``value``; return table, rows and columns."""
        target = self._target(context)
        frame = await self._frame(context, target, value)
        check_reserved(target, frame, context.asset)

        async def work(conn: asyncpg.Connection) -> dict[str, str]:
            await sql.lock(conn, target.schema, target.table, target.key)
            await self._ensure_partitions_table(conn, target.schema)
            described = await self._ensure_table(conn, target, frame, context.asset)
            types = {c.name: c.pg_type or "text" for c in frame.columns}
            if described is not None:
                check_layout(target, described, context.asset)
                types = insert_types(target, described, frame, context.asset)
                await sql.delete_rows(conn, target)
                await self._insert(conn, target, frame, types, described.row_security)
            arrow = None if frame.arrow_schema is None else schema_bytes(frame.arrow_schema)
            await sql.record_partition(conn, target, frame.kind, arrow, frame.rows, context.run_id)
            return types

        types = await self._run("store", context, target, work)
        meta: dict[str, Any] = {
            "table": target.name,
            "rows": frame.rows,
            "partition_column": target.partition_column,
            "partition_key": target.partition_key,
            "kind": frame.kind,
            "columns": [{"name": c.name, "type": types[c.name]} for c in frame.columns],
        }
        if target.tenant_column is not None:
            meta["tenant"] = target.tenant
        return meta

    async def load(self, context: IOContext) -> Any:
        """Return the partition's rows as the kind of value that was stored."""
        target = self._target(context)

        async def work(conn: asyncpg.Connection) -> Any:
            stored = await sql.stored_partition(conn, target)
            if stored is None:
                raise self._not_stored(context, target)
            described = await sql.describe(conn, target.schema, target.table)
            if described is None:
                if stored["row_count"]:
                    raise self._not_stored(context, target, "its table was dropped")
                described = sql.Described({}, False, None)
            else:
                check_layout(target, described, context.asset, "load")
            return await self._read(conn, context, target, stored, described)

        return await self._run("load", context, target, work)

    async def exists(self, context: IOContext) -> bool:  # type: ignore[override]
        """Return True when a value (even an empty one) is stored for this partition."""
        target = self._target(context)

        async def work(conn: asyncpg.Connection) -> bool:
            return await sql.stored_partition(conn, target) is not None

        return await self._run("check", context, target, work)

    async def delete(self, context: IOContext) -> None:  # type: ignore[override]
        """Delete the partition's rows (quietly when nothing is stored)."""
        target = self._target(context)

        async def work(conn: asyncpg.Connection) -> None:
            await sql.lock(conn, target.schema, target.table, target.key)
            described = await sql.describe(conn, target.schema, target.table)
            if described is not None:
                check_layout(target, described, context.asset, "delete")
                await sql.delete_rows(conn, target)
            if await sql.partitions_table_exists(conn, target.schema):
                await sql.forget_partition(conn, target)

        await self._run("delete", context, target, work)

    async def aclose(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        pool, self._pool, self._loop = self._pool, None, None
        if pool is not None:
            try:
                await pool.close()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()

    def __getstate__(self) -> dict[str, Any]:
        # A copy (pickled to a worker process) opens its own pool on its own loop.
        state = dict(self.__dict__)
        state.update(_pool=None, _loop=None, _lock=None, _warned_bypass=False)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"<PostgresIOManager {self.url} schema={self.schema!r}>"

    # -- where a partition lives -----------------------------------------------------------

    def _target(self, context: IOContext) -> sql.Target:
        options = context.options
        if not isinstance(options, PostgresOptions):
            options = PostgresOptions(**dict(context.io_options))
        schema, table = self.schema, context.asset
        if options.table is not None:
            schema, _, table = options.table.rpartition(".")
            schema = schema or options.db_schema or self.schema
        elif options.db_schema is not None:
            schema = options.db_schema
        try:
            quote_identifier(table, "table")
            check_not_reserved(table)
        except ConfigurationError as exc:
            raise IOManagerError(
                f"asset {context.asset!r} needs a table name: {exc}; set io_options={{'table': "
                "'a_valid_name'}}",
                asset=context.asset,
                partition=context.partition,
            ) from None
        tenant = self._partition_tenant(context)
        return sql.Target(
            schema=schema,
            table=table,
            partition_column=None if context.partition_key is None else options.partition_column,
            partition_key=context.partition_key,
            tenant_column=None if tenant is None else self.tenant_column,
            tenant=tenant,
        )

    def _partition_tenant(self, context: IOContext) -> str | None:
        """The tenant a partition belongs to, checked against the acting tenant."""
        partition = context.partition
        if self.tenant_dimension is None or not isinstance(partition, Mapping):
            return None
        if self.tenant_dimension not in partition:
            return None
        owner = check_tenant(partition[self.tenant_dimension])
        acting = current_tenant()
        if acting is not None and acting != owner:
            raise TenantIsolationError(
                f"tenant {acting!r} cannot reach asset {context.asset!r} partition "
                f"{context.partition_key!r}: it belongs to tenant {owner!r}. Code inside "
                f"tenant_scope({acting!r}) works on {acting!r}'s partitions only",
                tenant=acting,
                owner=owner,
            )
        return owner

    # -- reading and writing ---------------------------------------------------------------

    async def _frame(self, context: IOContext, target: sql.Target, value: Any) -> Frame:
        try:
            if _size(value) > _THREAD_THRESHOLD:
                return await asyncio.to_thread(to_frame, value)
            return to_frame(value)
        except (UnsupportedValue, ValueError, TypeError) as exc:
            # ValueError / TypeError: pyarrow's own (ArrowInvalid for lossy casts and more).
            raise IOManagerError(
                f"cannot store asset {context.asset!r} into {target.name}: {exc}",
                asset=context.asset,
                partition=context.partition,
            ) from exc

    async def _ensure_partitions_table(self, conn: asyncpg.Connection, schema: str) -> None:
        if await sql.partitions_table_exists(conn, schema):
            return
        await sql.lock(conn, schema, sql.PARTITIONS_TABLE)
        if not await sql.schema_exists(conn, schema):
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
        for statement in sql.create_partitions_table(schema):
            await conn.execute(statement)

    async def _ensure_table(
        self, conn: asyncpg.Connection, target: sql.Target, frame: Frame, asset: str
    ) -> sql.Described | None:
        described = await sql.describe(conn, target.schema, target.table)
        if described is not None or not (frame.columns or frame.rows):
            return described  # an empty list of dicts names no columns: wait for a value
        await sql.lock(conn, target.schema, target.table)  # one creator; others then see it
        described = await sql.describe(conn, target.schema, target.table)
        if described is None:
            columns = [(c.name, c.pg_type or "text") for c in frame.columns]
            for statement in sql.create_table(target, columns, asset):
                await conn.execute(statement)
            described = await sql.describe(conn, target.schema, target.table)
        return described

    async def _insert(
        self,
        conn: asyncpg.Connection,
        target: sql.Target,
        frame: Frame,
        types: dict[str, str],
        row_security: bool,
    ) -> None:
        if not frame.rows:
            return
        columns = sql.layout_values(target, frame.rows)
        columns.extend((column.name, column.values) for column in frame.columns)
        if row_security:
            await sql.insert_rows(conn, target, columns, types)
        else:
            await sql.copy_rows(conn, target, columns)

    async def _read(
        self,
        conn: asyncpg.Connection,
        context: IOContext,
        target: sql.Target,
        stored: asyncpg.Record,
        described: sql.Described,
    ) -> Any:
        kind = stored["kind"]
        layout = set(target.layout_columns)
        if stored["arrow_schema"] is None:
            names = [name for name in described.columns if name not in layout]
            schema = None
        else:
            schema = schema_from_bytes(stored["arrow_schema"])
            names = list(schema.names)
            missing = [name for name in names if name not in described.columns]
            if missing:
                raise self._not_stored(
                    context, target, f"its column(s) {', '.join(map(repr, missing))} are gone"
                )
        fetched = await sql.fetch_columns(conn, target, names)
        columns = {n: decode_column(described.columns[n], fetched[n]) for n in names}
        if schema is None:
            if not names:
                return [{} for _ in range(stored["row_count"])]
            return rows_value(names, [columns[n] for n in names])
        return table_value(kind, schema, columns)

    def _not_stored(self, context: IOContext, target: sql.Target, why: str = "") -> IOManagerError:
        where = f"partition {context.partition_key!r} of " if context.partition_key else ""
        reason = why or "it was never materialized, or it was deleted"
        return IOManagerError(
            f"cannot load {where}asset {context.asset!r}: nothing stored in {target.name} "
            f"({reason}); materialize it first",
            asset=context.asset,
            partition=context.partition,
        )

    # -- connections, transactions and errors ----------------------------------------------

    async def _run(
        self,
        verb: str,
        context: IOContext,
        target: sql.Target,
        work: Callable[[asyncpg.Connection], Awaitable[T]],
    ) -> T:
        """Run ``work`` in one transaction acting as the target's tenant; retry on a lost
        connection (every pooled connection may be dead after a server restart, so up to one
        more time than the pool has connections); turn database errors into
        ``IOManagerError``."""
        tries = self.pool_max + 1
        for attempt in range(1, tries + 1):
            try:
                async with self._transaction(target) as conn:
                    return await work(conn)
            except (IOManagerError, TenantIsolationError):
                raise
            except (
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
                OSError,
            ) as exc:
                if attempt == tries or not _connection_lost(exc):
                    raise self._error(verb, context, target, exc) from exc
        raise AssertionError("unreachable: the second attempt returns or raises")

    @asynccontextmanager
    async def _transaction(self, target: sql.Target) -> AsyncIterator[asyncpg.Connection]:
        pool = await self._get_pool()
        async with pool.acquire(timeout=self.connect_timeout) as conn, conn.transaction():
            tenant = target.tenant or current_tenant()
            if target.tenant_column is not None and self._bypasses_rls:
                self._warn_bypass()
            if tenant is not None:
                await set_tenant(conn, tenant)
            yield conn

    def _error(
        self, verb: str, context: IOContext, target: sql.Target, exc: BaseException
    ) -> Exception:
        where = f" partition {context.partition_key!r}" if context.partition_key else ""
        what = f"cannot {verb} asset {context.asset!r}{where} in {target.name}"
        if isinstance(exc, asyncpg.InsufficientPrivilegeError):
            if "row-level security" in str(exc):
                acting = target.tenant or current_tenant()
                return TenantIsolationError(
                    f"{what}: PostgreSQL's row-level security refused it ({exc}); the "
                    f"transaction acted as tenant {acting!r}",
                    tenant=acting,
                    owner=target.tenant,
                )
            return IOManagerError(
                f"{what}: {exc}. The role connecting through {self.url} needs USAGE (and "
                f"CREATE, to create tables) on schema {target.schema!r} and SELECT, INSERT, "
                "UPDATE, DELETE on its tables: see 'The role model' in docs/postgres.md",
                asset=context.asset,
                partition=context.partition,
            )
        if _connection_lost(exc) or isinstance(exc, OSError):
            return IOManagerError(
                f"{what}: cannot reach PostgreSQL at {self.url} ({type(exc).__name__}: {exc}); "
                "check that the server is running and accepts connections",
                asset=context.asset,
                partition=context.partition,
            )
        return IOManagerError(
            f"{what}: PostgreSQL refused it ({type(exc).__name__}: {exc})",
            asset=context.asset,
            partition=context.partition,
        )

    async def _get_pool(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        if self._pool is not None:
            if self._loop is not loop:
                raise IOManagerError(
                    f"the connection pool of {self!r} was opened on another event loop; "
                    "asyncpg pools cannot move between loops: call `await manager.aclose()` "
                    "on that loop first, or give each loop its own manager"
                )
            return self._pool
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._pool is None:
                self._pool = await self._create_pool()
                self._loop = loop
        return self._pool

    async def _create_pool(self) -> asyncpg.Pool:
        pool = await asyncpg.create_pool(
            self._dsn,
            min_size=self.pool_min,
            max_size=self.pool_max,
            timeout=self.connect_timeout,
            server_settings={"application_name": self.application_name},
        )
        async with pool.acquire() as conn:
            self._bypasses_rls = bool(
                await conn.fetchval(
                    "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
                )
            )
        return pool

    def _warn_bypass(self) -> None:
        if not self._warned_bypass:
            self._warned_bypass = True
            _log.warning(
                "%r connects as a role that bypasses row-level security (superuser or "
                "BYPASSRLS): tenant tables are isolated only by FlowStone's own checks; "
                "connect as an application role to have PostgreSQL enforce it",
                self,
            )


def _connection_lost(exc: BaseException) -> bool:
    if isinstance(exc, _CONNECTION_LOST):
        return True
    # asyncpg says "connection is closed" (or "... was closed in the middle of operation")
    # with a bare InterfaceError; its other InterfaceErrors are misuse or bad arguments.
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)


def _size(value: Any) -> int:
    rows = getattr(value, "num_rows", None)
    if isinstance(rows, int):
        return rows
    try:
        return len(value)
    except TypeError:
        return 0
