"""Significant children and auto_shutdown (OTP 24+): work-unit supervisors that finish."""

from __future__ import annotations

from typing import Any

import pytest

from supervisors import ChildSpec, InvalidSpec, Supervisor, SupervisorRef
from tests.supervisors.lab import Lab, refs

MODES = ["never", "any_significant", "all_significant"]
ENDINGS: list[Any] = ["killed", RuntimeError("abnormal"), "normal"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("restart", ["temporary", "transient"])
@pytest.mark.parametrize("ending", ["terminate_child", *ENDINGS], ids=repr)
async def test_non_significant_children_never_stop_the_supervisor(
    lab: Lab, mode: str, restart: str, ending: Any
) -> None:
    """Behaviour 60: nonsignificant_temporary / nonsignificant_transient."""
    sup = await Supervisor.start([lab.spec("child", restart=restart)], auto_shutdown=mode)
    if ending == "terminate_child":
        await sup.terminate_child("child")
    else:
        await lab.crash((await refs(sup))["child"], ending)
    assert sup.alive
    if restart == "transient" and ending != "normal" and ending != "terminate_child":
        assert (await sup.which_child("child")).state == "running"  # a crash is restarted
    await sup.stop("shutdown")


async def test_terminating_a_significant_child_by_hand_does_not_stop_the_supervisor(
    lab: Lab,
) -> None:
    """Behaviour 61: any_significant; terminate_child is not an exit of its own."""
    sup = await Supervisor.start(
        [lab.spec("sig", restart="temporary", significant=True), lab.spec("other")],
        auto_shutdown="any_significant",
    )
    await sup.terminate_child("sig")
    assert sup.alive
    await sup.stop("shutdown")


@pytest.mark.parametrize("ending", ENDINGS, ids=repr)
async def test_a_significant_temporary_child_exiting_stops_an_any_significant_supervisor(
    lab: Lab, ending: Any
) -> None:
    """Behaviour 61: kill, abnormal or normal exit: all children and the supervisor exit."""
    sup = await Supervisor.start(
        [lab.spec("other"), lab.spec("sig", restart="temporary", significant=True)],
        auto_shutdown="any_significant",
    )
    other = (await refs(sup))["other"]
    await lab.crash((await refs(sup))["sig"], ending)
    assert sup.exit_reason == "shutdown"
    assert other is not None
    assert other.exit_reason == "shutdown"


async def test_all_significant_stops_only_after_the_last_significant_child(lab: Lab) -> None:
    """Behaviour 61: the first significant exit does nothing, the last one stops it."""
    sup = await Supervisor.start(
        [
            lab.spec("sig1", restart="temporary", significant=True),
            lab.spec("sig2", restart="temporary", significant=True),
        ],
        auto_shutdown="all_significant",
    )
    await lab.crash((await refs(sup))["sig1"], "normal")
    assert sup.alive
    await lab.crash((await refs(sup))["sig2"], "normal")
    assert sup.exit_reason == "shutdown"


@pytest.mark.parametrize("ending", ["killed", RuntimeError("abnormal")], ids=repr)
async def test_a_crashing_significant_transient_child_is_restarted_not_a_shutdown(
    lab: Lab, ending: Any
) -> None:
    """Behaviour 62: kill or an abnormal exit restarts it; no shutdown."""
    sup = await Supervisor.start(
        [lab.spec("sig", restart="transient", significant=True)],
        auto_shutdown="any_significant",
    )
    await lab.crash((await refs(sup))["sig"], ending)
    assert sup.alive
    assert (await sup.which_child("sig")).state == "running"
    await sup.stop("shutdown")


async def test_a_significant_transient_child_exiting_normally_stops_the_supervisor(
    lab: Lab,
) -> None:
    """Behaviour 62: a normal exit is the end of the work unit."""
    sup = await Supervisor.start(
        [lab.spec("sig", restart="transient", significant=True)],
        auto_shutdown="any_significant",
    )
    await lab.crash((await refs(sup))["sig"], "normal")
    assert sup.exit_reason == "shutdown"


@pytest.mark.parametrize("strategy", ["one_for_one", "one_for_all", "rest_for_one"])
@pytest.mark.parametrize("mode", ["any_significant", "all_significant"])
async def test_killing_a_non_significant_sibling_never_triggers_auto_shutdown(
    lab: Lab, strategy: str, mode: str
) -> None:
    """Behaviour 64: significant children stopped as collateral do not count."""
    sup = await Supervisor.start(
        [lab.spec("plain"), lab.spec("sig", restart="transient", significant=True)],
        strategy=strategy,
        auto_shutdown=mode,
    )
    await lab.crash((await refs(sup))["plain"], "killed")
    assert sup.alive
    await sup.stop("shutdown")


@pytest.mark.parametrize("significant", [True, False])
async def test_a_finished_work_unit_stops_its_parent_only_if_significant_there(
    lab: Lab, significant: bool
) -> None:
    """Behaviour 65: a supervisor that shuts itself down is a transient child exiting shutdown."""
    unit = ChildSpec(
        "unit",
        lambda: Supervisor.start(
            [lab.spec("job", restart="transient", significant=True)],
            auto_shutdown="any_significant",
        ),
        type="supervisor",
        restart="transient",
        significant=significant,
    )
    top = await Supervisor.start([unit, lab.spec("other")], auto_shutdown="any_significant")
    inner = (await refs(top))["unit"]
    assert isinstance(inner, SupervisorRef)
    await lab.crash((await refs(inner))["job"], "normal")
    assert inner.exit_reason == "shutdown"
    assert top.alive is not significant
    if top.alive:
        await top.stop("shutdown")


async def test_a_significant_child_needs_an_auto_shutdown_mode(lab: Lab) -> None:
    """Behaviours 17 and 66: significant with auto_shutdown never is a bad combination."""
    with pytest.raises(InvalidSpec, match="significant=True is not valid; expected False when"):
        await Supervisor.start([lab.spec("s", restart="transient", significant=True)])
    sup = await Supervisor.start([])
    with pytest.raises(InvalidSpec, match="auto_shutdown='any_significant'"):
        await sup.start_child(lab.spec("s", restart="temporary", significant=True))
    await sup.stop("shutdown")
