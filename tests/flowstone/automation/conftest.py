"""Fixtures of the automation tests: stores on SQLite and PostgreSQL, a mock clock at a
chosen instant, and daemon contexts for driving actors tick by tick."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from actors.testing import MockClock, use_clock  # noqa: E402
from flowstone.automation._context import (  # noqa: E402
    DaemonConfig,
    DaemonContext,
    Definitions,
    DefinitionsHolder,
)
from flowstone.automation._store import AutomationStore, open_automation_store  # noqa: E402
from flowstone.storage import Storage, open_storage  # noqa: E402
from tests.pg import database_fixture  # noqa: E402

#: Opens a record store's view for a pipeline (the ``bind`` fixture).
Binder = Callable[[str], Awaitable[Storage]]

pg_url = database_fixture()
pg_module_url = database_fixture(scope="module")

_TABLES = (
    "runs, materializations, materialization_inputs, asset_partitions, dynamic_partitions, "
    "run_queue, run_pools, daemons, automation_ticks, automation_state, run_keys, "
    "automation_decisions"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A record store URL on each SQL backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'flowstone.db'}"
    # One database per module (creating one costs more than most tests): emptied per test.
    return str(request.getfixturevalue("pg_module_url"))


@pytest.fixture
async def storage(store_url: str) -> AsyncIterator[Storage]:
    """The opened record store (migrations applied)."""
    st = open_storage(store_url)
    await st.open()
    if not store_url.startswith("sqlite"):
        import asyncpg

        conn = await asyncpg.connect(store_url)
        try:
            await conn.execute(f"SET search_path TO flowstone; TRUNCATE {_TABLES}")
        finally:
            await conn.close()
    yield st
    await st.close()


@pytest.fixture
async def bind(storage: Storage) -> AsyncIterator[Binder]:
    """Open ``storage``'s view for a pipeline (what a daemon of that pipeline reads through:
    ``storage`` itself serves the pipeline ``""``); the views close after the test."""
    views: dict[str, Storage] = {}

    async def view(pipeline: str) -> Storage:
        if pipeline not in views:
            views[pipeline] = storage.for_pipeline(pipeline)
            await views[pipeline].open()
        return views[pipeline]

    yield view
    for opened in views.values():
        await opened.close()


@pytest.fixture
async def store(storage: Storage) -> AsyncIterator[AutomationStore]:
    """The automation store sharing ``storage``'s database."""
    s = open_automation_store(storage)
    await s.open()
    yield s
    await s.close()


START = datetime.fromisoformat("2025-01-15T01:59:00+00:00")


@pytest.fixture
def clock() -> Iterator[MockClock]:
    """A mock clock reading as 2025-01-15 01:59:00 UTC (see automation._clock)."""
    mock = MockClock(start=START.timestamp())
    with use_clock(mock):
        yield mock


class NoLauncher:
    """A launcher for actor tests that never executes runs."""

    async def resume(self, run_id: str) -> str:
        raise AssertionError(f"no run should execute here ({run_id})")

    async def cancel(self, run_id: str) -> bool:
        return False


def make_context(
    pipeline: Any, store: AutomationStore, storage: Storage, daemon_id: str, **config: Any
) -> DaemonContext:
    """A daemon context over ``pipeline`` for driving actors directly; ``storage`` must
    serve the pipeline (``await bind(pipeline.name)``)."""
    launcher = config.pop("launcher", NoLauncher())
    defaults: dict[str, Any] = {"lease": 10.0, "tick_interval": 5.0, "tick_grace": 60.0}
    return DaemonContext(
        DaemonConfig(daemon_id=daemon_id, **{**defaults, **config}),
        store,
        storage,
        DefinitionsHolder(Definitions(pipeline, "v1")),
        launcher,
    )
