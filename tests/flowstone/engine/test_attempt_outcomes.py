"""What an attempt leaves behind when asset code misbehaves, times out or is cancelled:
the runtime survives, every attempt keeps its own record, and a value never replaces the
stored one unless its attempt is recorded as the success."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

import pytest

import flowstone as fs
from actors.testing import MockClock, use_clock, wait_all_idle
from flowstone.io import IOContext, IOManager


class DictIOManager(IOManager):
    """A plain (blocking) I/O manager over a dict, so attempts run in one worker thread."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str | None], Any] = {}

    def store(self, context: IOContext, value: Any) -> Mapping[str, Any] | None:
        self.values[(context.asset, context.partition_key)] = value
        return None

    def load(self, context: IOContext) -> Any:
        return self.values[(context.asset, context.partition_key)]

    def exists(self, context: IOContext) -> bool:
        return (context.asset, context.partition_key) in self.values

    def delete(self, context: IOContext) -> None:
        self.values.pop((context.asset, context.partition_key), None)


class SlowAsyncIOManager(DictIOManager):
    """Stores take 3 s of the runtime clock."""

    async def store(self, context: IOContext, value: Any) -> Mapping[str, Any] | None:  # type: ignore[override]
        import actors

        await actors.sleep(3.0)
        return super().store(context, value)

    async def load(self, context: IOContext) -> Any:  # type: ignore[override]
        return super().load(context)


@pytest.mark.parametrize("raised", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("kind", ["plain", "async"])
def test_an_interrupt_raised_by_an_asset_fails_the_attempt_and_the_runtime_lives_on(
    raised: type[BaseException], kind: str, tmp_path: Any
) -> None:
    p = fs.Pipeline("interrupts")
    if kind == "plain":

        @p.asset()
        def bad(context: Any) -> int:
            raise raised()

    else:

        @p.asset()
        async def bad(context: Any) -> int:
            raise raised()

    @p.asset()
    def good(context: Any) -> int:
        return 1

    with fs.Runtime(p, storage="memory", base_dir=tmp_path) as rt:
        with pytest.raises(fs.RunFailed) as info:
            rt.materialize("bad")
        [attempt] = info.value.materializations
        assert attempt.error is not None
        assert attempt.error.type == "AssetInterrupted"
        assert raised.__name__ in attempt.error.message
        assert rt.materialize("good").success  # the loop thread is still alive


@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_a_cancelled_error_raised_by_an_asset_is_one_recorded_failed_attempt(
    kind: str, make_runtime: Any
) -> None:
    p = fs.Pipeline("cancels")
    calls = []
    if kind == "plain":

        @p.asset()
        def bad(context: Any) -> int:
            calls.append(1)
            raise asyncio.CancelledError()

    else:

        @p.asset()
        async def bad(context: Any) -> int:
            calls.append(1)
            raise asyncio.CancelledError()

    rt = make_runtime(p)
    with pytest.raises(fs.RunFailed):
        await rt.materialize("bad")
    assert calls == [1]
    [record] = await rt.materializations("bad")
    assert (record.status, record.attempt) == ("failed", 1)
    assert record.error is not None
    assert record.error.type == "AssetInterrupted"


def blocking_pipeline(release: threading.Event, entered: threading.Event) -> fs.Pipeline:
    p = fs.Pipeline("late")
    state = {"calls": 0}

    @p.asset(io_manager="dict", timeout=5.0)
    def slow(context: Any) -> str:
        state["calls"] += 1
        if state["calls"] == 1:
            return "good"
        entered.set()
        release.wait(timeout=30)
        return "late"

    return p


async def _pool_drained(rt: Any) -> None:
    """With one worker thread, a job queued now runs after the abandoned attempt ended."""
    await rt.engine.executors.local.call_blocking(lambda: None)


async def test_a_timed_out_plain_attempt_never_stores_its_late_value(make_runtime: Any) -> None:
    release, entered = threading.Event(), threading.Event()
    manager = DictIOManager()
    clock = MockClock()
    with use_clock(clock):
        rt = make_runtime(
            blocking_pipeline(release, entered), io_managers={"dict": manager}, max_workers=1
        )
        assert (await rt.materialize("slow")).success
        task = asyncio.ensure_future(rt.materialize("slow"))
        await asyncio.to_thread(entered.wait, 10)
        await clock.advance(5.0)
        with pytest.raises(fs.RunFailed) as info:
            await task
        release.set()
        await _pool_drained(rt)
    assert manager.values[("slow", None)] == "good"
    [timed_out] = info.value.materializations
    assert timed_out.error is not None
    assert timed_out.error.type == "AssetTimeout"


async def test_a_cancelled_plain_attempt_never_stores_its_late_value(make_runtime: Any) -> None:
    release, entered = threading.Event(), threading.Event()
    manager = DictIOManager()
    rt = make_runtime(
        blocking_pipeline(release, entered), io_managers={"dict": manager}, max_workers=1
    )
    assert (await rt.materialize("slow")).success
    runs: list[str] = []
    rt.events.subscribe(lambda e: runs.append(e.run_id) if e.kind == "run.started" else None)
    task = asyncio.ensure_future(rt.materialize("slow"))
    await asyncio.to_thread(entered.wait, 10)
    assert await rt.cancel(runs[-1])
    with pytest.raises(fs.RunFailed) as info:
        await task
    release.set()
    await _pool_drained(rt)
    assert manager.values[("slow", None)] == "good"
    assert [m.status for m in info.value.materializations] == ["cancelled"]


async def test_the_timeout_bounds_an_async_store_too(make_runtime: Any) -> None:
    p = fs.Pipeline("slow_store")

    @p.asset(io_manager="slow", timeout=0.3)
    async def value(context: Any) -> int:
        return 1

    manager = SlowAsyncIOManager()
    clock = MockClock()
    with use_clock(clock):
        rt = make_runtime(p, io_managers={"slow": manager})
        task = asyncio.ensure_future(rt.materialize("value"))
        await clock.advance(0.3)
        with pytest.raises(fs.RunFailed) as info:
            await task
        await clock.advance(3.0)
    assert manager.values == {}
    [attempt] = info.value.materializations
    assert attempt.error is not None
    assert attempt.error.type == "AssetTimeout"


async def test_a_cancel_during_a_retry_delay_keeps_the_failed_attempt_record(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("retrying")

    @p.asset(retry=fs.RetryPolicy(max_retries=3, delay=10.0, jitter=0.0))
    async def flaky(context: Any) -> int:
        raise RuntimeError("down")

    clock = MockClock()
    with use_clock(clock):
        rt = make_runtime(p)
        runs: list[str] = []
        rt.events.subscribe(
            lambda e: runs.append(e.run_id) if e.kind == "materialization.retried" else None
        )
        task = asyncio.ensure_future(rt.materialize("flaky"))
        await wait_all_idle()
        assert await rt.cancel(runs[0])
        with pytest.raises(fs.RunFailed):
            await task
    history = sorted((m.attempt, m.status) for m in await rt.materializations("flaky"))
    assert history == [(1, "failed"), (2, "cancelled")]


async def test_an_unreadable_upstream_value_raises_missing_upstream_naming_it(
    make_runtime: Any,
) -> None:
    p = fs.Pipeline("lost")
    days = fs.DailyPartitions(start="2025-01-01")

    @p.asset(partitioned_by=days, io_manager="dict")
    def raw(context: Any) -> int:
        return 1

    @p.asset(partitioned_by=days, depends_on=["raw"], io_manager="dict")
    def report(context: Any, raw: int) -> int:
        return raw + 1

    manager = DictIOManager()
    rt = make_runtime(p, io_managers={"dict": manager})
    await rt.materialize("raw", "2025-01-02")
    del manager.values[("raw", "2025-01-02")]
    with pytest.raises(fs.MissingUpstream) as info:
        await rt.materialize("report", "2025-01-02")
    assert info.value.missing == [("raw", __import__("datetime").date(2025, 1, 2))]
    assert str(info.value).startswith(
        "cannot materialize report[2025-01-02]: upstream raw[2025-01-02] has a recorded "
        "materialization but its stored value cannot be loaded (KeyError: "
    )


async def test_a_stopped_runtime_says_so_on_every_later_call(make_runtime: Any) -> None:
    p = fs.Pipeline("stops")

    @p.asset()
    def one(context: Any) -> int:
        return 1

    rt = make_runtime(p)
    await rt.start()
    root = rt.engine.tree.root
    root.kill()
    await root.wait()
    with pytest.raises(fs.RuntimeStopped, match=r"the runtime has stopped \(its supervision tree"):
        await rt.materialize("one")
