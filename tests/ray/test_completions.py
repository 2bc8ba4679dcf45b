"""Finding finished Ray tasks from the event loop and resolving their asyncio futures."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from flowstone._ray_completions import Completions


@pytest.fixture
async def completions(ray_cluster: Any) -> Any:
    watcher = Completions(ray_cluster.ray)
    yield watcher
    await watcher.aclose()


def remote_functions(ray: Any) -> tuple[Any, Any, Any]:
    @ray.remote(max_retries=0)  # type: ignore[untyped-decorator]
    def square(x: int, delay: float) -> int:
        time.sleep(delay)
        return x * x

    @ray.remote(max_retries=0)  # type: ignore[untyped-decorator]
    def fail(message: str) -> None:
        raise ValueError(message)

    @ray.remote(max_retries=0)  # type: ignore[untyped-decorator]
    def sleep(seconds: float) -> None:
        time.sleep(seconds)

    return square, fail, sleep


async def test_every_future_gets_its_own_task_result_whatever_the_order_they_finish_in(
    ray_cluster: Any, completions: Completions
) -> None:
    square, _, _ = remote_functions(ray_cluster.ray)
    # Later tasks finish first: each result must still reach the future of its own ref.
    refs = [square.remote(i, 0.05 * (5 - i)) for i in range(6)]
    results = await asyncio.wait_for(
        asyncio.gather(*(completions.watch(ref) for ref in refs)), timeout=60
    )
    assert results == [i * i for i in range(6)]


async def test_a_task_error_is_raised_by_whoever_awaits_it(
    ray_cluster: Any, completions: Completions
) -> None:
    ray = ray_cluster.ray
    _, fail, _ = remote_functions(ray)
    with pytest.raises(ray.exceptions.RayTaskError) as caught:
        await asyncio.wait_for(completions.watch(fail.remote("bad input")), timeout=60)
    assert isinstance(caught.value.cause, ValueError)
    assert str(caught.value.cause) == "bad input"


async def test_a_quick_task_is_not_held_up_behind_a_long_one(
    ray_cluster: Any, completions: Completions
) -> None:
    ray = ray_cluster.ray
    square, _, sleep = remote_functions(ray)
    long = sleep.remote(600)
    long_done = completions.watch(long)
    await asyncio.sleep(0.2)  # polling has backed off: only the long task is in flight
    assert await asyncio.wait_for(completions.watch(square.remote(7, 0)), timeout=60) == 49
    assert not long_done.done()
    completions.forget(long)
    ray.cancel(long, force=True)


async def test_a_forgotten_ref_never_resolves_its_future(
    ray_cluster: Any, completions: Completions
) -> None:
    square, _, _ = remote_functions(ray_cluster.ray)
    forgotten = square.remote(3, 0)
    future = completions.watch(forgotten)
    completions.forget(forgotten)
    assert await asyncio.wait_for(completions.watch(square.remote(4, 0.1)), timeout=60) == 16
    assert not future.done()


async def test_closing_cancels_the_futures_still_waiting(
    ray_cluster: Any, completions: Completions
) -> None:
    ray = ray_cluster.ray
    _, _, sleep = remote_functions(ray)
    long = sleep.remote(600)
    waiting = completions.watch(long)
    await completions.aclose()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, timeout=10)
    with pytest.raises(RuntimeError, match="closed"):
        completions.watch(long)
    ray.cancel(long, force=True)
