"""Backoff: delayed restarts, beyond OTP, on the runtime clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.testing import MockClock
from supervisors import Backoff, InvalidSpec, Supervisor
from tests.supervisors.lab import Lab, refs

STEADY = Backoff(initial=1, max=8, multiplier=2, jitter=0, reset_after=60)


def test_delays_grow_exponentially_up_to_the_maximum() -> None:
    assert [STEADY.delay(n) for n in range(6)] == [1, 2, 4, 8, 8, 8]


def test_a_huge_attempt_number_gives_the_maximum_not_an_overflow() -> None:
    assert STEADY.delay(10_000) == 8


@given(attempt=st.integers(0, 50), draw=st.floats(0, 0.999999))
def test_jitter_adds_at_most_its_fraction_of_the_delay(attempt: int, draw: float) -> None:
    backoff = Backoff(initial=0.1, max=10, jitter=0.25)
    base = min(10, 0.1 * 2**attempt)
    assert base <= backoff.delay(attempt, lambda: draw) <= base * 1.25


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("initial", -1, "a number of seconds >= 0"),
        ("max", 0.01, "a number >= initial (0.1)"),
        ("multiplier", 0.5, "a number >= 1"),
        ("jitter", -0.1, "a fraction >= 0"),
        ("reset_after", 0, "a number of seconds > 0"),
        ("initial", "1s", "a number of seconds >= 0"),
        ("jitter", float("nan"), "a fraction >= 0"),
    ],
)
def test_an_invalid_backoff_is_refused(field: str, value: object, allowed: str) -> None:
    with pytest.raises(InvalidSpec, match=rf"^invalid Backoff: {field}=") as caught:
        Backoff(**{field: value})  # type: ignore[arg-type]
    assert allowed in str(caught.value)


async def test_a_crashed_child_with_a_backoff_comes_back_after_the_delay(
    lab: Lab, clock: MockClock
) -> None:
    sup = await Supervisor.start([lab.spec("c", backoff=STEADY)])
    await lab.crash((await refs(sup))["c"])
    assert (await sup.which_child("c")).state == "restarting"
    await clock.advance(0.999)
    assert lab.starts["c"] == 1
    await clock.advance(0.001)
    assert (await sup.which_child("c")).state == "running"
    await sup.stop("shutdown")


async def test_consecutive_crashes_wait_longer_and_a_stable_run_resets_the_delay(
    lab: Lab, clock: MockClock
) -> None:
    sup = await Supervisor.start([lab.spec("c", backoff=STEADY)], max_restarts=100)
    waits = []
    for run_for in (0, 0, 0, 60, 0):
        await clock.advance(run_for)
        await lab.crash((await refs(sup))["c"])
        crashed_at = clock.now()
        while (await sup.which_child("c")).state != "running":
            await clock.advance(0.5)
        waits.append(clock.now() - crashed_at)
    assert waits == [1, 2, 4, 1, 2]
    await sup.stop("shutdown")


async def test_failed_starts_are_retried_with_growing_delays(lab: Lab, clock: MockClock) -> None:
    sup = await Supervisor.start([lab.spec("c", backoff=STEADY)], max_restarts=100)
    lab.fail("c", times=3)
    await lab.crash((await refs(sup))["c"])
    while (await sup.which_child("c")).state != "running":
        await clock.advance(0.5)
    # Crash at 0; attempts at 1, 3, 7 fail; the one at 15 succeeds.
    assert clock.now() == 15
    assert sup.statistics().total_restarts == 4
    await sup.stop("shutdown")


async def test_spaced_out_restarts_do_not_exhaust_the_intensity(lab: Lab, clock: MockClock) -> None:
    """The point of a backoff: a child failing for a minute does not escalate under 3/5."""
    sup = await Supervisor.start([lab.spec("c", backoff=Backoff(initial=2, max=2, jitter=0))])
    lab.fail("c")
    await lab.crash((await refs(sup))["c"])
    await clock.advance(60)
    assert sup.alive
    assert (await sup.which_child("c")).state == "restarting"
    lab.succeed("c")
    await clock.advance(2)
    assert (await sup.which_child("c")).state == "running"
    await sup.stop("shutdown")


async def test_terminate_child_cancels_a_pending_delayed_restart(
    lab: Lab, clock: MockClock
) -> None:
    sup = await Supervisor.start([lab.spec("c", backoff=STEADY)])
    await lab.crash((await refs(sup))["c"])
    await sup.terminate_child("c")
    assert clock.pending_timers == 0
    await clock.advance(10)
    assert lab.starts["c"] == 1
    assert (await sup.which_child("c")).state == "stopped"
    await sup.stop("shutdown")


async def test_stopping_the_supervisor_cancels_pending_delayed_restarts(
    lab: Lab, clock: MockClock
) -> None:
    sup = await Supervisor.start([lab.spec("c", backoff=STEADY)])
    await lab.crash((await refs(sup))["c"])
    await sup.stop("shutdown")
    assert clock.pending_timers == 0


async def test_under_rest_for_one_the_dependents_stop_at_once_and_wait_for_the_restart(
    lab: Lab, clock: MockClock
) -> None:
    sup = await Supervisor.start(
        [lab.spec("db", backoff=STEADY), lab.spec("reader")], strategy="rest_for_one"
    )
    await lab.crash((await refs(sup))["db"])
    assert [c.state for c in await sup.which_children()] == ["restarting", "stopped"]
    assert lab.events("terminate")[-1] == ("reader", "shutdown")
    await clock.advance(1)
    assert [c.state for c in await sup.which_children()] == ["running", "running"]
    await sup.stop("shutdown")
