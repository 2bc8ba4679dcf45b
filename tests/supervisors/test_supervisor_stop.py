"""Stopping a supervisor: reverse order, shutdown values, races, and the parent's exit signal."""

from __future__ import annotations

import asyncio
from typing import Any

import actors
from actors.testing import MockClock, wait_all_idle
from supervisors import ChildSpec, Supervisor
from tests.supervisors.lab import Lab, refs


async def test_stopping_a_supervisor_stops_children_in_reverse_start_order(lab: Lab) -> None:
    """Behaviour 26: exact reverse start order, each with reason shutdown."""
    ids = ["c5", "a1", "e3", "b2", "d4"]
    sup = await Supervisor.start([lab.spec(i) for i in ids])
    await sup.stop("shutdown")
    assert lab.events("terminate") == [(i, "shutdown") for i in reversed(ids)]


async def test_children_with_infinite_shutdown_are_waited_for(lab: Lab, clock: MockClock) -> None:
    """Behaviour 20: a worker and a supervisor with shutdown infinity both exit shutdown."""
    inner = ChildSpec(
        "inner", lambda: Supervisor.start([lab.spec("grandchild")]), type="supervisor"
    )
    sup = await Supervisor.start(
        [lab.spec("slow", shutdown="infinity", terminate_seconds=3600), inner]
    )
    children = await refs(sup)
    stopping = asyncio.create_task(sup.stop("shutdown", timeout=None))
    await clock.advance(3599)
    assert not stopping.done()
    await clock.advance(1)
    await stopping
    assert children["inner"] is not None
    assert children["inner"].exit_reason == "shutdown"
    assert children["slow"] is not None
    assert children["slow"].exit_reason == "shutdown"
    assert lab.events("terminate") == [("grandchild", "shutdown"), ("slow", "shutdown")]
    assert lab.events("terminated") == [("slow",)]


async def test_a_child_that_does_not_stop_in_time_is_killed(lab: Lab, clock: MockClock) -> None:
    """Behaviour 21: the busy child is killed after its shutdown; the other exits shutdown."""
    sup = await Supervisor.start(
        [
            lab.spec("cooperative", shutdown=1),
            lab.spec("busy", shutdown=1, terminate_seconds=60),
        ]
    )
    children = await refs(sup)
    stopping = asyncio.create_task(sup.stop("shutdown"))
    await clock.advance(0.999)
    assert not stopping.done()
    await clock.advance(0.001)
    await stopping
    assert children["busy"] is not None
    assert children["busy"].exit_reason == "killed"
    assert children["cooperative"] is not None
    assert children["cooperative"].exit_reason == "shutdown"
    assert sup.exit_reason == "shutdown"


async def test_brutal_kill_children_are_killed_without_a_grace_period(lab: Lab) -> None:
    """Behaviour 23: brutal_kill children exit killed; terminate does not run."""
    sup = await Supervisor.start([lab.spec("a", shutdown="brutal_kill"), lab.spec("b")])
    children = await refs(sup)
    await sup.stop("shutdown")
    assert children["a"] is not None
    assert children["a"].exit_reason == "killed"
    assert lab.events("terminate") == [("b", "shutdown")]


async def test_children_exiting_by_themselves_during_shutdown_keep_their_reasons(
    lab: Lab, clock: MockClock
) -> None:
    """Behaviour 24: sup_stop_race; the supervisor still ends with shutdown."""
    reasons: list[Any] = ["normal", "shutdown", ("shutdown", "test"), RuntimeError("other")]
    specs = [
        lab.spec(f"{restart}{n}", restart=restart)
        for restart in ("permanent", "transient", "temporary")
        for n in range(len(reasons))
    ]
    sup = await Supervisor.start([*specs, lab.spec("slow", shutdown=2, terminate_seconds=1)])
    children = await refs(sup)
    stopping = asyncio.create_task(sup.stop("shutdown", timeout=None))
    await wait_all_idle()  # shutting down: "slow" (stopped first) is in its 1 s terminate
    assert lab.events("terminate") == [("slow", "shutdown")]
    for child_id, ref in children.items():
        if child_id != "slow":
            assert ref is not None
            ref.cast(("exit", reasons[int(str(child_id)[-1])]))
    await clock.advance(1)
    await stopping
    assert sup.exit_reason == "shutdown"
    for child_id, ref in children.items():
        assert ref is not None
        expected = "shutdown" if child_id == "slow" else reasons[int(str(child_id)[-1])]
        assert ref.exit_reason == expected
    assert lab.events("terminated") == [("slow",)]


async def test_a_child_that_unlinked_itself_does_not_hang_terminate_child(lab: Lab) -> None:
    """Behaviour 28: child_unlink; the supervisor keeps answering."""
    sup = await Supervisor.start([lab.spec("a")])
    child = (await refs(sup))["a"]
    assert child is not None
    child.cast(("unlink", sup))
    await wait_all_idle()
    assert child.statistics().links == 0
    await sup.terminate_child("a")
    assert child.exit_reason == "shutdown"
    assert [c.state for c in await sup.which_children()] == ["stopped"]
    await sup.stop("shutdown")


async def test_an_exit_signal_from_the_parent_stops_children_then_the_supervisor(
    lab: Lab,
) -> None:
    """A supervisor started from an actor treats that actor's exit as an order to stop."""

    class Owner(actors.Actor):
        async def init(self) -> None:
            self.sup = await Supervisor.start([lab.spec("a"), lab.spec("b")])
            self.link(self.sup)

        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            return self.sup

        async def handle_cast(self, message: Any) -> None:
            raise RuntimeError("owner crashed")

    owner = await actors.spawn(Owner)
    sup = await owner.call("sup")
    owner.cast("crash")
    reason = await sup.wait()
    assert isinstance(reason, RuntimeError)
    assert str(reason) == "owner crashed"
    assert lab.events("terminate") == [("b", "shutdown"), ("a", "shutdown")]


async def test_an_exit_signal_from_an_actor_that_is_not_the_parent_is_ignored(
    lab: Lab,
) -> None:
    sup = await Supervisor.start([lab.spec("a")])

    class Stranger(actors.Actor):
        async def init(self) -> None:
            self.link(sup)

        async def handle_cast(self, message: Any) -> None:
            raise RuntimeError("stranger crashed")

    stranger = await actors.spawn(Stranger)
    stranger.cast("crash")
    await wait_all_idle()
    assert sup.alive
    assert lab.events("terminate") == []
    await sup.stop("shutdown")


async def test_a_killed_supervisor_takes_its_non_trapping_children_down(lab: Lab) -> None:
    sup = await Supervisor.start([lab.spec("a")])
    child = (await refs(sup))["a"]
    sup.kill()
    await wait_all_idle()
    assert child is not None
    assert child.exit_reason == "killed"


async def test_a_supervisor_stopped_normally_still_shuts_its_children_down(lab: Lab) -> None:
    sup = await Supervisor.start([lab.spec("a")])
    await sup.stop()
    assert sup.exit_reason == "normal"
    assert lab.events("terminate") == [("a", "shutdown")]


async def test_a_supervisor_killed_while_starting_a_child_leaves_nothing_behind(
    clock: MockClock,
) -> None:
    """The child being started when the supervisor is killed is killed too (no orphan)."""
    gate = asyncio.Event()

    class SlowInit(actors.Actor):
        async def init(self) -> None:
            await gate.wait()

    sup = await Supervisor.start([])
    adding = asyncio.create_task(sup.start_child(ChildSpec("slow", lambda: actors.spawn(SlowInit))))
    await wait_all_idle()
    sup.kill()
    gate.set()
    await wait_all_idle()
    assert adding.done()
    assert isinstance(adding.exception(), actors.NoProc)


async def test_a_killed_parent_supervisor_makes_its_sub_supervisor_stop_in_order(
    lab: Lab,
) -> None:
    """The parent's exit signal ('killed') is an order to stop: children in reverse order."""
    top = await Supervisor.start(
        [
            ChildSpec(
                "sub", lambda: Supervisor.start([lab.spec("a"), lab.spec("b")]), type="supervisor"
            )
        ]
    )
    sub = (await refs(top))["sub"]
    assert sub is not None
    top.kill()
    assert await sub.wait() == "killed"
    assert lab.events("terminate") == [("b", "shutdown"), ("a", "shutdown")]
