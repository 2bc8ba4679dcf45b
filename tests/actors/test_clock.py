"""The injectable clock: MonotonicClock, set_clock/get_clock, sleep, MockClock, use_clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import actors
from actors.testing import MockClock, use_clock, wait_all_idle


def test_the_default_clock_is_the_monotonic_clock() -> None:
    clock = actors.get_clock()
    assert isinstance(clock, actors.MonotonicClock)
    assert clock.now() <= clock.now()
    assert repr(clock) == "<MonotonicClock>"


async def test_the_monotonic_clock_schedules_on_the_running_loop() -> None:
    loop = asyncio.get_running_loop()
    fired: asyncio.Future[str] = loop.create_future()
    actors.MonotonicClock().call_later(-5, lambda: fired.set_result("fired"))
    assert await fired == "fired"  # a negative delay means "as soon as possible"


def test_set_clock_installs_a_clock_and_returns_the_previous_one() -> None:
    mock = MockClock(start=100)
    previous = actors.set_clock(mock)
    try:
        assert actors.get_clock() is mock
    finally:
        assert actors.set_clock(previous) is mock
    assert actors.get_clock() is previous


def test_set_clock_rejects_an_object_that_is_not_a_clock() -> None:
    with pytest.raises(
        TypeError,
        match=r"^set_clock\(\) expects an object with now\(\) and call_later\(delay, callback\); "
        r"got 42$",
    ):
        actors.set_clock(42)  # type: ignore[arg-type]


def test_use_clock_restores_the_previous_clock_even_on_error() -> None:
    before = actors.get_clock()
    installed: list[actors.Clock] = []

    def fail_inside() -> None:
        with use_clock(MockClock()) as clock:
            installed.append(actors.get_clock())
            assert installed == [clock]
            raise KeyError("fail inside")

    with pytest.raises(KeyError):
        fail_inside()
    assert len(installed) == 1
    assert actors.get_clock() is before


def test_the_mock_clock_fixture_installs_a_fresh_mock_clock(mock_clock: MockClock) -> None:
    assert actors.get_clock() is mock_clock
    assert mock_clock.now() == 0


async def test_sleep_follows_the_installed_mock_clock(mock_clock: MockClock) -> None:
    sleeping = asyncio.create_task(actors.sleep(10))
    await mock_clock.advance(9)
    assert not sleeping.done()
    await mock_clock.advance(1)
    assert sleeping.done()
    assert mock_clock.now() == 10


async def test_sleep_of_zero_only_yields_and_needs_no_advance(mock_clock: MockClock) -> None:
    await actors.sleep(0)
    await actors.sleep(-1)
    assert mock_clock.pending_timers == 0


async def test_a_cancelled_sleep_cancels_its_timer(mock_clock: MockClock) -> None:
    sleeping = asyncio.create_task(actors.sleep(10))
    await wait_all_idle()
    assert mock_clock.pending_timers == 1
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    assert mock_clock.pending_timers == 0


async def test_mock_timers_fire_in_deadline_order_then_in_scheduling_order() -> None:
    clock = MockClock(start=5)
    fired: list[str] = []
    clock.call_later(2, lambda: fired.append("b"))
    clock.call_later(1, lambda: fired.append("a"))
    clock.call_later(2, lambda: fired.append("c"))
    assert clock.next_deadline == 6
    await clock.advance(2)
    assert fired == ["a", "b", "c"]
    assert clock.now() == 7
    assert clock.next_deadline is None


async def test_a_cancelled_mock_timer_never_fires() -> None:
    clock = MockClock()
    fired: list[str] = []
    timer = clock.call_later(1, lambda: fired.append("x"))
    timer.cancel()
    assert clock.pending_timers == 0
    await clock.advance(5)
    assert fired == []


async def test_jump_moves_time_without_firing_and_the_next_advance_fires_what_is_due() -> None:
    clock = MockClock()
    fired: list[float] = []
    clock.call_later(3, lambda: fired.append(clock.now()))
    clock.jump(5)
    assert fired == []
    assert clock.now() == 5
    await clock.advance(0)
    assert fired == [5]  # it fires late, at the time the clock reads when it does


async def test_a_timer_scheduled_by_a_callback_fires_in_the_same_advance_if_due() -> None:
    clock = MockClock()
    fired: list[float] = []

    def first() -> None:
        fired.append(clock.now())
        clock.call_later(1, lambda: fired.append(clock.now()))

    clock.call_later(1, first)
    await clock.advance(2)
    assert fired == [1, 2]


async def test_advance_lets_actors_react_between_timers(mock_clock: MockClock) -> None:
    class Ticker(actors.Actor):
        async def init(self) -> None:
            self.ticks: list[float] = []

        async def handle_cast(self, count: int) -> None:
            for _ in range(count):
                await actors.sleep(1)
                self.ticks.append(actors.get_clock().now())

        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            return self.ticks

    ref = await actors.spawn(Ticker)
    ref.cast(3)
    await mock_clock.advance(3)  # each sleep starts only after the previous one fired
    assert await ref.call("ticks") == [1, 2, 3]
    await ref.stop()


async def test_mock_time_cannot_go_backwards() -> None:
    clock = MockClock()
    backwards = r"^time can't go backwards \(asked to move by -1 s\)$"
    with pytest.raises(ValueError, match=backwards):
        clock.jump(-1)
    with pytest.raises(ValueError, match=backwards):
        await clock.advance(-1)
    assert clock.now() == 0


def test_mock_clock_repr_shows_time_and_pending_timers() -> None:
    clock = MockClock(start=1.5)
    clock.call_later(1, lambda: None)
    assert repr(clock) == "<MockClock now=1.5 timers=1>"


def test_mock_clock_is_a_clock() -> None:
    assert isinstance(MockClock(), actors.Clock)
