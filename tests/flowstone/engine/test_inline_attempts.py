"""Short blocking attempts run on the loop's thread; long ones and timed ones in the pool."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import flowstone as fs
from flowstone.engine._executor import LocalExecutor


def where() -> str:
    return threading.current_thread().name


async def test_an_attempt_runs_inline_after_two_short_runs() -> None:
    executor = LocalExecutor(inline_below=float("inf"))
    try:
        seen = [await executor.call_attempt("a", where, may_inline=True) for _ in range(3)]
    finally:
        await executor.aclose()
    loop_thread = threading.current_thread().name
    assert [name == loop_thread for name in seen] == [False, False, True]


async def test_a_long_attempt_never_runs_inline() -> None:
    executor = LocalExecutor(inline_below=0.0)
    try:
        seen = [await executor.call_attempt("a", where, may_inline=True) for _ in range(4)]
    finally:
        await executor.aclose()
    assert threading.current_thread().name not in seen


async def test_an_attempt_that_may_not_run_inline_stays_in_the_pool() -> None:
    executor = LocalExecutor(inline_below=float("inf"))
    try:
        seen = [await executor.call_attempt("a", where, may_inline=False) for _ in range(4)]
    finally:
        await executor.aclose()
    assert threading.current_thread().name not in seen


async def test_a_slow_inline_run_sends_the_asset_back_to_the_pool() -> None:
    executor = LocalExecutor(inline_below=float("inf"))
    try:
        for _ in range(2):
            await executor.call_attempt("a", where, may_inline=True)
        executor.inline_below = 0.0  # the next run is measured as slow
        inline = await executor.call_attempt("a", where, may_inline=True)
        after = await executor.call_attempt("a", where, may_inline=True)
    finally:
        await executor.aclose()
    assert inline == threading.current_thread().name
    assert after != threading.current_thread().name


async def test_inline_user_code_sees_no_running_loop_and_keeps_the_tenant(
    make_runtime: Callable[..., fs.AsyncRuntime],
) -> None:
    p = fs.Pipeline("inline")
    seen: list[tuple[str, Any, str | None]] = []

    async def answer() -> int:
        return 42

    @p.asset
    def value(context: Any) -> int:
        # A plain asset may drive its own event loop, wherever it runs.
        seen.append((where(), asyncio.run(answer()), fs.current_tenant()))
        return 1

    rt = make_runtime(p)
    await rt.start()
    rt.engine.executors.local.inline_below = float("inf")
    async with fs.tenant_scope("acme"):
        for _ in range(3):
            result = await rt.materialize("value")
            assert result.success
    loop_thread = threading.current_thread().name
    assert [(name == loop_thread, got, tenant) for name, got, tenant in seen] == [
        (False, 42, "acme"),
        (False, 42, "acme"),
        (True, 42, "acme"),
    ]
    asyncio.get_running_loop()  # the runtime's loop is running again afterwards
