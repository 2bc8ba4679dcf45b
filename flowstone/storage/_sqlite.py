"""The embedded SQLite record store, FlowStone's default.

``sqlite3`` blocks, so no call here touches the database on the event loop. All writes go to
one dedicated writer thread that owns the only write connection (SQLite allows one writer at
a time anyway; a single thread also keeps transactions strictly ordered). Reads run on a small
pool of reader threads with their own connections; WAL mode lets them proceed while a write
is in progress. The default ``synchronous=NORMAL`` (in WAL mode) makes a commit that
``write()`` returned survive the death of the process (``kill -9``) at about 15 µs per
commit; ``synchronous="full"`` (``sqlite:///path?synchronous=full``) adds an fsync per commit
(about 3 ms here) so it also survives power loss. See docs/adr/0011.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from flowstone.errors import StorageError, StorageUnavailable
from flowstone.storage import _sql
from flowstone.storage import _sqlite_queries as q
from flowstone.storage import _sqlite_ranges as sqlite_ranges
from flowstone.storage._approval_sqlite import SQLiteApprovalStore
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
from flowstone.storage._run_log import RunLogLine, sqlite_append, sqlite_read
from flowstone.storage._sqlite_thread import WriterThread
from flowstone.storage._storage import Storage

T = TypeVar("T")


class SQLiteStorage(Storage):
    """A ``Storage`` in one SQLite file (WAL mode, durable commits).

    Args:
        path: the database file; its directory is created on ``open()``.
        readers: how many reader threads (and read connections) to keep.
        busy_timeout: seconds to wait for another process's write lock before failing.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        readers: int = 2,
        busy_timeout: float = 30.0,
        synchronous: str = "normal",
        pipeline: str = "",
    ) -> None:
        if synchronous.lower() not in ("normal", "full"):
            raise StorageError(
                f"SQLite synchronous must be 'normal' (survives process crashes) or 'full' "
                f"(also survives power loss), got {synchronous!r}"
            )
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        suffix = "?synchronous=full" if self.synchronous == "FULL" else ""
        self.url = f"sqlite:///{self.path}{suffix}"
        self.pipeline = pipeline
        self._d = replace(q.DIALECT, pipeline=pipeline)
        self._readers_count = max(1, readers)
        self._busy_timeout = busy_timeout
        self._writer: WriterThread | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.approvals = SQLiteApprovalStore(self)

    def for_pipeline(self, pipeline: str) -> SQLiteStorage:
        """Return a store on the same file for ``pipeline``'s records (not yet opened)."""
        return SQLiteStorage(
            self.path,
            readers=self._readers_count,
            busy_timeout=self._busy_timeout,
            synchronous=self.synchronous.lower(),
            pipeline=pipeline,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the file if needed and apply pending migrations."""
        if self._writer is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the directory of {self.url}: {exc}") from exc
        self._writer = WriterThread("flowstone-sqlite-writer")
        self._readers = ThreadPoolExecutor(
            self._readers_count, thread_name_prefix="flowstone-sqlite-reader"
        )
        try:
            await self._write(q.migrate, self.url)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Finish pending calls and close every connection."""
        writer, readers = self._writer, self._readers
        self._writer = self._readers = None
        if writer is not None or readers is not None:
            # Joining threads blocks; do it off the loop.
            await asyncio.to_thread(_shutdown, writer, readers)
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    async def schema_version(self) -> int:
        """Return the applied schema version."""
        return await self._read(q.schema_version)

    # -- threads ------------------------------------------------------------------------------

    def _connection(self, *, writer: bool) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(writer=writer)
            self._local.conn = conn
        return conn

    def _connect(self, *, writer: bool) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # transactions are explicit (BEGIN IMMEDIATE)
                check_same_thread=False,  # closed from the loop thread on close()
            )
            if writer:
                _enable_wal(conn, self._busy_timeout)
                conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the SQLite database {self.url}: {exc}") from exc
        if not writer:
            conn.execute("PRAGMA query_only=ON")
        with self._lock:
            self._connections.append(conn)
        return conn

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        if self._writer is None:
            raise StorageError(f"{self!r} is not open; call `await storage.open()` first")
        return await self._writer.submit(partial(self._call, True, fn, *args))

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._readers is None:
            raise StorageError(f"{self!r} is not open; call `await storage.open()` first")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, partial(self._call, False, fn, *args))

    def _call(self, writer: bool, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(self._connection(writer=writer), *args)
        except sqlite3.Error as exc:
            raise _error(self.url, exc) from exc

    # -- writes -------------------------------------------------------------------------------

    async def write(self, batch: WriteBatch) -> None:
        """Commit the batch in one durable transaction (see ``Storage.write``)."""
        runs, mats = prepare_batch(batch, self.pipeline)
        if runs or mats:
            orders = dict(self.partition_orders)
            await self._write(q.write, runs, mats, self.pipeline, orders)

    # -- runs ---------------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> RunRecord | None:
        """Return one run."""
        found = await self._read(q.fetch_runs, _sql.get_run(self._d, run_id))
        return found[0] if found else None

    async def list_runs(
        self, *, limit: int = 50, status: str | None = None, backfill_id: str | None = None
    ) -> list[RunRecord]:
        """Return runs, newest first (by started_at, then run_id)."""
        return await self._read(q.fetch_runs, _sql.list_runs(self._d, limit, status, backfill_id))

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
            self._d,
            asset=asset,
            partition=partition,
            any_partition=any_partition,
            run_id=run_id,
            status=status,
            limit=limit,
            before=before,
        )
        return await self._read(q.fetch_materializations, query)

    async def latest(
        self,
        asset: str,
        partitions: Sequence[str | None],
        *,
        status: str | None = "succeeded",
        as_of: datetime | None = None,
    ) -> dict[str | None, MaterializationRecord]:
        """Return, per partition given, its newest materialization (one query)."""
        found = await self._read(
            q.latest, self.pipeline, asset, list(partitions), status, check_as_of(as_of)
        )
        return {record.partition: record for record in found}

    async def latest_statuses(self, asset: str) -> dict[str | None, str]:
        """Return the status of the newest materialization of every recorded partition."""
        query = _sql.latest_statuses(self._d, asset)
        return dict(await self._read(_fetch_pairs, query))

    async def status_counts(self, asset: str) -> dict[str, int]:
        """Count partitions of ``asset`` by the status of their newest materialization."""
        return dict(await self._read(_fetch_pairs, _sql.status_counts(self._d, asset)))

    # -- partition status ranges --------------------------------------------------------------

    async def partition_ranges(
        self, asset: str, *, first: int | None = None, last: int | None = None
    ) -> RangeSummary:
        """Return the status ranges of ``asset`` (see ``Storage.partition_ranges``)."""
        return await self._read(sqlite_ranges.read, self.pipeline, asset, first, last)

    async def partition_orderings(self) -> dict[str, str]:
        """Return, per asset that has status ranges, the fingerprint they follow."""
        return await self._read(sqlite_ranges.orderings, self.pipeline)

    async def rebuild_partition_ranges(self, asset: str) -> RangeSummary:
        """Recompute the status ranges of ``asset`` (see ``Storage.rebuild_partition_ranges``)."""
        await self._write(q.rebuild_ranges, self.pipeline, asset, self._order_for(asset))
        return await self.partition_ranges(asset)

    # -- change log ---------------------------------------------------------------------------

    async def changes(self, after: int = 0, *, limit: int = 1000) -> list[Change]:
        """Return the change-log rows numbered above ``after``, oldest first."""
        return await self._read(q.changes, self.pipeline, after, limit)

    async def report_runtime(self, snapshot: RuntimeSnapshot) -> None:
        """Store a runtime's report (see ``Storage.report_runtime``)."""
        require_aware(snapshot.seen_at, "seen_at")
        await self._write(q.report_runtime, snapshot)

    async def runtimes(self, *, seen_after: datetime) -> list[RuntimeSnapshot]:
        """Return this pipeline's runtimes seen after ``seen_after``, newest first."""
        cutoff = require_aware(seen_after, "seen_after")
        return await self._read(q.runtimes, self.pipeline, cutoff)

    async def last_change(self) -> int:
        """Return the number of the newest change-log row."""
        return await self._read(q.last_change, self.pipeline)

    # -- lineage ------------------------------------------------------------------------------

    async def upstream(
        self, asset: str, partition: str | None, *, as_of: datetime | None = None
    ) -> list[LineageEntry]:
        """Transitive upstream (see ``Storage.upstream``)."""
        return await self._read(q.lineage, _sql.upstream(self._d, asset, partition, as_of))

    async def downstream(self, asset: str, partition: str | None) -> list[LineageEntry]:
        """Transitive downstream (see ``Storage.downstream``)."""
        return await self._read(q.lineage, _sql.downstream(self._d, asset, partition))

    # -- dynamic partitions -------------------------------------------------------------------

    async def add_dynamic_partitions(self, name: str, keys: Iterable[str]) -> list[str]:
        """Add keys to a dynamic partitions set; return the keys that were new."""
        return await self._write(q.add_dynamic_partitions, name, check_dynamic_keys(name, keys))

    async def dynamic_partitions(self, name: str) -> list[str]:
        """Return the keys of a dynamic partitions set, in insertion order."""
        return await self._read(q.dynamic_partitions, name)

    async def delete_dynamic_partition(self, name: str, key: str) -> bool:
        """Remove one key; return whether it existed."""
        return await self._write(q.delete_dynamic_partition, name, key)

    # -- maintenance --------------------------------------------------------------------------

    async def prune(self, older_than: datetime) -> int:
        """Delete old materializations that nothing kept needs (see ``Storage.prune``)."""
        return await self._write(q.prune, self._d, older_than)

    # -- run logs -----------------------------------------------------------------------------

    async def append_run_logs(
        self, lines: Sequence[RunLogLine], *, drop: Sequence[RunLogLine] = ()
    ) -> None:
        """Store captured log lines in one transaction (after deleting ``drop``)."""
        if lines or drop:
            await self._write(sqlite_append, list(lines), list(drop))

    async def run_logs(self, run_id: str, *, limit: int | None = None) -> list[RunLogLine]:
        """Return the log lines of ``run_id``, oldest first."""
        return await self._read(sqlite_read, run_id, limit)


# Primary result codes after which the same statement may succeed later: busy or locked by
# another process, out of memory, an I/O error, a full disk (or max_page_count reached).
_TRANSIENT_CODES = frozenset({5, 6, 7, 10, 13})
_SQLITE_FULL = 13


def _error(url: str, exc: sqlite3.Error) -> StorageError:
    """Classify a SQLite error: ``StorageUnavailable`` when trying again later may work."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary not in _TRANSIENT_CODES:
        return StorageError(f"SQLite error on {url}: {exc}")
    hint = "; it may succeed once the condition clears"
    if primary == _SQLITE_FULL:
        hint = "; free disk space, then the same write succeeds (nothing of it was written)"
    return StorageUnavailable(f"SQLite error on {url}: {exc}{hint}")


def _fetch_pairs(conn: sqlite3.Connection, query: _sql.Query) -> list[tuple[Any, Any]]:
    return [(row[0], row[1]) for row in conn.execute(query.text, query.params)]


def _shutdown(writer: WriterThread | None, readers: ThreadPoolExecutor | None) -> None:
    if writer is not None:
        writer.shutdown()
    if readers is not None:
        readers.shutdown(wait=True)


def _enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL mode, waiting out another process doing the same on a new file.

    Changing the journal mode needs an exclusive lock, and SQLite reports "database is
    locked" at once (without its busy handler) when another connection holds one.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
