"""Checks on the record store before a command builds a runtime.

A command fails fast and in plain words when its store cannot serve it: a read-only command
never creates a store (a mistyped path would otherwise print an empty history and succeed),
and an unreachable PostgreSQL is reported after one short connection attempt rather than
after the ~16 s of retries a long-running writer rides a server restart out with.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from flowstone.errors import StorageError
from flowstone.storage import open_storage
from flowstone.storage._url import redact

#: Seconds the CLI allows for its first connection to PostgreSQL.
CONNECT_TIMEOUT = 3.0


def check_store(url: str | None, base_dir: Path, *, must_exist: bool) -> None:
    """Raise ``StorageError`` when the store ``url`` names cannot be used now.

    With ``must_exist`` (read-only commands), a SQLite file that does not exist and the
    ``memory`` store are refused; nothing is created either way. A PostgreSQL server is
    tried once, with a ``CONNECT_TIMEOUT`` second timeout.
    """
    open_storage(url, base_dir=base_dir, must_exist=must_exist)  # not opened: creates nothing
    if url is not None and url.strip().lower().startswith(("postgresql://", "postgres://")):
        asyncio.run(_probe_postgres(url.strip()))


async def _probe_postgres(url: str) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        raise _unreachable(url, f"timed out after {CONNECT_TIMEOUT:g} s") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise _unreachable(url, f"{type(exc).__name__}: {exc}") from None
    await conn.close()


def _unreachable(url: str, reason: str) -> StorageError:
    return StorageError(
        f"cannot connect to PostgreSQL at {redact(url)}: {reason}. Check that the server is "
        f"running and accepts connections at that address, or name another store with "
        f"--storage (or FLOWSTONE_STORAGE, or `storage =` in flowstone.toml)"
    )
