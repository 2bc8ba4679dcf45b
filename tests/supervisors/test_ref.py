"""SupervisorRef: an ActorRef with statistics and a repr that explain the supervisor."""

from __future__ import annotations

import re

import actors
from actors.testing import MockClock
from supervisors import (
    Backoff,
    DynamicSupervisor,
    Supervisor,
    SupervisorRef,
    SupervisorStatistics,
)
from tests.supervisors.lab import Lab, refs


async def test_a_supervisor_ref_is_an_actor_ref_to_the_supervisor_actor(lab: Lab) -> None:
    sup = await Supervisor.start([lab.spec("a")], name="sup")
    assert isinstance(sup, actors.ActorRef)
    assert actors.whereis("sup") == sup
    assert hash(actors.whereis("sup")) == hash(sup)
    assert sup.statistics().actor.trap_exits is True
    await sup.stop("shutdown")


async def test_the_repr_shows_strategy_children_and_restarts_in_the_window(
    lab: Lab, clock: MockClock
) -> None:
    sup = await Supervisor.start(
        [lab.spec("a"), lab.spec("b", backoff=Backoff(initial=1, jitter=0))],
        strategy="one_for_all",
        name="pipeline",
    )
    assert re.fullmatch(
        r"<SupervisorRef Supervisor 'pipeline' #\d+ alive one_for_all, 2 children "
        r"\(2 running\), 0/3 restarts in 5 s>",
        repr(sup),
    )
    await lab.crash((await refs(sup))["b"])
    # one_for_all stopped "a" at once; the restart itself (and its count) waits for the delay
    assert "2 children (0 running, 1 restarting), 0/3 restarts in 5 s>" in repr(sup)
    await clock.advance(1)
    assert "2 children (2 running), 1/3 restarts in 5 s>" in repr(sup)
    await sup.stop("shutdown")
    assert re.search(r"#\d+ dead one_for_all", repr(sup))


async def test_statistics_summarise_children_and_restarts(lab: Lab, clock: MockClock) -> None:
    from supervisors import ChildSpec

    sup = await Supervisor.start(
        [
            lab.spec("a"),
            lab.spec("b", restart="transient"),
            ChildSpec("sub", lambda: Supervisor.start([]), type="supervisor"),
        ],
        max_restarts=10,
        max_seconds=60,
    )
    await lab.crash((await refs(sup))["a"])
    await lab.crash((await refs(sup))["b"], "normal")
    stats = sup.statistics()
    assert isinstance(stats, SupervisorStatistics)
    assert (stats.children, stats.active, stats.restarting) == (3, 2, 0)
    assert (stats.workers, stats.supervisors) == (2, 1)
    assert (stats.restarts, stats.total_restarts) == (1, 1)
    assert (stats.max_restarts, stats.max_seconds, stats.max_children) == (10, 60, None)
    assert stats.actor.alive
    await clock.advance(61)
    assert sup.statistics().restarts == 0
    await sup.stop("shutdown")
    final = sup.statistics()
    assert not final.actor.alive
    assert final.total_restarts == 1


async def test_a_dynamic_supervisor_reports_its_limit(lab: Lab) -> None:
    dyn = await DynamicSupervisor.start(max_children=5)
    await dyn.start_child(lab.spec("a"))
    stats = dyn.statistics()
    assert (stats.children, stats.active, stats.max_children) == (1, 1, 5)
    assert repr(dyn).startswith("<DynamicSupervisorRef DynamicSupervisor #")
    await dyn.stop("shutdown")


async def test_a_nested_supervisor_is_listed_with_its_own_supervisor_ref(lab: Lab) -> None:
    from supervisors import ChildSpec

    top = await Supervisor.start(
        [ChildSpec("sub", lambda: Supervisor.start([lab.spec("w")]), type="supervisor")]
    )
    sub = (await refs(top))["sub"]
    assert isinstance(sub, SupervisorRef)
    assert [c.id for c in await sub.which_children()] == ["w"]
    await top.stop("shutdown")
