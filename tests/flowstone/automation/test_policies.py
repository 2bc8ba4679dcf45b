"""Declarative automation: on_missing requests closed windows whose upstream is there,
eager requests after an upstream change, each request once, every decision explained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import actors
import flowstone as fs
from actors.testing import MockClock
from flowstone.automation._evaluator import AutomationEvaluator
from flowstone.automation._store import AutomationStore
from flowstone.storage import Storage

from .conftest import Binder, make_context


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: the store contract runs both backends; these test the sensors' logic."""
    return f"sqlite:///{tmp_path / 'flowstone.db'}"


def automated(name: str = "automated") -> fs.Pipeline:
    p = fs.Pipeline(name)
    days = fs.DailyPartitions(start="2025-01-01")

    @p.asset(partitioned_by=days)
    def raw(context: Any) -> int:
        return 1

    @p.asset(
        partitioned_by=days, depends_on=["raw"], automation=fs.Automation.on_missing(lookback=3)
    )
    def clean(context: Any, raw: int) -> int:
        return raw

    @p.asset
    def source(context: Any) -> int:
        return 1

    @p.asset(depends_on=["source"], automation=fs.Automation.eager())
    def follower(context: Any, source: int) -> int:
        return source

    return p


async def evaluate(ref: actors.ActorRef, clock: MockClock) -> None:
    await ref.call("tick")
    clock.jump(30)


async def test_on_missing_and_eager_request_each_run_once_and_explain_why(
    clock: MockClock,
    store: AutomationStore,
    storage: Storage,
    bind: Binder,
    store_url: str,
    tmp_path: Path,
) -> None:
    pipeline = automated()
    async with fs.AsyncRuntime(pipeline, store_url, base_dir=tmp_path) as rt:
        for day in ("2025-01-13", "2025-01-14"):
            await rt.materialize("raw", day)
        await rt.materialize("source")
        ref = await actors.spawn(
            AutomationEvaluator, make_context(pipeline, store, await bind(pipeline.name), "d1")
        )
        try:
            await evaluate(ref, clock)
            await evaluate(ref, clock)  # the same decisions again: no new run
            queued = await storage.list_runs(status="queued")
            assert sorted((r.targets[0], r.partition) for r in queued) == [
                ("clean", "2025-01-13"), ("clean", "2025-01-14"), ("follower", None),
            ]  # fmt: skip
            (waiting,) = await store.decisions("automated", "clean", "2025-01-12")
            assert not waiting.requested
            assert waiting.reason == "waiting for upstream raw[2025-01-12]"
            (requested,) = await store.decisions("automated", "clean", "2025-01-14")
            assert requested.requested
            assert requested.policy == "on_missing()"
            assert requested.reason == "clean[2025-01-14] is missing and its upstream is there"
            assert requested.run_id in {r.run_id for r in queued}

            await rt.materialize("follower")
            await evaluate(ref, clock)
            (quiet,) = await store.decisions("automated", "follower")
            assert not quiet.requested
            assert quiet.reason.startswith("no upstream changed since")
            await rt.materialize("source")
            await evaluate(ref, clock)
            (again,) = await store.decisions("automated", "follower")
            assert again.requested
            assert again.reason.startswith("upstream source was materialized after follower")
        finally:
            await ref.stop()


async def test_the_policies_of_two_pipelines_sharing_a_store_are_each_evaluated(
    clock: MockClock, store: AutomationStore, storage: Storage, bind: Binder, store_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    pipelines = [automated("automated"), automated("other")]
    for p in pipelines:
        async with fs.AsyncRuntime(p, store_url, base_dir=tmp_path) as rt:
            await rt.materialize("source")
    refs = [
        await actors.spawn(AutomationEvaluator, make_context(p, store, await bind(p.name), f"d{i}"))
        for i, p in enumerate(pipelines)
    ]
    try:
        for ref in refs:
            await ref.call("tick")  # the same slot, with the same run keys
        queued = await storage.list_runs(status="queued")
        assert sorted((r.pipeline, r.targets[0]) for r in queued) == [
            ("automated", "follower"), ("other", "follower"),
        ]  # fmt: skip
        # Each pipeline keeps its own decision about its asset of the same name.
        for p in pipelines:
            (decision,) = await store.decisions(p.name, "follower")
            (run,) = (r for r in queued if r.pipeline == p.name)
            assert decision.requested
            assert decision.run_id == run.run_id
    finally:
        for ref in refs:
            await ref.stop()


def cron_pipeline() -> fs.Pipeline:
    p = fs.Pipeline("cron_policy")

    @p.asset
    def feed(context: Any) -> int:
        return 1

    @p.asset(depends_on=["feed"], automation=fs.Automation.on_cron("0 2 * * *"))
    def digest(context: Any, feed: int) -> int:
        return feed

    return p


async def test_on_cron_waits_for_upstream_fresh_since_the_tick(
    clock: MockClock,
    store: AutomationStore,
    storage: Storage,
    bind: Binder,
    store_url: str,
    tmp_path: Path,
) -> None:
    pipeline = cron_pipeline()
    async with fs.AsyncRuntime(pipeline, store_url, base_dir=tmp_path) as rt:
        await rt.materialize("feed")  # recorded at the real time, after the mock 02:00 tick
        ref = await actors.spawn(
            AutomationEvaluator, make_context(pipeline, store, await bind(pipeline.name), "d1")
        )
        try:
            await evaluate(ref, clock)
            (decision,) = await store.decisions("cron_policy", "digest")
            assert decision.requested
            assert decision.reason == (
                "cron tick 2025-01-14T02:00:00+00:00 passed and upstream is fresh"
            )
            await evaluate(ref, clock)
            assert len(await storage.list_runs(status="queued")) == 1
        finally:
            await ref.stop()


def test_an_invalid_on_cron_expression_is_a_definition_error() -> None:
    with pytest.raises(fs.DefinitionError, match=r"Automation.on_cron\('nope'\): invalid cron"):
        fs.Automation.on_cron("nope")
