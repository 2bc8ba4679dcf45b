"""Connections of the PostgreSQL record store: which failures are worth another attempt,
the message for a statement the server refused, the session settings, and how a connection
goes back to the pool.

Internal, not part of the public API (``_postgres.py`` uses it).
"""

from __future__ import annotations

import hashlib

import asyncpg

from flowstone.tenancy import current_tenant

# Server errors that mean "this connection or this server is going away, try again".
TRANSIENT_SERVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.AdminShutdownError,  # 57P01, e.g. pg_terminate_backend or a fast shutdown
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.CannotConnectNowError,  # 57P03, the server is starting up
    asyncpg.InsufficientResourcesError,  # class 53: disk full, out of memory, connections
    asyncpg.SerializationError,  # 40001
    asyncpg.DeadlockDetectedError,  # 40P01
)
# Connecting cannot succeed by trying again: wrong credentials or no such database.
PERMANENT_CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
)


# JIT compilation costs tens of milliseconds and only pays off for large analytical queries;
# every query here is a short index walk.
SERVER_SETTINGS = {"application_name": "flowstone", "jit": "off"}


def refused_message(url: str, tenant: str | None, exc: BaseException) -> str:
    scope = current_tenant()
    if tenant is not None:
        acting = f"acting for tenant {tenant!r}"
    elif scope is not None:
        acting = (
            f"inside tenant_scope({scope!r}) but with no tenant set, since the records are "
            f"not all {scope!r}'s"
        )
    else:
        acting = "with no tenant set (outside any tenant_scope)"
    return (
        f"PostgreSQL at {url} refused the record store's statement {acting}: {exc}. The "
        f"connecting role lacks a privilege or is confined by the record tables' row-level "
        f"security policies: connect the runtime, which writes every tenant's records, as "
        f"the owner of the record tables, and other roles inside tenant_scope() of the "
        f"tenant whose records they read or write"
    )


def is_closed(conn: asyncpg.Connection) -> bool:
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        return True


async def keep_session(conn: asyncpg.Connection) -> None:
    """Hand a released connection back to the pool as it is (asyncpg rolls back a
    transaction left open first): the store leaves no session state, since its settings are
    transaction-local, its advisory locks transaction-scoped and its ``LISTEN`` on a
    connection of its own. asyncpg's default reset (``pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL``) would undo nothing and cost a round trip on every release."""


async def release(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    try:
        await pool.release(conn)
    except Exception:
        # A connection that died mid-transaction cannot be reset; drop it. The pool opens a
        # fresh one on the next acquire. (The pool may already have taken it back.)
        try:
            conn.terminate()
        except Exception:
            pass


def lock_key(schema: str) -> int:
    """Return the advisory lock key that serialises migrations of ``schema``."""
    digest = hashlib.sha256(f"flowstone.schema:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
