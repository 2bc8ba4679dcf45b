"""which_children, count_children, start/terminate/restart/delete_child and their errors."""

from __future__ import annotations

import asyncio

import pytest

import actors
from actors.testing import MockClock, wait_all_idle
from supervisors import (
    AlreadyPresent,
    AlreadyStarted,
    Child,
    NotFound,
    Restarting,
    Running,
    Supervisor,
)
from tests.supervisors.lab import Lab, counts, refs


async def test_a_child_goes_through_its_whole_administrative_life(lab: Lab) -> None:
    """Behaviour 29: child_adm, every step and error case on one static child."""
    sup = await Supervisor.start([lab.spec("child1")])
    first = (await refs(sup))["child1"]
    with pytest.raises(AlreadyStarted) as started:
        await sup.start_child(lab.spec("child1"))
    assert started.value.ref == first
    with pytest.raises(NotFound):
        await sup.terminate_child("nope")
    await sup.terminate_child("child1")
    assert first is not None
    assert first.exit_reason == "shutdown"
    assert await sup.which_children() == [Child("child1", None, "worker", "stopped")]
    assert await counts(sup) == [1, 0, 0, 1]
    await sup.terminate_child("child1")  # idempotent
    with pytest.raises(AlreadyPresent):
        await sup.start_child(lab.spec("child1"))
    second = await sup.restart_child("child1")
    assert second is not None
    assert second.alive
    assert second != first
    with pytest.raises(Running):
        await sup.restart_child("child1")
    with pytest.raises(NotFound):
        await sup.restart_child("nope")
    with pytest.raises(Running):
        await sup.delete_child("child1")
    await sup.terminate_child("child1")
    await sup.delete_child("child1")
    assert await counts(sup) == [0, 0, 0, 0]
    with pytest.raises(NotFound):
        await sup.delete_child("child1")
    await sup.stop("shutdown")
    with pytest.raises(actors.NoProc):
        await sup.which_children()


async def test_terminate_child_by_ref_on_a_static_supervisor_is_not_found(lab: Lab) -> None:
    """Behaviour 29: terminate_child by pid on a non-simple supervisor; child untouched."""
    sup = await Supervisor.start([lab.spec("a")])
    child = (await refs(sup))["a"]
    with pytest.raises(NotFound):
        await sup.terminate_child(child)
    assert child is not None
    assert child.alive
    await sup.stop("shutdown")


async def test_a_terminated_child_is_not_restarted_and_costs_no_intensity(lab: Lab) -> None:
    """Section 1.2, point 5: API terminations do not count toward the restart intensity."""
    sup = await Supervisor.start([lab.spec("a")], max_restarts=0)
    for _ in range(3):
        await sup.terminate_child("a")
        await sup.restart_child("a")
    await wait_all_idle()
    assert sup.alive
    assert sup.statistics().total_restarts == 0
    await sup.stop("shutdown")


async def test_which_children_lists_start_order_and_forgets_deleted_children(
    lab: Lab,
) -> None:
    """Behaviour 32: terminated children show no ref; deleted ones disappear."""
    sup = await Supervisor.start([lab.spec("a"), lab.spec("b")])
    await sup.start_child(lab.spec("c"))
    await sup.terminate_child("b")
    listing = await sup.which_children()
    assert [(c.id, c.state, c.ref is None) for c in listing] == [
        ("a", "running", False),
        ("b", "stopped", True),
        ("c", "running", False),
    ]
    await sup.delete_child("b")
    assert [c.id for c in await sup.which_children()] == ["a", "c"]
    assert (await sup.which_child("c")).state == "running"
    with pytest.raises(NotFound, match=r"has no child with id 'b' \(its children are"):
        await sup.which_child("b")
    await sup.stop("shutdown")


async def test_start_child_appends_a_child_that_stops_first(lab: Lab) -> None:
    sup = await Supervisor.start([lab.spec("a")])
    await sup.start_child(lab.spec("b"))
    await sup.stop("shutdown")
    assert lab.events("terminate") == [("b", "shutdown"), ("a", "shutdown")]


async def test_count_children_counts_supervisor_children_by_type(lab: Lab) -> None:
    """Behaviours 34 and 58: counts [specs, active, supervisors, workers]."""
    nested = lab.spec("w")
    sup = await Supervisor.start([lab.spec("a")])
    from supervisors import ChildSpec

    await sup.start_child(ChildSpec("sub", lambda: Supervisor.start([nested]), type="supervisor"))
    assert await counts(sup) == [2, 2, 1, 1]
    await sup.terminate_child("sub")
    assert await counts(sup) == [2, 1, 1, 1]
    await sup.stop("shutdown")


async def test_a_child_whose_restarts_keep_failing_can_be_administered_meanwhile(
    lab: Lab, clock: MockClock
) -> None:
    """Behaviour 57: hanging_restart_loop under 8/10 (with a backoff keeping it waiting)."""
    from supervisors import Backoff

    backoff = Backoff(initial=1, max=1, jitter=0)
    sup = await Supervisor.start([lab.spec("a", backoff=backoff)], max_restarts=8, max_seconds=10)
    lab.fail("a")
    await lab.crash((await refs(sup))["a"])
    await clock.advance(1)  # first delayed restart fails: the child stays restarting
    assert lab.starts["a"] == 2
    child = await sup.which_child("a")
    assert (child.ref, child.state, child.restarting) == (None, "restarting", True)
    assert await counts(sup) == [1, 0, 0, 1]
    with pytest.raises(AlreadyPresent):
        await sup.start_child(lab.spec("a"))
    with pytest.raises(Restarting, match="call terminate_child\\('a'\\) to stop the retries"):
        await sup.restart_child("a")
    with pytest.raises(Restarting):
        await sup.delete_child("a")
    await sup.terminate_child("a")
    assert (await sup.which_child("a")).state == "stopped"
    await clock.advance(10)
    assert lab.starts["a"] == 2  # the loop stopped
    lab.succeed("a")
    assert await sup.restart_child("a") is not None
    assert sup.alive
    await sup.stop("shutdown")


async def test_a_supervisor_in_a_restart_loop_shuts_down_without_hanging(lab: Lab) -> None:
    """Behaviour 57: a stop requested while restarts keep failing completes."""
    sup = await Supervisor.start([lab.spec("a")], max_restarts=1000, max_seconds=10)
    stopping: list[asyncio.Task[None]] = []

    def stop_on_fifth_attempt(attempt: int) -> None:
        if attempt == 5:
            stopping.append(asyncio.create_task(sup.stop("shutdown", timeout=None)))

    lab.on_start["a"] = stop_on_fifth_attempt
    lab.fail("a")
    await lab.crash((await refs(sup))["a"])
    await stopping[0]
    assert sup.exit_reason == "shutdown"
    assert 5 <= lab.starts["a"] <= 7
    assert sup.statistics().total_restarts == lab.starts["a"] - 1


async def test_the_children_after_a_looping_one_are_stopped_under_rest_for_one(
    lab: Lab, clock: MockClock
) -> None:
    """Behaviour 57 (rest_for_one variant): later children undefined, earlier one running."""
    from supervisors import Backoff

    backoff = Backoff(initial=1, max=1, jitter=0)
    sup = await Supervisor.start(
        [lab.spec("before"), lab.spec("loop", backoff=backoff), lab.spec("after")],
        strategy="rest_for_one",
        max_restarts=8,
        max_seconds=10,
    )
    lab.fail("loop")
    await lab.crash((await refs(sup))["loop"])
    await clock.advance(1)
    assert [(c.id, c.state) for c in await sup.which_children()] == [
        ("before", "running"),
        ("loop", "restarting"),
        ("after", "stopped"),
    ]
    lab.succeed("loop")
    await clock.advance(2)
    assert [c.state for c in await sup.which_children()] == ["running"] * 3
    await sup.stop("shutdown")


async def test_the_life_cycle_of_an_elixir_supervisor_child(lab: Lab) -> None:
    """Behaviour 78: empty listing, running delete refused, terminate+restart, terminate+delete."""
    sup = await Supervisor.start([])
    assert await sup.which_children() == []
    assert await counts(sup) == [0, 0, 0, 0]
    first = await sup.start_child(lab.spec("c"))
    with pytest.raises(Running):
        await sup.delete_child("c")
    await sup.terminate_child("c")
    second = await sup.restart_child("c")
    assert second is not None
    assert second != first
    await sup.terminate_child("c")
    await sup.delete_child("c")
    assert await sup.which_children() == []
    await sup.stop("shutdown")
