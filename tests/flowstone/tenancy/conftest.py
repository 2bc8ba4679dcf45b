"""Fixtures of the tenant isolation tests: a throwaway database per test and PostgreSQL roles
that are neither superusers nor exempt from row-level security."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

# ``tests`` is importable only when the repository root is on sys.path (``python -m pytest``
# or a ``pythonpath`` setting); make it so for plain ``pytest`` runs as well.
_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.pg import ADMIN_URL, database_fixture  # noqa: E402

pg_url = database_fixture(scope="module")  # tests use a schema and roles of their own


@dataclass(frozen=True)
class Role:
    """A login role made for one test, and the URL that connects as it."""

    name: str
    url: str


def as_user(url: str, user: str) -> str:
    """Return ``url`` connecting as ``user`` (no password: the test server trusts local)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, parts.query, ""))


@pytest.fixture
async def make_role(pg_url: str) -> AsyncIterator[Callable[[str], Awaitable[Role]]]:
    """Create ``fs_<kind>_<uuid>`` login roles (NOSUPERUSER NOBYPASSRLS); drop them after."""
    made: list[str] = []

    async def make(kind: str) -> Role:
        name = f"fs_{kind}_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(ADMIN_URL)
        try:
            await admin.execute(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER NOBYPASSRLS')
        finally:
            await admin.close()
        made.append(name)
        return Role(name, as_user(pg_url, name))

    yield make
    # The database is dropped after this fixture: first drop what the roles own there and
    # the privileges they hold, or DROP ROLE refuses.
    conn = await asyncpg.connect(pg_url)
    try:
        for name in made:
            await conn.execute(f'DROP OWNED BY "{name}" CASCADE')
    finally:
        await conn.close()
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        for name in reversed(made):
            await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
    finally:
        await admin.close()
