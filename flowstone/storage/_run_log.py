"""Run logs: the log lines a run's asset code wrote, kept with the run's records.

Internal, not part of the public API (``RunLogLine`` is re-exported by ``flowstone.storage``).
Lines are appended, never updated; a run's lines come back in the order they were written
(``at``, then ``seq``, the capture's own counter). The ``run_logs`` table (schema version 7)
carries a ``tenant`` column like the record tables, so PostgreSQL's row-level security keeps
one tenant from reading another's lines.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowstone.storage._codec import from_micros, require_aware, to_micros


@dataclass(frozen=True, slots=True)
class RunLogLine:
    """One log line written during a run (by ``context.log`` or any Python logger)."""

    run_id: str
    seq: int
    """Order among lines written at the same instant (the capture's counter)."""
    at: datetime
    level: str
    logger: str
    message: str
    asset: str | None = None
    partition: str | None = None
    """The encoded partition key of the attempt that wrote it."""
    attempt: int | None = None
    trace_id: str | None = None
    """Hex trace id of the span that was current (32 digits), when tracing is on."""
    span_id: str | None = None
    tenant: str | None = None


_COLUMNS = (
    "run_id, seq, at, level, logger, message, asset, partition, attempt, trace_id, span_id, tenant"
)

SQLITE_V7 = (
    """CREATE TABLE IF NOT EXISTS run_logs (
        run_id    TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        at        INTEGER NOT NULL,
        level     TEXT NOT NULL,
        logger    TEXT NOT NULL,
        message   TEXT NOT NULL,
        asset     TEXT,
        partition TEXT,
        attempt   INTEGER,
        trace_id  TEXT,
        span_id   TEXT,
        tenant    TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS run_logs_by_run ON run_logs (run_id, at, seq)",
)

POSTGRES_V7 = (
    """CREATE TABLE IF NOT EXISTS {s}.run_logs (
        run_id    text COLLATE "C" NOT NULL,
        seq       bigint NOT NULL,
        at        timestamptz NOT NULL,
        level     text NOT NULL,
        logger    text NOT NULL,
        message   text NOT NULL,
        asset     text COLLATE "C",
        partition text,
        attempt   integer,
        trace_id  text,
        span_id   text,
        tenant    text COLLATE "C"
    )""",
    "CREATE INDEX IF NOT EXISTS run_logs_by_run ON {s}.run_logs (run_id, at, seq)",
)


def _values(line: RunLogLine, to_time: Any) -> tuple[Any, ...]:
    require_aware(line.at, "run log line at")
    return (
        line.run_id,
        line.seq,
        to_time(line.at),
        line.level,
        line.logger,
        line.message,
        line.asset,
        line.partition,
        line.attempt,
        line.trace_id,
        line.span_id,
        line.tenant,
    )


def _line(row: Sequence[Any], from_time: Any) -> RunLogLine:
    run_id, seq, at, level, logger, message, asset, partition, attempt, trace, span, tenant = row
    return RunLogLine(
        run_id,
        seq,
        from_time(at),
        level,
        logger,
        message,
        asset,
        partition,
        attempt,
        trace,
        span,
        tenant,
    )


def _limit_clause(limit: int | None, placeholder: str) -> str:
    return "" if limit is None else f" LIMIT {placeholder}"


# -- SQLite (runs on the backend's threads) -----------------------------------------------------


# A line is deleted (pushed out of its run's bound while the run goes on) by its run, seq,
# time and logger: seq alone may repeat across processes (each capture counts from 1), and
# the marker line takes the seq before the oldest kept line's.
_DROP_WHERE = "run_id = {0} AND at = {1} AND seq = {2} AND logger = {3}"


def _drop_key(line: RunLogLine, to_time: Any) -> tuple[Any, ...]:
    return (line.run_id, to_time(require_aware(line.at, "run log line at")), line.seq, line.logger)


def sqlite_append(
    conn: sqlite3.Connection, lines: Sequence[RunLogLine], drop: Sequence[RunLogLine] = ()
) -> None:
    """Delete ``drop`` and insert ``lines``, in one transaction."""
    rows = [_values(line, to_micros) for line in lines]
    gone = [_drop_key(line, to_micros) for line in drop]
    conn.execute("BEGIN IMMEDIATE")
    try:
        if gone:
            where = _DROP_WHERE.format("?", "?", "?", "?")
            conn.executemany(f"DELETE FROM run_logs WHERE {where}", gone)
        conn.executemany(f"INSERT INTO run_logs ({_COLUMNS}) VALUES ({', '.join('?' * 12)})", rows)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def sqlite_read(conn: sqlite3.Connection, run_id: str, limit: int | None) -> list[RunLogLine]:
    """Return the lines of ``run_id`` in order (the last ``limit`` when given)."""
    text = f"SELECT {_COLUMNS} FROM run_logs WHERE run_id = ? ORDER BY at DESC, seq DESC"
    params: tuple[Any, ...] = (run_id,) if limit is None else (run_id, limit)
    rows = conn.execute(text + _limit_clause(limit, "?"), params).fetchall()
    return [_line(row, from_micros) for row in reversed(rows)]


# -- PostgreSQL (asyncpg) ---------------------------------------------------------------------


async def postgres_append(
    conn: Any, schema: str, lines: Sequence[RunLogLine], drop: Sequence[RunLogLine] = ()
) -> None:
    """Delete ``drop`` and insert ``lines``, in one transaction (one statement batch each)."""
    rows = [_values(line, _same) for line in lines]
    marks = ", ".join(f"${i}" for i in range(1, 13))
    insert = f"INSERT INTO {schema}.run_logs ({_COLUMNS}) VALUES ({marks})"
    if not drop:
        await conn.executemany(insert, rows)
        return
    gone = [_drop_key(line, _same) for line in drop]
    where = _DROP_WHERE.format("$1", "$2", "$3", "$4")
    async with conn.transaction():
        await conn.executemany(f"DELETE FROM {schema}.run_logs WHERE {where}", gone)
        if rows:
            await conn.executemany(insert, rows)


async def postgres_read(conn: Any, schema: str, run_id: str, limit: int | None) -> list[RunLogLine]:
    """Return the lines of ``run_id`` in order (the last ``limit`` when given)."""
    text = (
        f"SELECT {_COLUMNS} FROM {schema}.run_logs WHERE run_id = $1 "
        f"ORDER BY at DESC, seq DESC{_limit_clause(limit, '$2')}"
    )
    args = (run_id,) if limit is None else (run_id, limit)
    rows = await conn.fetch(text, *args)
    return [_line(tuple(row), _same) for row in reversed(rows)]


def _same(value: Any) -> Any:
    return value
