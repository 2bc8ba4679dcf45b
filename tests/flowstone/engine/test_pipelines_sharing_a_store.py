"""Two pipelines sharing one record store (and one base directory) never see each other's
records, skip decisions, lineage or values (issue 12, item 9)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import flowstone as fs
from flowstone.engine._node import make_node
from tests.pg import database_fixture

pg_url = database_fixture()

DAYS = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")


def pipeline(name: str, label: str) -> fs.Pipeline:
    """events -> consumer, the same asset names in every pipeline; values say whose they are."""
    p = fs.Pipeline(name)

    @p.asset(partitioned_by=DAYS)
    def events(context: Any) -> str:
        return f"{label} events {context.partition}"

    @p.asset(depends_on=["events"], partitioned_by=DAYS)
    def consumer(context: Any, events: str) -> str:
        return f"{label} read: {events}"

    @p.asset()
    def config(context: Any) -> str:
        return label

    return p


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/shared.db"
    url: str = request.getfixturevalue("pg_url")
    return url


async def test_beta_does_not_load_alphas_value_nor_skip_what_alpha_made(
    shared_url: str, tmp_path: Path
) -> None:
    async with fs.AsyncRuntime(
        pipeline("alpha", "A"), storage=shared_url, base_dir=tmp_path
    ) as alpha:
        await alpha.backfill("consumer", "2025-01-01..2025-01-03")
        await alpha.materialize("config")

    async with fs.AsyncRuntime(
        pipeline("beta", "B"), storage=shared_url, base_dir=tmp_path
    ) as beta:
        # alpha's events exist in the shared store and the shared base dir; beta has none
        with pytest.raises(fs.MissingUpstream, match=r"events"):
            await beta.materialize("consumer", "2025-01-01")
        result = await beta.backfill("consumer", "2025-01-01..2025-01-03")
        assert result.skipped == []
        assert sorted(result.succeeded) == [dt.date(2025, 1, d) for d in (1, 2, 3)]
        assert await beta.materializations("config") == []
        assert await beta.lineage.upstream("consumer", "2025-01-02") == [
            ("events", dt.date(2025, 1, 2))
        ]
        assert (await beta.materialize("consumer", "2025-01-02")).success
        assert await stored_value(beta, "consumer") == "B read: B events 2025-01-02"
        assert len(await beta.materializations("events")) == 3
        assert all(r.pipeline == "beta" for r in await beta.runs())

    async with fs.AsyncRuntime(
        pipeline("alpha", "A"), storage=shared_url, base_dir=tmp_path
    ) as alpha:
        assert len(await alpha.materializations("events")) == 3  # beta's are not alpha's
        again = await alpha.backfill("consumer", "2025-01-01..2025-01-03")
        assert len(again.skipped) == 3
        assert {r.pipeline for r in await alpha.runs()} == {"alpha"}
        assert await stored_value(alpha, "consumer") == "A read: A events 2025-01-02"


async def stored_value(rt: fs.AsyncRuntime, asset: str) -> Any:
    """The value ``rt``'s own I/O manager holds for ``asset`` on 2 January."""
    return await rt.engine.io.load(make_node(rt.pipeline.get(asset), "2025-01-02"), "check")
