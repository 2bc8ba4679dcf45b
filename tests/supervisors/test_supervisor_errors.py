"""Error messages: what was attempted, which child of which supervisor, how to fix it."""

from __future__ import annotations

import re

import pytest

import actors
import supervisors
from supervisors import (
    AlreadyPresent,
    AlreadyStarted,
    DynamicSupervisor,
    MaxChildren,
    NotFound,
    Restarting,
    Running,
    StartError,
    Supervisor,
    SupervisorError,
)
from tests.supervisors.lab import Lab, refs


def test_every_error_is_a_supervisor_error() -> None:
    for name in ("InvalidSpec", "StartError", "MaxChildren", "NotFound", "AlreadyStarted"):
        assert issubclass(getattr(supervisors, name), SupervisorError)
    for name in ("AlreadyPresent", "Running", "Restarting"):
        assert issubclass(getattr(supervisors, name), SupervisorError)
    assert issubclass(supervisors.InvalidSpec, ValueError)
    assert issubclass(supervisors.NotFound, LookupError)
    assert issubclass(StartError, actors.StartError)


async def test_already_started_names_the_child_the_supervisor_and_the_way_out(lab: Lab) -> None:
    sup = await Supervisor.start([lab.spec("db")])
    child = (await refs(sup))["db"]
    with pytest.raises(AlreadyStarted) as caught:
        await sup.start_child(lab.spec("db"))
    assert str(caught.value) == (
        f"cannot start child 'db' under {_plain(sup)}: a child with this id is already "
        f"running as {child!r}; use another id, or terminate_child() and delete_child() it first"
    )
    assert (caught.value.child_id, caught.value.ref, caught.value.supervisor) == ("db", child, sup)
    await sup.stop("shutdown")


async def test_already_present_explains_restart_child_and_delete_child(lab: Lab) -> None:
    sup = await Supervisor.start([lab.spec("db")])
    await sup.terminate_child("db")
    with pytest.raises(AlreadyPresent) as caught:
        await sup.start_child(lab.spec("db"))
    assert str(caught.value) == (
        f"cannot start child 'db' under {_plain(sup)}: a child spec with this id is already "
        "present (not running); restart_child() starts it again, delete_child() removes it "
        "so that a new spec can take the id"
    )
    await sup.stop("shutdown")


async def test_running_says_to_terminate_first(lab: Lab) -> None:
    sup = await Supervisor.start([lab.spec("db")])
    with pytest.raises(Running) as caught:
        await sup.delete_child("db")
    assert str(caught.value) == (
        f"cannot delete child 'db' of {_plain(sup)}: it is running; call "
        "terminate_child('db') first"
    )
    await sup.stop("shutdown")


async def test_not_found_lists_the_children_and_suggests_the_closest_id(lab: Lab) -> None:
    sup = await Supervisor.start([lab.spec("database"), lab.spec("cache")])
    with pytest.raises(NotFound) as caught:
        await sup.restart_child("databse")
    assert str(caught.value) == (
        f"{_plain(sup)} has no child with id 'databse' (its children are ['database', "
        "'cache']); did you mean 'database'?; which_children() lists them"
    )
    assert caught.value.child_id == "databse"
    await sup.stop("shutdown")


async def test_restarting_says_how_to_stop_the_retries(lab: Lab) -> None:
    from supervisors import Backoff

    sup = await Supervisor.start([lab.spec("db", backoff=Backoff(initial=1))])
    await lab.crash((await refs(sup))["db"])
    with pytest.raises(Restarting) as caught:
        await sup.restart_child("db")
    assert str(caught.value) == (
        f"cannot restart child 'db' of {_plain(sup)}: the supervisor is restarting it (its "
        "last start failed or waits for its backoff delay, and a retry is pending); call "
        "terminate_child('db') to stop the retries first"
    )
    await sup.stop("shutdown")


async def test_max_children_says_how_many_and_what_to_do(lab: Lab) -> None:
    dyn = await DynamicSupervisor.start(max_children=1)
    await dyn.start_child(lab.spec("a"))
    with pytest.raises(MaxChildren) as caught:
        await dyn.start_child(lab.spec("b"))
    assert str(caught.value) == (
        f"cannot start another child under {_plain(dyn)}: it already has its maximum of 1 "
        "children (children being restarted count too); terminate a child first, or start "
        "the supervisor with a larger max_children="
    )
    assert caught.value.max_children == 1
    await dyn.stop("shutdown")


async def test_a_start_error_names_the_child_and_the_cause(lab: Lab) -> None:
    lab.fail("db")
    with pytest.raises(StartError) as caught:
        await Supervisor.start([lab.spec("db")])
    assert re.fullmatch(
        r"<ActorRef Supervisor #\d+ alive> could not start child 'db': "
        r"RuntimeError: db cannot start; the children started before it were stopped",
        str(caught.value),
    )
    assert str(caught.value.__cause__) == "db cannot start"


async def test_an_unknown_raw_call_is_answered_with_an_error_not_a_crash() -> None:
    sup = await Supervisor.start([])
    reply = await sup.call("hello")
    assert "does not understand the call 'hello'" in str(reply.error)
    assert sup.alive
    await sup.stop("shutdown")


def _plain(ref: actors.ActorRef) -> str:
    """How the supervisor names itself in messages: its plain actor reference."""
    return f"<ActorRef {ref.statistics().actor.actor_class} #{ref.pid} alive>"
