"""Restart types: OTP's table of exit reason x permanent / transient / temporary."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

import actors
from actors.testing import MockClock
from supervisors import AlreadyPresent, AlreadyStarted, ChildSpec, Supervisor
from tests.supervisors.lab import Lab, counts, refs

CLEAN = ["normal", "shutdown", ("shutdown", "info")]
ABNORMAL = [RuntimeError("died"), "killed", "other"]


@pytest.mark.parametrize("reason", [*CLEAN, *ABNORMAL], ids=repr)
async def test_a_permanent_child_is_restarted_whatever_its_exit_reason(
    lab: Lab, reason: Any
) -> None:
    """Behaviour 37: permanent_normal / permanent_shutdown / permanent_abnormal."""
    sup = await Supervisor.start([lab.spec("child")])
    old = (await refs(sup))["child"]
    await lab.crash(old, reason)
    new = (await refs(sup))["child"]
    assert new is not None
    assert new.alive
    assert new != old
    assert await counts(sup) == [1, 1, 0, 1]
    assert sup.statistics().total_restarts == 1
    await sup.stop("shutdown")


@pytest.mark.parametrize("reason", CLEAN, ids=repr)
async def test_a_transient_child_exiting_cleanly_is_not_restarted(lab: Lab, reason: Any) -> None:
    """Behaviour 38: no ref, counts [1,0,0,1], restart_child brings it back."""
    sup = await Supervisor.start([lab.spec("child", restart="transient")])
    await lab.crash((await refs(sup))["child"], reason)
    assert (await sup.which_child("child")).state == "stopped"
    assert await counts(sup) == [1, 0, 0, 1]
    assert sup.statistics().total_restarts == 0
    assert await sup.restart_child("child") is not None
    await sup.stop("shutdown")


@pytest.mark.parametrize("reason", ABNORMAL, ids=repr)
async def test_a_transient_child_that_crashes_is_restarted(lab: Lab, reason: Any) -> None:
    """Behaviour 39: transient_abnormal."""
    sup = await Supervisor.start([lab.spec("child", restart="transient")])
    old = (await refs(sup))["child"]
    await lab.crash(old, reason)
    new = (await refs(sup))["child"]
    assert new is not None
    assert new != old
    await sup.stop("shutdown")


@pytest.mark.parametrize("reason", [*CLEAN, *ABNORMAL], ids=repr)
async def test_a_temporary_child_is_never_restarted_and_its_spec_is_dropped(
    lab: Lab, reason: Any
) -> None:
    """Behaviour 40: counts [0,0,0,0]; the same spec can be started again."""
    sup = await Supervisor.start([lab.spec("child", restart="temporary")])
    await lab.crash((await refs(sup))["child"], reason)
    assert await counts(sup) == [0, 0, 0, 0]
    assert await sup.start_child(lab.spec("child", restart="temporary")) is not None
    await sup.stop("shutdown")


@pytest.mark.parametrize("strategy", ["one_for_all", "rest_for_one"])
async def test_a_temporary_bystander_is_stopped_as_collateral_and_not_restarted(
    lab: Lab, clock: MockClock, strategy: str
) -> None:
    """Behaviour 41: temporary_bystander; it eats no intensity."""
    sup = await Supervisor.start(
        [lab.spec("child1"), lab.spec("child2", restart="temporary")],
        strategy=strategy,
        max_restarts=2,
        max_seconds=300,
    )
    bystander = (await refs(sup))["child2"]
    await lab.crash((await refs(sup))["child1"], "normal")
    await clock.advance(0.35)
    assert sup.alive
    assert [c.id for c in await sup.which_children()] == ["child1"]
    assert bystander is not None
    assert bystander.exit_reason == "shutdown"
    assert sup.statistics().total_restarts == 1
    await sup.stop("shutdown")


@pytest.mark.parametrize("strategy", ["one_for_one", "one_for_all", "rest_for_one"])
@pytest.mark.parametrize("ending", ["kill", "normal", "abnormal", "terminate_child"])
@pytest.mark.parametrize("restart", ["permanent", "transient", "temporary"])
async def test_start_child_again_tells_whether_the_spec_was_kept(
    lab: Lab, strategy: str, ending: str, restart: str
) -> None:
    """Behaviour 42: do_not_save_child_specs_for_temporary_children."""
    sup = await Supervisor.start([], strategy=strategy)
    ref = await sup.start_child(lab.spec("c", restart=restart))
    if ending == "terminate_child":
        await sup.terminate_child("c")
    else:
        reason = {"kill": "killed", "normal": "normal", "abnormal": RuntimeError("x")}[ending]
        await lab.crash(ref, reason)
    again = lab.spec("c", restart=restart)
    restarted = restart == "permanent" or (
        restart == "transient" and ending in ("kill", "abnormal")
    )
    if restart == "temporary":
        assert await sup.start_child(again) is not None
    elif restarted and ending != "terminate_child":
        with pytest.raises(AlreadyStarted):
            await sup.start_child(again)
    else:
        with pytest.raises(AlreadyPresent):
            await sup.start_child(again)
    await sup.stop("shutdown")


async def test_a_temporary_child_does_not_keep_its_start_arguments_alive() -> None:
    """Behaviour 43: the supervisor retains no start closure for temporary children."""

    class Big:
        pass

    def spec_holding(payload: Big, restart: str) -> ChildSpec:
        async def start() -> actors.ActorRef:
            assert payload is not None  # the closure holds the payload
            return await actors.spawn(actors.Actor)

        return ChildSpec(restart, start, restart=restart)  # type: ignore[arg-type]

    sup = await Supervisor.start([])
    watched = {}
    for restart in ("temporary", "transient"):
        payload = Big()
        watched[restart] = weakref.ref(payload)
        await sup.start_child(spec_holding(payload, restart))
        del payload
    gc.collect()
    assert watched["temporary"]() is None
    assert watched["transient"]() is not None
    await sup.stop("shutdown")
