"""``AutomationStore``: the run queue, daemon heartbeats, ticks, cursors, run keys and
automation decisions, kept in the record store's own database (migration 5).

Internal. It shares the database of a ``Storage`` (so a queued run's ``runs`` row and its
queue row commit together) but keeps its own connections: one thread and connection for
SQLite (each call is one ``BEGIN IMMEDIATE`` transaction), a small asyncpg pool for
PostgreSQL. Every public method is one transaction running a program of ``_queue_sql``
or ``_tick_sql``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from flowstone.automation import _handoff_sql as h
from flowstone.automation import _queue_sql as q
from flowstone.automation import _tick_sql as t
from flowstone.automation._clock import wall_now
from flowstone.automation._records import (
    AutomationState,
    Claim,
    DaemonRecord,
    Decision,
    Limits,
    QueuedRun,
    QueueEntry,
    Renewal,
    TickOutcome,
    TickRecord,
)
from flowstone.automation._tx import PostgresTx, SQLiteTx, Tx, drive
from flowstone.errors import StorageError
from flowstone.storage import MemoryStorage, SQLiteStorage, Storage

T = TypeVar("T")
Program = Callable[..., Coroutine[Any, Any, T]]

LostLease = t.LostLease


class AutomationStore:
    """The queue and automation tables of one record store. Use ``open_automation_store``."""

    url: str = ""

    async def open(self) -> None:
        """Connect (the record store's migrations created the tables)."""

    async def close(self) -> None:
        """Release connections."""

    async def _run(self, program: Program[T], *args: Any) -> T:
        raise NotImplementedError

    # -- queue --------------------------------------------------------------------------------

    async def enqueue(self, runs: Sequence[QueuedRun], now: datetime) -> list[str]:
        """Record queued runs (run rows and queue rows, one transaction); return new ids."""
        return await self._run(q.enqueue_all, list(runs), now)

    async def claim(
        self,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limits: Limits,
        code_version: str | None = None,
    ) -> list[Claim]:
        """Claim runs for ``owner`` under a lease (see ``_queue_sql.claim``); the claim
        records the code version the daemon will run them with."""
        return await self._run(q.claim, owner, now, lease_until, limits, code_version)

    async def renew(
        self, owner: str, run_ids: Sequence[str], now: datetime, lease_until: datetime
    ) -> Renewal:
        """Heartbeat: extend leases, report lost runs and cancel requests."""
        return await self._run(q.renew, owner, list(run_ids), now, lease_until)

    async def finish(self, owner: str, run_id: str, *, look_again: bool = True) -> bool:
        """Mark a claimed run done (queued again when it waits at a gate decided
        meanwhile, unless ``look_again`` is False; see ``_handoff_sql``); False when the
        lease was lost."""
        return await self._run(q.finish, owner, run_id, wall_now() if look_again else None)

    async def hand_off(self, run_id: str, now: datetime) -> str:
        """Queue ``run_id`` to be resumed after a decision (see ``_handoff_sql.hand_off``)."""
        return await self._run(h.hand_off, run_id, now)

    async def claim_run(
        self, run_id: str, owner: str, now: datetime, lease_until: datetime
    ) -> Claim | None:
        """Claim the queue row of one run for ``owner``; None when someone else holds it."""
        return await self._run(h.claim_run, run_id, owner, now, lease_until)

    async def abandon(self, owner: str, run_id: str, now: datetime, reason: str) -> bool:
        """Fail a claimed run that cannot be executed (recorded with ``reason``)."""
        return await self._run(q.abandon, owner, run_id, now, reason)

    async def release(self, owner: str, run_id: str) -> bool:
        """Hand a claimed run back to the queue."""
        return await self._run(q.release, owner, run_id)

    async def queue_depth(self, pipeline: str) -> tuple[int, dict[str, int]]:
        """The queued (unclaimed) runs of ``pipeline``: in all, and per pool."""
        return await self._run(q.depth, pipeline)

    async def request_cancel(self, run_id: str, now: datetime) -> str:
        """Cancel a queued run, or flag a claimed one for its daemon."""
        return await self._run(q.request_cancel, run_id, now)

    async def entries(
        self, states: Sequence[str] = ("queued", "claimed"), limit: int = 1000
    ) -> list[QueueEntry]:
        """Queue rows in ``states``, oldest first."""
        return await self._run(q.entries, list(states), limit)

    # -- daemons ------------------------------------------------------------------------------

    async def register_daemon(self, daemon: DaemonRecord) -> None:
        """Insert or refresh a daemon's row."""
        await self._run(q.register_daemon, daemon)

    async def set_daemon_status(self, daemon_id: str, status: str, now: datetime) -> None:
        """Record a daemon draining or stopped."""
        await self._run(q.set_daemon_status, daemon_id, status, now)

    async def daemons(self) -> list[DaemonRecord]:
        """Every daemon with the runs it holds."""
        return await self._run(q.daemons)

    # -- ticks and state ----------------------------------------------------------------------
    # Keyed by pipeline (migration 9): pipelines sharing the store may name their schedules,
    # sensors and assets alike without taking each other's ticks, cursors or decisions.

    async def claim_tick(
        self,
        pipeline: str,
        origin: str,
        tick_at: datetime,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> bool:
        """Claim a tick of ``pipeline`` (new, or abandoned by an expired lease)."""
        return await self._run(t.claim_tick, pipeline, origin, tick_at, owner, now, lease_until)

    async def complete_tick(
        self,
        pipeline: str,
        origin: str,
        tick_at: datetime,
        owner: str,
        now: datetime,
        outcome: TickOutcome,
    ) -> list[str]:
        """Finish a tick and create its runs atomically; raises ``LostLease``."""
        return await self._run(t.complete_tick, pipeline, origin, tick_at, owner, now, outcome)

    async def ticks(
        self, pipeline: str | None, origin: str | None = None, limit: int = 50
    ) -> list[TickRecord]:
        """Ticks of ``pipeline`` (None: of every pipeline), newest first."""
        return await self._run(t.ticks, pipeline, origin, limit)

    async def run_keys(self, pipeline: str, origin: str) -> dict[str, str]:
        """Every run key ``origin`` of ``pipeline`` used, with the run it created."""
        return await self._run(t.run_keys, pipeline, origin)

    async def tick_anchor(
        self, pipeline: str, origin: str
    ) -> tuple[datetime | None, list[datetime]]:
        """The newest tick time and the unfinished ticks of ``origin`` of ``pipeline``."""
        return await self._run(t.tick_anchor, pipeline, origin)

    async def states(
        self, pipeline: str, origins: Sequence[str], now: datetime
    ) -> list[AutomationState]:
        """The state of each origin of ``pipeline`` (created enabled when missing)."""
        return await self._run(t.states, pipeline, list(origins), now)

    async def set_enabled(self, pipeline: str, origin: str, enabled: bool, now: datetime) -> None:
        """Turn a schedule or sensor of ``pipeline`` on or off (persists across restarts)."""
        await self._run(t.set_enabled, pipeline, origin, enabled, now)

    async def record_decisions(self, pipeline: str, decisions: Sequence[Decision]) -> None:
        """Keep the latest automation decision of each asset partition of ``pipeline``."""
        await self._run(t.record_decisions, pipeline, list(decisions))

    async def decisions(
        self, pipeline: str, asset: str, partition: str | None = None, *, every: bool = False
    ) -> list[Decision]:
        """The latest decision of an asset partition (or of all its partitions)."""
        return await self._run(t.decisions, pipeline, asset, partition, every)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


class SQLiteAutomationStore(AutomationStore):
    """The automation tables of a SQLite record store (its own thread and connection)."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="flowstone-automation")

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
            await asyncio.to_thread(executor.shutdown, True)

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def _run(self, program: Program[T], *args: Any) -> T:
        if self._executor is None:
            raise StorageError(f"{self!r} is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, program, args)

    def _transaction(self, program: Program[T], args: tuple[Any, ...]) -> T:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(
                    self.path, timeout=self._busy_timeout, isolation_level=None
                )
                self._conn.execute("PRAGMA synchronous=NORMAL")
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = drive(program(SQLiteTx(conn), *args))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            raise StorageError(f"SQLite error on {self.url}: {exc}") from exc


# Lost connections are retried like the record store does: every program is one
# transaction, rolled back when the connection drops, so running it again is safe.
_TRANSIENT = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    ConnectionError,
    OSError,
)


class PostgresAutomationStore(AutomationStore):
    """The automation tables of a PostgreSQL record store (its own small pool)."""

    def __init__(
        self, dsn: str, schema: str, url: str, *, retries: int = 5, max_size: int = 8
    ) -> None:
        self._dsn, self.schema, self.url = dsn, schema, url
        self._retries = retries
        # Every schedule and sensor actor and the executor share the pool; each holds a
        # connection only for one short transaction.
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._max_size,
                server_settings={"application_name": "flowstone-automation", "jit": "off"},
            )

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await pool.close()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()

    async def _run(self, program: Program[T], *args: Any) -> T:
        for attempt in range(self._retries + 1):
            try:
                return await self._once(program, args)
            except _TRANSIENT as exc:
                if attempt == self._retries:
                    raise StorageError(f"PostgreSQL error on {self.url}: {exc}") from exc
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")

    async def _once(self, program: Program[T], args: tuple[Any, ...]) -> T:
        if self._pool is None:
            raise StorageError(f"{self!r} is not open")
        async with self._pool.acquire() as conn, conn.transaction():
            tx: Tx = PostgresTx(conn, self.schema)
            return await program(tx, *args)


def open_automation_store(storage: Storage) -> AutomationStore:
    """Return the automation store sharing ``storage``'s database (not yet opened).

    Raises:
        StorageError: for the in-memory record store, which no other process can reach.
    """
    if isinstance(storage, SQLiteStorage):
        return SQLiteAutomationStore(storage.path)
    if isinstance(storage, MemoryStorage):
        raise StorageError(
            "the run queue needs a record store other processes can reach; use "
            "storage='sqlite:///PATH' or 'postgresql://...' instead of 'memory'"
        )
    # PostgresStorage is imported lazily by flowstone.storage (it loads asyncpg).
    dsn = getattr(storage, "_dsn", None)
    schema = getattr(storage, "schema", None)
    if isinstance(dsn, str) and isinstance(schema, str):
        return PostgresAutomationStore(dsn, schema, storage.url)
    raise StorageError(f"{storage!r} has no run queue; use a SQLite or PostgreSQL store")
