"""The PostgreSQL record store (asyncpg), for production and for several processes sharing
one store.

Resilience: every operation runs through ``_run``, which retries on a lost connection (the
server restarted, a backend was terminated, the network blinked) with bounded backoff. That
is safe for every call: reads have no effects and ``write()`` is idempotent (upserts keyed by
run id and materialization id), so replaying a batch whose commit reply was lost stores the
same rows again. When the attempts are exhausted the caller gets a ``StorageError`` and may
call ``write()`` again with the same batch later.

Tenants: inside ``flowstone.tenancy.tenant_scope(t)`` every transaction starts by setting
``flowstone.tenant`` to ``t`` (``set_config(..., true)``), so that the row-level security
policies of ``record_store_policy_sql`` show and accept only ``t``'s records (and the shared
ones) when the store connects as a role subject to them. Outside a scope nothing is set: the
runtime's lineage writer connects as the tables' owner, which the policies do not confine,
and commits the records of many tenants in one transaction.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

import asyncpg

import actors
from flowstone.errors import StorageError, StorageUnavailable
from flowstone.storage import _postgres_changes as pc
from flowstone.storage import _postgres_queries as q
from flowstone.storage import _postgres_ranges as pg_ranges
from flowstone.storage import _postgres_session as ps
from flowstone.storage import _postgres_write as pw
from flowstone.storage import _sql
from flowstone.storage._approval_postgres import PostgresApprovalStore
from flowstone.storage._changes import Change, RuntimeSnapshot
from flowstone.storage._codec import (
    check_as_of,
    check_dynamic_keys,
    prepare_batch,
    require_aware,
)
from flowstone.storage._ranges import RangeSummary
from flowstone.storage._records import (
    LineageEntry,
    MaterializationRecord,
    RunRecord,
    WriteBatch,
)
from flowstone.storage._run_log import RunLogLine, postgres_append, postgres_read
from flowstone.storage._statistics import AnalyzePolicy
from flowstone.storage._storage import Storage
from flowstone.storage._url import redact
from flowstone.tenancy import current_tenant, set_tenant

T = TypeVar("T")

#: Seconds between attempts after a lost connection: about 15 s in all, enough to ride out
#: a server restart; the first retry is immediate because a pool usually just holds a
#: connection the server already closed.
DEFAULT_RETRY_DELAYS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

Sleep = Callable[[float], Awaitable[None]]


class _TransientError(Exception):
    """Internal: an attempt failed in a way another attempt may not."""


class _Scope:
    """Internal: the default of ``_run(tenant=)``, "the caller's tenant scope"."""


_SCOPE = _Scope()


class PostgresStorage(Storage):
    """A ``Storage`` in PostgreSQL, in its own schema, through a small asyncpg pool.

    Args:
        url: a ``postgresql://`` (or ``postgres://``) URL asyncpg accepts.
        schema: the schema holding FlowStone's tables (created if missing), so they never
            collide with tables of the same name, such as those the Postgres I/O manager
            writes.
        min_size, max_size: bounds of the store's connections (few: one writer and a handful
            of readers; Dagster's connection storms came from unbounded pools). With
            ``max_size`` of 2 or more, one of them is kept for writes, opened at the first
            write, and the pool holds the others.
        retry_delays: seconds to wait before each retry after a lost connection; their count
            is the number of retries. ``()`` disables retrying.
        sleep: how to wait between attempts; defaults to ``actors.sleep`` (the runtime clock,
            so tests can drive it with a mock clock).
        connect_timeout: seconds allowed for establishing one connection.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "flowstone",
        min_size: int = 1,
        max_size: int = 4,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        sleep: Sleep | None = None,
        connect_timeout: float = 10.0,
        pipeline: str = "",
    ) -> None:
        if not _IDENTIFIER.match(schema):
            raise StorageError(
                f"schema name {schema!r} is not a plain SQL identifier; use letters, digits "
                f"and underscores, starting with a letter or underscore (e.g. 'flowstone')"
            )
        self._dsn = url
        self.url = redact(url)
        self.schema = schema
        self._min_size, self._max_size = min_size, max(min_size, max_size)
        self._retry_delays = tuple(retry_delays)
        self._sleep: Sleep = sleep if sleep is not None else actors.sleep
        self._connect_timeout = connect_timeout
        self.pipeline = pipeline
        self._st = q.Statements(f'"{schema}"', pipeline)
        self._pool: asyncpg.Pool | None = None
        self._writer: asyncpg.Connection | None = None
        self._writing = False
        self._listener: tuple[asyncpg.Connection, asyncio.Event] | None = None
        self._lock_key = ps.lock_key(schema)
        self._statistics = AnalyzePolicy(self.refresh_statistics)
        self.approvals = PostgresApprovalStore(self)

    def for_pipeline(self, pipeline: str) -> PostgresStorage:
        """Return a store on the same database for ``pipeline``'s records (not yet opened)."""
        return PostgresStorage(
            self._dsn,
            schema=self.schema,
            min_size=self._min_size,
            max_size=self._max_size,
            retry_delays=self._retry_delays,
            sleep=self._sleep,
            connect_timeout=self._connect_timeout,
            pipeline=pipeline,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (retrying as for a lost connection) and apply pending migrations."""
        if self._pool is not None:
            return
        self._pool = await self._retrying("connect", self._create_pool)
        try:
            await self._run("migrate", lambda c: q.migrate(c, self._st, self._lock_key, self.url))
            live, modified = await self._run("open", lambda c: q.table_activity(c, self._st))
        except BaseException:
            await self.close()
            raise
        self._statistics.seed(live, modified)

    @property
    def _keeps_writer(self) -> bool:
        """Whether writes go over a connection of their own (not through the pool)."""
        return self._max_size >= 2

    async def _create_pool(self) -> asyncpg.Pool:
        size = self._max_size - 1 if self._keeps_writer else self._max_size
        try:
            return await asyncpg.create_pool(
                self._dsn,
                min_size=min(self._min_size, size),
                max_size=size,
                timeout=self._connect_timeout,
                server_settings=ps.SERVER_SETTINGS,
                reset=ps.keep_session,
            )
        except ps.PERMANENT_CONNECT_ERRORS as exc:
            raise StorageError(f"cannot connect to {self.url}: {exc}") from exc
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _TransientError(exc) from exc

    async def _connect_writer(self) -> asyncpg.Connection:
        try:
            return await asyncpg.connect(
                self._dsn, timeout=self._connect_timeout, server_settings=ps.SERVER_SETTINGS
            )
        except ps.PERMANENT_CONNECT_ERRORS as exc:
            raise StorageError(f"cannot connect to {self.url}: {exc}") from exc
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _TransientError(exc) from exc

    async def close(self) -> None:
        """Close every pooled connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener[0].terminate()
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                await writer.close(timeout=self._connect_timeout)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                writer.terminate()  # the server is gone; drop the socket without goodbyes
        await self._statistics.stop()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await pool.close()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()  # the server is gone; drop the sockets without goodbyes

    async def schema_version(self) -> int:
        """Return the applied schema version."""
        return await self._run("schema_version", lambda c: q.schema_version(c, self._st))

    # -- retrying -----------------------------------------------------------------------------

    async def _run(
        self,
        what: str,
        fn: Callable[[asyncpg.Connection], Awaitable[T]],
        *,
        tenant: str | _Scope | None = _SCOPE,
        sets_tenant: bool = False,
    ) -> T:
        """Run ``fn`` on a pooled connection, retrying when the connection is lost.

        ``tenant`` (by default the caller's ``current_tenant()``) is set as
        ``flowstone.tenant`` in a transaction around ``fn``; None runs ``fn`` as it is, and
        so does ``sets_tenant`` (``fn`` sets ``tenant`` itself, in its one statement).
        """
        acting = current_tenant() if isinstance(tenant, _Scope) else tenant
        return await self._retrying(what, lambda: self._once(fn, acting, sets_tenant))

    async def _once(
        self,
        fn: Callable[[asyncpg.Connection], Awaitable[T]],
        tenant: str | None,
        sets_tenant: bool = False,
    ) -> T:
        pool = self._pool
        if pool is None:
            raise StorageError(f"{self!r} is not open; call `await storage.open()` first")
        try:
            conn = await pool.acquire(timeout=self._connect_timeout)
        except ps.PERMANENT_CONNECT_ERRORS as exc:
            raise StorageError(f"cannot connect to {self.url}: {exc}") from exc
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _TransientError(exc) from exc
        try:
            return await self._on(conn, fn, tenant, sets_tenant)
        finally:
            await ps.release(pool, conn)

    async def _on(
        self,
        conn: asyncpg.Connection,
        fn: Callable[[asyncpg.Connection], Awaitable[T]],
        tenant: str | None,
        sets_tenant: bool,
    ) -> T:
        """Run ``fn`` on ``conn``; sort its failures into lost connections (retried) and
        errors (``StorageError``)."""
        try:
            if tenant is None or sets_tenant:
                return await fn(conn)
            # fn's own transactions nest inside this one (as savepoints).
            async with conn.transaction():
                await set_tenant(conn, tenant)
                return await fn(conn)
        except StorageError:
            raise
        except asyncpg.InsufficientPrivilegeError as exc:
            raise StorageError(ps.refused_message(self.url, tenant, exc)) from exc
        except Exception as exc:
            # InterfaceError: asyncpg's "connection is closed / was released" family, seen
            # when the server goes away in the middle of a statement.
            lost = (OSError, asyncpg.InterfaceError, *ps.TRANSIENT_SERVER_ERRORS)
            if isinstance(exc, lost) or ps.is_closed(conn):
                raise _TransientError(exc) from exc
            raise StorageError(f"PostgreSQL error on {self.url}: {exc}") from exc

    async def _write_once(
        self, fn: Callable[[asyncpg.Connection], Awaitable[None]], tenant: str | None
    ) -> None:
        """Run the write ``fn`` (one statement that sets its tenant itself) on the writer's
        connection, kept between writes: taking a pooled connection and handing it back
        cost more client time than the write's own statement. A write that finds the
        writer's connection busy (writes at once from several tasks) takes a pooled one."""
        if self._writing or not self._keeps_writer:
            return await self._once(fn, tenant, sets_tenant=True)
        if self._pool is None:
            raise StorageError(f"{self!r} is not open; call `await storage.open()` first")
        self._writing = True
        try:
            conn = self._writer
            if conn is None or ps.is_closed(conn):
                conn = self._writer = await self._connect_writer()
            try:
                await self._on(conn, fn, tenant, True)
            except StorageError:
                raise  # the server refused the statement; the connection is as it was
            except BaseException:
                # Lost, or cancelled mid-statement: the connection may be in any state, and
                # the next write opens a fresh one.
                self._drop_writer()
                raise
        finally:
            self._writing = False

    def _drop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.terminate()

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        failures: list[str] = []
        delays = iter(self._retry_delays)
        while True:
            try:
                return await attempt()
            except _TransientError as transient:
                cause = transient.__cause__ or transient
                failures.append(f"{type(cause).__name__}: {cause}")
                delay = next(delays, None)
                if delay is None:
                    raise self._gave_up(what, failures) from cause
            await self._sleep(delay)

    def _gave_up(self, what: str, failures: list[str]) -> StorageError:
        waited = sum(self._retry_delays)
        return StorageUnavailable(
            f"cannot reach PostgreSQL at {self.url} ({what}): {len(failures)} attempt(s) "
            f"over {waited:g} s of backoff all failed; last error: {failures[-1]}. Check that "
            f"the server is running and accepts connections at that address; a write can be "
            f"retried with the same batch once it is back"
        )

    # -- writes -------------------------------------------------------------------------------

    async def write(self, batch: WriteBatch) -> None:
        """Commit the batch in one statement, one round trip (see ``Storage.write``);
        replays are safe."""
        runs, mats = prepare_batch(batch, self.pipeline)
        if runs or mats:
            tenant = pw.batch_tenant(runs, mats, current_tenant())
            orders = dict(self.partition_orders)
            await self._retrying(
                "write",
                lambda: self._write_once(
                    lambda c: pw.write(c, self._st, runs, mats, orders, tenant), tenant
                ),
            )
            self._statistics.written(len(mats))

    async def refresh_statistics(self) -> None:
        """Refresh the planner statistics of FlowStone's tables (``ANALYZE``).

        The store does this by itself in the background whenever the records it wrote
        since the last refresh reach the number known then (so after about 1k, 2k, 4k ...
        records), because its index walks depend on sane row estimates and autovacuum may
        be off or behind. Call it after importing records by other means.
        """
        tables = ", ".join(
            f"{self._st.schema}.{t}"
            for t in ("materializations", "materialization_inputs", "asset_partitions", "runs")
        )
        await self._run("refresh_statistics", lambda c: c.execute(f"ANALYZE {tables}"))

    # -- runs ---------------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> RunRecord | None:
        """Return one run."""
        query = _sql.get_run(self._st.dialect, run_id)
        found = await self._run("get_run", lambda c: q.fetch_runs(c, query))
        return found[0] if found else None

    async def list_runs(
        self, *, limit: int = 50, status: str | None = None, backfill_id: str | None = None
    ) -> list[RunRecord]:
        """Return runs, newest first (by started_at, then run_id)."""
        query = _sql.list_runs(self._st.dialect, limit, status, backfill_id)
        return await self._run("list_runs", lambda c: q.fetch_runs(c, query))

    # -- materializations ---------------------------------------------------------------------

    async def materializations(
        self,
        *,
        asset: str | None = None,
        partition: str | None = None,
        any_partition: bool = True,
        run_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        before: datetime | None = None,
    ) -> list[MaterializationRecord]:
        """Return materializations, newest first (by finished_at, then id)."""
        query = _sql.list_materializations(
            self._st.dialect,
            asset=asset,
            partition=partition,
            any_partition=any_partition,
            run_id=run_id,
            status=status,
            limit=limit,
            before=before,
        )
        return await self._run("materializations", lambda c: q.fetch_materializations(c, query))

    async def latest(
        self,
        asset: str,
        partitions: Sequence[str | None],
        *,
        status: str | None = "succeeded",
        as_of: datetime | None = None,
    ) -> dict[str | None, MaterializationRecord]:
        """Return, per partition given, its newest materialization (one query)."""
        query = q.latest_query(self._st, asset, list(partitions), status, check_as_of(as_of))
        found = await self._run("latest", lambda c: q.fetch_materializations(c, query))
        return {record.partition: record for record in found}

    async def latest_statuses(self, asset: str) -> dict[str | None, str]:
        """Return the status of the newest materialization of every recorded partition."""
        query = _sql.latest_statuses(self._st.dialect, asset)
        return dict(await self._run("latest_statuses", lambda c: q.fetch_pairs(c, query)))

    async def status_counts(self, asset: str) -> dict[str, int]:
        """Count partitions of ``asset`` by the status of their newest materialization."""
        query = _sql.status_counts(self._st.dialect, asset)
        return dict(await self._run("status_counts", lambda c: q.fetch_pairs(c, query)))

    # -- partition status ranges --------------------------------------------------------------

    async def partition_ranges(
        self, asset: str, *, first: int | None = None, last: int | None = None
    ) -> RangeSummary:
        """Return the status ranges of ``asset`` (see ``Storage.partition_ranges``)."""
        schema = self._st.schema
        pipeline = self.pipeline
        return await self._run(
            "partition_ranges", lambda c: pg_ranges.read(c, schema, pipeline, asset, first, last)
        )

    async def partition_orderings(self) -> dict[str, str]:
        """Return, per asset that has status ranges, the fingerprint they follow."""
        schema, pipeline = self._st.schema, self.pipeline
        return await self._run(
            "partition_orderings", lambda c: pg_ranges.orderings(c, schema, pipeline)
        )

    async def rebuild_partition_ranges(self, asset: str) -> RangeSummary:
        """Recompute the status ranges of ``asset`` (see ``Storage.rebuild_partition_ranges``)."""
        order, schema = self._order_for(asset), self._st.schema
        await self._run(
            "rebuild_partition_ranges",
            lambda c: pg_ranges.rebuild(c, schema, self.pipeline, asset, order),
        )
        return await self.partition_ranges(asset)

    # -- lineage ------------------------------------------------------------------------------

    async def upstream(
        self, asset: str, partition: str | None, *, as_of: datetime | None = None
    ) -> list[LineageEntry]:
        """Transitive upstream (see ``Storage.upstream``)."""
        query = _sql.upstream(self._st.dialect, asset, partition, as_of)
        return await self._run("upstream", lambda c: q.lineage(c, query))

    async def downstream(self, asset: str, partition: str | None) -> list[LineageEntry]:
        """Transitive downstream (see ``Storage.downstream``)."""
        query = _sql.downstream(self._st.dialect, asset, partition)
        return await self._run("downstream", lambda c: q.lineage(c, query))

    # -- dynamic partitions -------------------------------------------------------------------

    async def add_dynamic_partitions(self, name: str, keys: Iterable[str]) -> list[str]:
        """Add keys to a dynamic partitions set; return the keys that were new."""
        wanted = check_dynamic_keys(name, keys)
        return await self._run(
            "add_dynamic_partitions",
            lambda c: q.add_dynamic_partitions(c, self._st, name, wanted),
        )

    async def dynamic_partitions(self, name: str) -> list[str]:
        """Return the keys of a dynamic partitions set, in insertion order."""
        text = f"SELECT key FROM {self._st.schema}.dynamic_partitions WHERE name = $1 ORDER BY seq"

        async def fetch(conn: asyncpg.Connection) -> list[str]:
            return [row["key"] for row in await conn.fetch(text, name)]

        return await self._run("dynamic_partitions", fetch)

    async def delete_dynamic_partition(self, name: str, key: str) -> bool:
        """Remove one key; return whether it existed."""
        text = f"DELETE FROM {self._st.schema}.dynamic_partitions WHERE name = $1 AND key = $2"

        async def delete(conn: asyncpg.Connection) -> bool:
            return str(await conn.execute(text, name, key)) != "DELETE 0"

        return await self._run("delete_dynamic_partition", delete)

    # -- maintenance --------------------------------------------------------------------------

    async def prune(self, older_than: datetime) -> int:
        """Delete old materializations that nothing kept needs (see ``Storage.prune``)."""
        text, args = _sql.prune(self._st.dialect, older_than).positional()

        cutoff = self._st.dialect.time(older_than, "older_than")

        async def delete(conn: asyncpg.Connection) -> int:
            await conn.execute(f"DELETE FROM {self._st.schema}.changes WHERE at < $1", cutoff)
            status = await conn.execute(text, *args)
            return int(str(status).rsplit(" ", 1)[-1])

        return await self._run("prune", delete)

    # -- run logs -----------------------------------------------------------------------------

    async def append_run_logs(
        self, lines: Sequence[RunLogLine], *, drop: Sequence[RunLogLine] = ()
    ) -> None:
        """Store captured log lines in one transaction, after deleting ``drop`` (under the
        lines' tenant when they share one)."""
        if not lines and not drop:
            return
        rows, gone = list(lines), list(drop)
        tenants = {line.tenant for line in (*rows, *gone)}
        tenant = next(iter(tenants)) if len(tenants) == 1 else None
        await self._run(
            "append_run_logs",
            lambda c: postgres_append(c, self._st.schema, rows, gone),
            tenant=tenant if tenant == current_tenant() else None,
        )

    async def run_logs(self, run_id: str, *, limit: int | None = None) -> list[RunLogLine]:
        """Return the log lines of ``run_id``, oldest first."""
        return await self._run(
            "run_logs", lambda c: postgres_read(c, self._st.schema, run_id, limit)
        )

    # -- change log ---------------------------------------------------------------------------

    async def changes(self, after: int = 0, *, limit: int = 1000) -> list[Change]:
        """Return the change-log rows of this pipeline numbered above ``after``, oldest
        first."""
        schema, pipeline = self._st.schema, self.pipeline
        return await self._run(
            "changes", lambda c: pc.fetch_changes(c, schema, pipeline, after, limit)
        )

    async def report_runtime(self, snapshot: RuntimeSnapshot) -> None:
        """Store a runtime's report (see ``Storage.report_runtime``)."""
        schema = self._st.schema
        await self._run(
            "report_runtime", lambda c: pc.write_runtime(c, schema, snapshot), tenant=None
        )

    async def runtimes(self, *, seen_after: datetime) -> list[RuntimeSnapshot]:
        """Return this pipeline's runtimes seen after ``seen_after``, newest first."""
        cutoff = require_aware(seen_after, "seen_after")
        schema, pipeline = self._st.schema, self.pipeline
        return await self._run("runtimes", lambda c: pc.fetch_runtimes(c, schema, pipeline, cutoff))

    async def last_change(self) -> int:
        """Return the number of the newest change-log row."""
        schema, pipeline = self._st.schema, self.pipeline
        return await self._run("last_change", lambda c: pc.last_change(c, schema, pipeline))

    async def wait_for_changes(self, after: int, timeout: float) -> bool:
        """Wait for a notification from a writer (``LISTEN``), or ``timeout``.

        One dedicated connection listens; a lost one is replaced on the next call, and the
        newest number is always re-read first, so nothing committed is waited past.
        """
        signal = await self._listen()
        signal.clear()
        if await self.last_change() > after:
            return True
        try:
            await asyncio.wait_for(signal.wait(), timeout)
        except TimeoutError:
            pass
        return await self.last_change() > after

    async def _listen(self) -> asyncio.Event:
        listener = self._listener
        if listener is not None and not ps.is_closed(listener[0]):
            return listener[1]
        signal = asyncio.Event()
        conn = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
        await conn.add_listener(self._st.channel, lambda *_: signal.set())
        self._listener = (conn, signal)
        return signal
