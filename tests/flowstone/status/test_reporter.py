"""Runtimes publish their supervision trees to the store, for dashboards elsewhere."""

from __future__ import annotations

import datetime as dt

import flowstone as fs
from flowstone.storage import MemoryStorage


def pipeline() -> fs.Pipeline:
    p = fs.Pipeline("reporting")

    @p.asset()
    def a(context: fs.AssetContext) -> int:
        return 1

    return p


async def test_a_started_runtime_reports_its_tree_and_stops_on_close(tmp_path: object) -> None:
    rt = fs.AsyncRuntime(pipeline(), storage="memory", base_dir=str(tmp_path))
    async with rt:
        await rt.tree_reporter.report()
        storage = rt.storage
        assert isinstance(storage, MemoryStorage)
        since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        [found] = await storage.runtimes(seen_after=since)
        assert found.id == rt.tree_reporter.id
        assert found.pipeline == "reporting"
        assert found.tree["type"] == "supervisor"
        assert {c["id"] for c in found.tree["children"]} >= {"lineage", "runs"}
        assert rt.tree_reporter._task is not None  # reporting in the background
    assert rt.tree_reporter._task is None


async def test_a_runtime_that_never_started_reports_nothing(tmp_path: object) -> None:
    rt = fs.AsyncRuntime(pipeline(), storage="memory", base_dir=str(tmp_path))
    await rt.tree_reporter.report()  # no tree yet: nothing to say
    assert rt.tree_reporter.reports == 0
    await rt.close()
