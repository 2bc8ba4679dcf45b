"""The PostgreSQL backend refreshes planner statistics as its tables grow, one ANALYZE at a
time and never more often than each doubling."""

from __future__ import annotations

import asyncio

import pytest

from flowstone.storage._statistics import MIN_ROWS, AnalyzePolicy


class FakeAnalyze:
    """Counts calls; each call waits until the test releases it."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> None:
        self.calls += 1
        await self.release.wait()


async def test_nothing_runs_before_a_thousand_rows_were_written() -> None:
    analyze = FakeAnalyze()
    policy = AnalyzePolicy(analyze)
    policy.written(MIN_ROWS - 1)
    assert not policy.running
    policy.written(1)
    assert policy.running
    analyze.release.set()
    await policy.wait()
    assert analyze.calls == 1


async def test_the_next_refresh_waits_until_the_rows_doubled() -> None:
    analyze = FakeAnalyze()
    analyze.release.set()
    policy = AnalyzePolicy(analyze)
    policy.written(1500)
    await policy.wait()
    policy.written(1499)
    assert not policy.running
    policy.written(1)
    await policy.wait()
    assert analyze.calls == 2


async def test_only_one_refresh_runs_at_a_time() -> None:
    analyze = FakeAnalyze()
    policy = AnalyzePolicy(analyze)
    policy.written(5000)
    assert policy.running
    policy.written(50_000)  # arrives while the first refresh runs: no second one
    analyze.release.set()
    await policy.wait()
    assert analyze.calls == 1


async def test_a_store_opened_with_unanalyzed_rows_refreshes_at_once() -> None:
    analyze = FakeAnalyze()
    analyze.release.set()
    policy = AnalyzePolicy(analyze)
    policy.seed(live_rows=1_000_000, modified_since_analyze=1_000_000)
    await policy.wait()
    assert analyze.calls == 1
    fresh = AnalyzePolicy(analyze)
    fresh.seed(live_rows=1_000_000, modified_since_analyze=10)
    assert not fresh.running


async def test_stopping_cancels_a_refresh_in_progress() -> None:
    analyze = FakeAnalyze()
    policy = AnalyzePolicy(analyze)
    policy.written(MIN_ROWS)
    await policy.stop()
    assert not policy.running
    assert analyze.calls == 0


async def test_a_failing_refresh_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise OSError("connection reset")

    policy = AnalyzePolicy(broken)
    policy.written(MIN_ROWS)
    await policy.wait()
    assert "could not refresh planner statistics: connection reset" in caplog.text
