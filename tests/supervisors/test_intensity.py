"""Restart intensity: a sliding window of exact seconds that includes its left edge."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.testing import MockClock
from supervisors import Supervisor
from supervisors._intensity import RestartIntensity
from tests.supervisors.lab import Lab, refs


def test_the_restart_being_attempted_counts() -> None:
    """Section 0.1: intensity 0 means the first restart-worthy exit stops the supervisor."""
    assert RestartIntensity(0, 5).add(0.0) is False
    one = RestartIntensity(1, 5)
    assert one.add(0.0) is True
    assert one.add(4.0) is False


def test_a_restart_exactly_max_seconds_ago_still_counts() -> None:
    """The window includes its left edge, as OTP's ``R >= Now - Period``."""
    intensity = RestartIntensity(1, 5)
    intensity.add(10.0)
    assert intensity.add(15.0) is False


def test_a_restart_just_older_than_max_seconds_has_left_the_window() -> None:
    """Exact seconds: no whole-second truncation (docs/adr/0002)."""
    intensity = RestartIntensity(1, 5)
    intensity.add(10.0)
    assert intensity.add(15.000001) is True


def test_in_window_counts_only_recent_restarts_and_total_counts_all() -> None:
    intensity = RestartIntensity(10, 5)
    for t in (0.0, 1.0, 2.0):
        intensity.add(t)
    assert intensity.in_window(5.0) == 3
    assert intensity.in_window(6.5) == 1
    intensity.add(8.0)
    assert intensity.in_window(8.0) == 1  # 0, 1 and 2 are older than 8 - 5
    assert intensity.in_window(13.5) == 0
    assert intensity.total == 4


@given(
    max_restarts=st.integers(0, 5),
    max_seconds=st.floats(0.5, 10),
    gaps=st.lists(st.floats(0, 4), max_size=30),
)
def test_the_window_agrees_with_counting_every_restart_by_hand(
    max_restarts: int, max_seconds: float, gaps: list[float]
) -> None:
    intensity = RestartIntensity(max_restarts, max_seconds)
    times: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        times.append(now)
        expected = sum(1 for t in times if t >= now - max_seconds) <= max_restarts
        assert intensity.add(now) is expected
        if not expected:
            break  # the supervisor has given up


@pytest.mark.parametrize(("second_crash_at", "survives"), [(5.0, False), (5.001, True)])
async def test_a_supervisor_escalates_exactly_at_the_window_boundary(
    lab: Lab, clock: MockClock, second_crash_at: float, survives: bool
) -> None:
    """Behaviour 44 at the boundary: 1/5, a second crash at 5 s stops it, after 5 s not."""
    sup = await Supervisor.start([lab.spec("child")], max_restarts=1, max_seconds=5)
    await lab.crash((await refs(sup))["child"])
    await clock.advance(second_crash_at)
    await lab.crash((await refs(sup))["child"])
    assert sup.alive is survives
    if survives:
        await sup.stop("shutdown")
    else:
        assert sup.exit_reason == "shutdown"


async def test_statistics_show_restarts_in_the_window_and_in_total(
    lab: Lab, clock: MockClock
) -> None:
    sup = await Supervisor.start([lab.spec("child")], max_restarts=5, max_seconds=10)
    for _ in range(3):
        await lab.crash((await refs(sup))["child"])
        await clock.advance(4)
    stats = sup.statistics()
    assert (stats.restarts, stats.total_restarts) == (2, 3)  # t=0 left the window at t=12
    await sup.stop("shutdown")
