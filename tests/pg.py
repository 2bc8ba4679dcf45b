"""Throwaway PostgreSQL databases for tests, on the real server at 127.0.0.1:5432.

Each fixture creates a fresh database named ``fs_test_<random>`` (as the ``postgres`` user, or
whatever ``FLOWSTONE_TEST_POSTGRES_URL`` names) and drops it afterwards ``WITH (FORCE)``, so a
test that leaves connections behind cannot keep its database alive. Import into a test module
or a ``conftest.py`` (the repository root must be on ``sys.path``)::

    from tests.pg import database_fixture, terminate_connections

    pg_url = database_fixture()                   # a fresh database per test
    pg_module_url = database_fixture(scope="module")   # one per test module

    @pytest.mark.postgres
    async def test_something(pg_url): ...

When the server cannot be reached the fixtures skip the test with the reason, or fail it
where ``FLOWSTONE_REQUIRE_SERVICES=1`` (``.ci/run`` sets it after ``.ci/services.sh`` has
started the server; see ``tests/services.py``). The helpers are synchronous where
fixtures need them to be: they run their own event loop on a separate thread, so they never
touch the loop a test is running on.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.services import unavailable

T = TypeVar("T")

ADMIN_URL = os.environ.get(
    "FLOWSTONE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PREFIX = "fs_test"


def url_for(database: str, base: str = ADMIN_URL) -> str:
    """Return ``base`` pointing at another database on the same server."""
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def database_of(url: str) -> str:
    """Return the database name in a URL."""
    return urlsplit(url).path.lstrip("/")


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private loop in a private thread."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make())
        except BaseException as exc:  # re-raised in the calling thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="tests.pg")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


@cache
def unreachable_reason() -> str | None:
    """Return why the test server cannot be used, or None when it can (probed once)."""

    async def probe() -> None:
        conn = await asyncpg.connect(ADMIN_URL, timeout=5)
        await conn.close()

    try:
        run_sync(probe)
    except Exception as exc:
        return (
            f"PostgreSQL is not reachable at {ADMIN_URL} ({type(exc).__name__}: {exc}); "
            f"start it with `make services` or set FLOWSTONE_TEST_POSTGRES_URL"
        )
    return None


def require_postgres() -> None:
    """Skip the calling test when the server is unreachable (fail it when services are
    required)."""
    reason = unreachable_reason()
    if reason is not None:
        unavailable(reason)


async def acreate_database(prefix: str = PREFIX) -> str:
    """Create a fresh, empty database and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url_for(name)


async def adrop_database(url: str) -> None:
    """Drop a database made by ``acreate_database``, disconnecting whoever still uses it."""
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database_of(url)}" WITH (FORCE)')
    finally:
        await conn.close()


def create_database(prefix: str = PREFIX) -> str:
    """Synchronous ``acreate_database``."""
    return run_sync(lambda: acreate_database(prefix))


def drop_database(url: str) -> None:
    """Synchronous ``adrop_database``."""
    run_sync(lambda: adrop_database(url))


@contextmanager
def fresh_database(prefix: str = PREFIX) -> Iterator[str]:
    """Create a database for the block and drop it afterwards; skip (or fail, when services
    are required) if the server is unreachable."""
    require_postgres()
    url = create_database(prefix)
    try:
        yield url
    finally:
        drop_database(url)


Scope = Literal["session", "package", "module", "class", "function"]


def database_fixture(*, scope: Scope = "function", prefix: str = PREFIX) -> Any:
    """Return a pytest fixture yielding the URL of a fresh database (per ``scope``); assign
    it to a module-level name, which becomes the fixture's name."""

    def database() -> Iterator[str]:
        with fresh_database(prefix) as url:
            yield url

    return pytest.fixture(scope=scope)(database)


async def terminate_connections(url: str) -> int:
    """Terminate every other backend connected to the database of ``url``, as a server
    restart would; return how many were terminated."""
    # Connect through the admin database: the target may be refusing new connections.
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database_of(url),
        )
    finally:
        await conn.close()
    return sum(1 for row in rows if row[0])


async def set_accepting_connections(url: str, accepting: bool) -> None:
    """Let the database of ``url`` accept new connections or refuse them (even from
    superusers), to simulate a server that is down without stopping it."""
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        flag = "true" if accepting else "false"
        await conn.execute(f'ALTER DATABASE "{database_of(url)}" ALLOW_CONNECTIONS {flag}')
    finally:
        await conn.close()


async def aclear_schema(url: str, schema: str, *, keep: tuple[str, ...] = ()) -> None:
    """Delete every row of every table in ``schema`` (except the tables in ``keep``), if the
    schema exists: a cheap reset between tests that share one database and one schema."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
        names = [f'"{schema}"."{t["tablename"]}"' for t in tables if t["tablename"] not in keep]
        if names:
            # DELETE, not TRUNCATE: on a few rows it is far cheaper (no new relation files).
            async with conn.transaction():
                # Replica mode skips ordinary triggers for this transaction, among them
                # those that keep the approval audit append-only (a superuser reset).
                await conn.execute("SET LOCAL session_replication_role = replica")
                for name in names:
                    await conn.execute(f"DELETE FROM {name}")
    finally:
        await conn.close()


def clear_schema(url: str, schema: str, *, keep: tuple[str, ...] = ()) -> None:
    """Synchronous ``aclear_schema``."""
    run_sync(lambda: aclear_schema(url, schema, keep=keep))
