"""actors.testing: wait_all_idle, Sequencer, leak inspection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import actors
from actors.testing import (
    MockClock,
    Sequencer,
    abandon,
    live_actors,
    runtime_tasks,
    wait_all_idle,
)


class Relay(actors.Actor):
    """Passes a countdown on to the next relay until it reaches zero."""

    async def init(self, counts: list[int]) -> None:
        self.counts = counts
        self.next: actors.ActorRef | None = None

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        self.next = message
        return None

    async def handle_cast(self, remaining: int) -> None:
        self.counts.append(remaining)
        if remaining and self.next is not None:
            self.next.cast(remaining - 1)


async def test_wait_all_idle_returns_only_after_a_chain_of_messages_has_settled() -> None:
    counts: list[int] = []
    ping = await actors.spawn(Relay, counts)
    pong = await actors.spawn(Relay, counts)
    await ping.call(pong)
    await pong.call(ping)
    ping.cast(100)
    await wait_all_idle()
    assert counts == list(range(100, -1, -1))
    await ping.stop()
    await pong.stop()


async def test_wait_all_idle_returns_while_an_actor_is_blocked_on_the_mock_clock(
    mock_clock: MockClock,
) -> None:
    class Sleeper(actors.Actor):
        async def handle_cast(self, seconds: float) -> None:
            await actors.sleep(seconds)

    ref = await actors.spawn(Sleeper)
    ref.cast(60)
    await wait_all_idle()
    assert ref.statistics().messages_handled == 0
    await mock_clock.advance(60)
    assert ref.statistics().messages_handled == 1
    await ref.stop()


async def test_wait_all_idle_also_waits_for_plain_tasks() -> None:
    steps: list[int] = []

    async def stepper() -> None:
        for n in range(20):
            steps.append(n)
            await asyncio.sleep(0)

    task = asyncio.create_task(stepper())
    await wait_all_idle()
    assert steps == list(range(20))
    assert task.done()


async def test_wait_all_idle_gives_up_on_a_task_that_never_stops_running() -> None:
    async def spin() -> None:
        while True:  # noqa: ASYNC110 - a busy task is exactly what this test needs
            await asyncio.sleep(0)

    spinner = asyncio.create_task(spin())
    try:
        with pytest.raises(
            RuntimeError,
            match=r"^the event loop did not become idle after 50 scheduling rounds; actors "
            r"with work pending: none \(some other task keeps running\)$",
        ):
            await wait_all_idle(max_rounds=50)
    finally:
        spinner.cancel()


async def test_a_sequencer_runs_blocks_in_their_numbered_order() -> None:
    seq = Sequencer()
    order: list[str] = []

    async def worker(position: int, label: str) -> None:
        async with seq(position):
            order.append(label)
            await asyncio.sleep(0)

    await asyncio.gather(worker(2, "c"), worker(0, "a"), worker(1, "b"))
    assert order == ["a", "b", "c"]
    assert repr(seq) == "<Sequencer done=[0, 1, 2]>"


async def test_a_sequencer_position_can_be_used_once() -> None:
    seq = Sequencer()
    async with seq(0):
        pass
    with pytest.raises(RuntimeError, match=r"^Sequencer position 0 was already used$"):
        async with seq(0):
            pass  # pragma: no cover


async def test_a_failing_block_breaks_the_sequencer_for_the_blocks_after_it() -> None:
    seq = Sequencer()

    async def failing() -> None:
        async with seq(0):
            raise KeyError("first block failed")

    async def waiting() -> None:
        async with seq(1):
            pass  # pragma: no cover

    results = await asyncio.gather(waiting(), failing(), return_exceptions=True)
    assert isinstance(results[1], KeyError)
    assert isinstance(results[0], RuntimeError)
    assert str(results[0]) == "Sequencer is broken: a block before 1 failed"
    with pytest.raises(RuntimeError, match="broken"):
        async with seq(2):
            pass  # pragma: no cover


async def test_live_actors_and_runtime_tasks_track_an_actor_until_it_ends() -> None:
    ref = await actors.spawn(actors.Actor)
    assert live_actors() == [ref]
    assert len(runtime_tasks()) == 1
    await ref.stop()
    await wait_all_idle()
    assert live_actors() == []
    assert runtime_tasks() == []


async def test_abandon_forgets_an_actor_and_frees_its_name() -> None:
    ref = await actors.spawn(actors.Actor, name="abandoned")
    abandon(ref)
    assert live_actors() == []
    assert actors.whereis("abandoned") is None
    ref.kill()  # the actor itself still runs until killed
    await wait_all_idle()
    assert runtime_tasks() == []
