"""Starting a supervisor: children in order, ignored children, failed starts and rollback."""

from __future__ import annotations

import pytest

import actors
import supervisors
from actors.testing import wait_all_idle
from supervisors import (
    AlreadyPresent,
    AlreadyStarted,
    ChildSpec,
    StartError,
    Supervisor,
    SupervisorRef,
)
from tests.supervisors.lab import Lab, counts, refs


async def test_a_supervisor_without_children_starts_and_stops_with_reason_shutdown() -> None:
    """Behaviour 1: sup_start_normal."""
    sup = await Supervisor.start([], max_restarts=2, max_seconds=3600)
    assert isinstance(sup, SupervisorRef)
    assert sup.alive
    await sup.stop("shutdown")
    assert sup.exit_reason == "shutdown"


async def test_children_start_in_list_order_and_all_run_when_start_returns(lab: Lab) -> None:
    """Behaviour 26: ids in non-alphabetical order start in list order."""
    ids = ["c5", "a1", "e3", "b2", "d4"]
    sup = await Supervisor.start([lab.spec(i) for i in ids])
    assert lab.events("start") == [(i,) for i in ids]
    assert [c.id for c in await sup.which_children()] == ids
    assert all(ref is not None and ref.alive for ref in (await refs(sup)).values())
    await sup.stop("shutdown")


async def test_a_started_child_is_linked_to_its_supervisor(lab: Lab) -> None:
    sup = await Supervisor.start([lab.spec("a")])
    child = (await refs(sup))["a"]
    assert child is not None
    assert child.statistics().links == 1
    await sup.stop("shutdown")


async def test_a_start_function_returning_none_is_ignored_and_its_spec_kept(lab: Lab) -> None:
    """Behaviour 5: an ignored permanent child is listed with no ref next to its sibling."""
    lab.ignore("ignored", times=1)
    sup = await Supervisor.start([lab.spec("ignored"), lab.spec("running")])
    children = await sup.which_children()
    assert [(c.id, c.ref is None, c.state) for c in children] == [
        ("ignored", True, "stopped"),
        ("running", False, "running"),
    ]
    assert await counts(sup) == [2, 1, 0, 2]
    await sup.stop("shutdown")


async def test_an_ignored_temporary_child_is_dropped_entirely(lab: Lab) -> None:
    """Behaviour 6: sup_start_ignore_temporary_child."""
    lab.ignore("temp")
    sup = await Supervisor.start([lab.spec("temp", restart="temporary"), lab.spec("running")])
    assert [c.id for c in await sup.which_children()] == ["running"]
    assert await counts(sup) == [1, 1, 0, 1]
    await sup.stop("shutdown")


async def test_start_child_of_an_ignored_permanent_child_returns_none_and_keeps_it(
    lab: Lab,
) -> None:
    """Behaviour 5 (through start_child): {ok, undefined}, spec stored."""
    sup = await Supervisor.start([])
    lab.ignore("late", times=1)
    assert await sup.start_child(lab.spec("late")) is None
    assert await counts(sup) == [1, 0, 0, 1]
    with pytest.raises(AlreadyPresent):
        await sup.start_child(lab.spec("late"))
    assert await sup.restart_child("late") is not None
    await sup.stop("shutdown")


async def test_start_child_of_an_ignored_temporary_child_stores_nothing(lab: Lab) -> None:
    """Behaviour 7: sup_start_ignore_temporary_child_start_child."""
    sup = await Supervisor.start([])
    lab.ignore("temp", times=1)
    assert await sup.start_child(lab.spec("temp", restart="temporary")) is None
    assert await sup.which_children() == []
    await sup.stop("shutdown")
    assert sup.exit_reason == "shutdown"


async def test_a_failing_start_child_raises_and_stores_nothing(lab: Lab) -> None:
    """Behaviour 9: sup_start_child_returns_error; the supervisor is unaffected."""
    sup = await Supervisor.start([])
    lab.fail("bad")
    with pytest.raises(StartError, match=r"could not start child 'bad': RuntimeError") as caught:
        await sup.start_child(lab.spec("bad"))
    assert caught.value.child_id == "bad"
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert await sup.which_children() == []
    assert sup.statistics().total_restarts == 0
    await sup.stop("shutdown")


async def test_a_start_returning_something_else_than_a_ref_is_a_start_error() -> None:
    """Behaviours 9 and 69: a non-conforming return value is an error."""
    sup = await Supervisor.start([])

    async def start() -> str:
        return "not a ref"

    with pytest.raises(StartError, match=r"returned 'not a ref'; it must return") as caught:
        await sup.start_child(ChildSpec("odd", start))  # type: ignore[arg-type]
    assert isinstance(caught.value.reason, TypeError)
    await sup.stop("shutdown")


async def test_a_plain_function_returning_a_ref_may_serve_as_start(lab: Lab) -> None:
    sup = await Supervisor.start([])
    spare = await actors.spawn(actors.Actor)
    ref = await sup.start_child(ChildSpec("spare", lambda: spare))
    assert ref == spare
    await sup.stop("shutdown")
    assert spare.exit_reason == "shutdown"


async def test_a_failed_restart_child_raises_and_the_child_stays_stopped(lab: Lab) -> None:
    """Behaviour 11: sup_start_restart_child_returns_error."""
    sup = await Supervisor.start([lab.spec("a")])
    await sup.terminate_child("a")
    lab.fail("a", times=1)
    with pytest.raises(StartError, match="could not start child 'a'"):
        await sup.restart_child("a")
    child = await sup.which_child("a")
    assert (child.ref, child.state) == (None, "stopped")
    await sup.stop("shutdown")


async def test_a_child_failing_at_start_stops_the_started_ones_and_raises(lab: Lab) -> None:
    """Behaviour 12: #1 is terminated with shutdown, #3 never starts, StartError names #2."""
    lab.fail("second")
    with pytest.raises(StartError) as caught:
        await Supervisor.start([lab.spec("first"), lab.spec("second"), lab.spec("third")])
    assert caught.value.child_id == "second"
    assert "could not start child 'second': RuntimeError: second cannot start" in str(caught.value)
    assert isinstance(caught.value, actors.StartError)
    assert lab.events("start") == [("first",)]
    assert lab.events("terminate") == [("first", "shutdown")]


async def test_a_failed_start_rolls_back_in_reverse_start_order(lab: Lab) -> None:
    lab.fail("d")
    with pytest.raises(StartError):
        await Supervisor.start([lab.spec(i) for i in "abcd"])
    assert lab.events("terminate") == [("c", "shutdown"), ("b", "shutdown"), ("a", "shutdown")]


async def test_a_child_whose_init_raises_makes_the_start_error_carry_that_cause() -> None:
    class Broken(actors.Actor):
        async def init(self) -> None:
            raise ValueError("no config")

    with pytest.raises(StartError, match="no config") as caught:
        await Supervisor.start([ChildSpec("broken", lambda: actors.spawn(Broken))])
    assert isinstance(caught.value.reason, actors.StartError)


async def test_a_supervisor_can_be_registered_under_a_name(lab: Lab) -> None:
    """Behaviour 79: a named supervisor; which_children works through the name."""
    sup = await Supervisor.start([lab.spec("a")], name="top")
    found = actors.whereis("top")
    assert found == sup
    with pytest.raises(actors.NameTaken):
        await Supervisor.start([], name="top")
    await sup.stop("shutdown")
    assert actors.whereis("top") is None


async def test_a_registered_name_held_outside_gives_already_started_with_that_actor() -> None:
    """Behaviour 36: the foreign holder is reported and not adopted."""
    outsider = await actors.spawn(actors.Actor, name="db")
    sup = await Supervisor.start([])
    with pytest.raises(AlreadyStarted, match="asked for the name 'db'") as caught:
        await sup.start_child(ChildSpec("db", lambda: actors.spawn(actors.Actor, name="db")))
    assert caught.value.ref == outsider
    assert await sup.which_children() == []
    await sup.stop("shutdown")
    assert outsider.alive
    await outsider.stop()


async def test_an_actor_whose_supervisor_fails_to_start_gets_an_error_not_an_exit(
    lab: Lab,
) -> None:
    """Behaviour 4 (adapted): a failed start is reported by the return, no exit signal leaks."""
    lab.fail("child")

    class Starter(actors.Actor):
        async def handle_call(self, message: object, caller: actors.Caller) -> object:
            try:
                await Supervisor.start([lab.spec("child")])
            except StartError as error:
                return error.child_id
            return None

    starter = await actors.spawn(Starter)
    assert await starter.call("start") == "child"
    assert starter.alive
    await starter.stop()


async def test_registered_children_take_their_name_again_after_every_restart() -> None:
    """Behaviour 59: names come back with new refs; killing the top removes every name."""
    sub = ChildSpec(
        "sub",
        lambda: Supervisor.start(
            [ChildSpec("w", lambda: actors.spawn(Named, name="worker"))], name="sub"
        ),
        type="supervisor",
    )
    top = await Supervisor.start([sub], name="top", max_restarts=10)
    for end in ("killed", "crash", "normal", "terminate"):
        worker = actors.whereis("worker")
        assert worker is not None
        if end == "killed":
            worker.kill()
        elif end == "terminate":
            sub_ref = supervisors.whereis("sub")
            assert isinstance(sub_ref, SupervisorRef)
            await sub_ref.terminate_child("w")
            assert actors.whereis("worker") is None
            await sub_ref.restart_child("w")
        else:
            worker.cast(end)
            await worker.wait()
        await wait_all_idle()
        assert actors.whereis("worker") not in (None, worker)
    top.kill()
    await wait_all_idle()
    assert [actors.whereis(n) for n in ("top", "sub", "worker")] == [None, None, None]


class Named(actors.Actor):
    """A worker that exits on request: 'crash' raises, anything else is the exit reason."""

    async def handle_cast(self, message: object) -> None:
        if message == "crash":
            raise RuntimeError("crash")
        self.stop(message)


async def test_whereis_finds_a_registered_supervisor_as_its_supervisor_ref() -> None:
    """Behaviour 79: a named supervisor is addressed through its name."""
    from supervisors import DynamicSupervisor, DynamicSupervisorRef, SupervisorError

    sup = await Supervisor.start([], name="static")
    dyn = await DynamicSupervisor.start(name="dynamic")
    plain = await actors.spawn(actors.Actor, name="plain")
    found = supervisors.whereis("static")
    assert isinstance(found, SupervisorRef)
    assert found == sup
    assert await found.which_children() == []
    assert isinstance(supervisors.whereis("dynamic"), DynamicSupervisorRef)
    assert supervisors.whereis("nobody") is None
    with pytest.raises(SupervisorError, match=r"'plain' is .* not a supervisor"):
        supervisors.whereis("plain")
    for ref in (sup, dyn, plain):
        await ref.stop("shutdown")


async def test_a_nested_supervisor_that_fails_to_start_fails_its_parent_naming_both(
    lab: Lab,
) -> None:
    lab.fail("deep")
    sub = ChildSpec("sub", lambda: Supervisor.start([lab.spec("deep")]), type="supervisor")
    with pytest.raises(StartError) as caught:
        await Supervisor.start([lab.spec("first"), sub])
    assert caught.value.child_id == "sub"
    inner = caught.value.reason
    assert isinstance(inner, StartError)
    assert inner.child_id == "deep"
    assert lab.events("terminate") == [("first", "shutdown")]
