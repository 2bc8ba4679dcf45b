"""Fixtures of the approvals tests: a store on every backend, and the wing around it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from flowstone.approvals import ApprovalsWing  # noqa: E402
from flowstone.storage import MemoryStorage, SQLiteStorage, Storage  # noqa: E402
from tests.flowstone.approvals.gates import Clock, report_pipeline  # noqa: E402
from tests.pg import clear_schema, database_fixture  # noqa: E402

pg_module_url = database_fixture(scope="module")

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """An open record store of each backend."""
    store: Storage
    if request.param == "memory":
        store = MemoryStorage()
    elif request.param == "sqlite":
        store = SQLiteStorage(tmp_path / "flowstone.db")
    else:
        from flowstone.storage import PostgresStorage

        url = request.getfixturevalue("pg_module_url")
        clear_schema(url, "gates", keep=("schema_version",))
        store = PostgresStorage(url, schema="gates")
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_wing(storage: Storage, clock: Clock) -> Callable[..., ApprovalsWing]:
    """Build an ApprovalsWing on the test's store and clock (no timer, no resume)."""

    def make(pipeline: Any = None, **kwargs: Any) -> ApprovalsWing:
        kwargs.setdefault("timer_interval", None)
        return ApprovalsWing(pipeline or report_pipeline(), storage, now=clock, **kwargs)

    return make
