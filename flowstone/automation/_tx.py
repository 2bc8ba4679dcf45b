"""One transaction of the automation store, whatever the SQL engine.

Internal. The store's logic (``_queue_sql``) is written once, as coroutines over a ``Tx``.
On PostgreSQL they really await asyncpg; on SQLite every method returns without suspending,
so the store's worker thread drives the whole coroutine synchronously with ``drive()``
inside one ``BEGIN IMMEDIATE`` transaction, off the event loop.

Statements use ``{t}`` before table names and ``:name`` parameters.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Coroutine, Sequence
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from flowstone.storage._codec import from_micros, require_aware, to_micros

T = TypeVar("T")
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class Tx:
    """The operations the store's logic needs from a transaction."""

    engine: str = ""
    prefix: str = ""
    skip_locked: str = ""

    def sql(self, text: str) -> str:
        """Put the table prefix into ``text``."""
        return text.replace("{t}", self.prefix)

    def time(self, value: datetime) -> Any:
        """Convert an aware datetime to the column type."""
        raise NotImplementedError

    def from_time(self, value: Any) -> datetime:
        """Convert a column value back to an aware UTC datetime."""
        raise NotImplementedError

    async def execute(self, text: str, **params: Any) -> int:
        """Run a statement; return the number of rows it touched."""
        raise NotImplementedError

    async def fetch(self, text: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run a query; return its rows."""
        raise NotImplementedError

    async def lock(self, name: str) -> None:
        """Serialise this transaction with every other one taking the same lock."""


def in_list(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """Return ``(:p0, :p1, ...)`` and its parameters (``(NULL)`` when empty)."""
    if not values:
        return "(NULL)", {}
    names = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return "(" + ", ".join(f":{n}" for n in names) + ")", names


class SQLiteTx(Tx):
    """A transaction on a ``sqlite3`` connection (the caller holds BEGIN IMMEDIATE)."""

    engine = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def time(self, value: datetime) -> Any:
        return to_micros(require_aware(value, "a time"))

    def from_time(self, value: Any) -> datetime:
        return from_micros(int(value))

    async def execute(self, text: str, **params: Any) -> int:
        return self.conn.execute(self.sql(text), params).rowcount

    async def fetch(self, text: str, **params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.conn.execute(self.sql(text), params).fetchall()]


class PostgresTx(Tx):
    """A transaction on an asyncpg connection (the caller opened it)."""

    engine = "postgres"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.prefix = f'"{schema}".'
        self._lock_base = schema

    def time(self, value: datetime) -> Any:
        return require_aware(value, "a time")

    def from_time(self, value: Any) -> datetime:
        return value  # type: ignore[no-any-return]

    def _positional(self, text: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
        order: dict[str, int] = {}

        def number(match: re.Match[str]) -> str:
            return f"${order.setdefault(match.group(1), len(order) + 1)}"

        sql = _PARAM.sub(number, self.sql(text))
        return sql, [params[name] for name in order]

    async def execute(self, text: str, **params: Any) -> int:
        sql, args = self._positional(text, params)
        status: str = await self.conn.execute(sql, *args)
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def fetch(self, text: str, **params: Any) -> list[tuple[Any, ...]]:
        sql, args = self._positional(text, params)
        return [tuple(row) for row in await self.conn.fetch(sql, *args)]

    async def lock(self, name: str) -> None:
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))", f"{self._lock_base}:{name}"
        )


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (a ``SQLiteTx`` program) to completion."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a SQLite store program suspended; it must only await SQLiteTx calls")
