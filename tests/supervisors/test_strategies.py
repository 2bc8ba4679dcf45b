"""Strategies and restart intensity: one_for_one, one_for_all, rest_for_one, escalation."""

from __future__ import annotations

from actors.testing import MockClock
from supervisors import ChildSpec, Supervisor, SupervisorRef
from tests.supervisors.lab import Lab, counts, refs


async def test_a_window_that_slides_lets_spaced_crashes_restart_forever(
    lab: Lab, clock: MockClock
) -> None:
    """Behaviour 44: under 1/1, crashes 2.1 s apart never kill the supervisor."""
    sup = await Supervisor.start([lab.spec("child")], max_restarts=1, max_seconds=1)
    for _ in range(4):
        await lab.crash((await refs(sup))["child"])
        await clock.advance(2.1)
    assert sup.alive
    assert sup.statistics().total_restarts == 4
    await sup.stop("shutdown")


async def test_one_for_one_restarts_only_the_crashed_child_and_escalates_on_the_third(
    lab: Lab,
) -> None:
    """Behaviour 45: 2/3600; child2 keeps its ref; three restarts exceed the intensity."""
    sup = await Supervisor.start(
        [lab.spec("child1"), lab.spec("child2")], max_restarts=2, max_seconds=3600
    )
    before = await refs(sup)
    await lab.crash(before["child1"])
    after = await refs(sup)
    assert after["child1"] != before["child1"]
    assert after["child2"] == before["child2"]
    assert await counts(sup) == [2, 2, 0, 2]
    await lab.crash(after["child2"])
    assert sup.alive
    survivor = (await refs(sup))["child2"]
    await lab.crash((await refs(sup))["child1"])
    assert sup.exit_reason == "shutdown"
    assert survivor is not None
    assert survivor.exit_reason == "shutdown"


async def test_a_child_that_can_never_restart_escalates_with_its_sibling(lab: Lab) -> None:
    """Behaviour 46: one_for_one_escalation under 4/3600; every retry counts."""
    sup = await Supervisor.start(
        [lab.spec("child1"), lab.spec("child2")], max_restarts=4, max_seconds=3600
    )
    sibling = (await refs(sup))["child2"]
    lab.fail("child1")
    await lab.crash((await refs(sup))["child1"])
    assert sup.exit_reason == "shutdown"
    assert lab.starts["child1"] == 1 + 4  # the first start, then four failed attempts
    assert sibling is not None
    assert sibling.exit_reason == "shutdown"


async def test_one_for_all_restarts_every_child_and_counts_once(lab: Lab) -> None:
    """Behaviour 47: child2 exits shutdown and both restart; a group restart counts once."""
    sup = await Supervisor.start(
        [lab.spec("child1"), lab.spec("child2")],
        strategy="one_for_all",
        max_restarts=2,
        max_seconds=3600,
    )
    before = await refs(sup)
    await lab.crash(before["child1"])
    after = await refs(sup)
    assert all(after[i] != before[i] and after[i] is not None for i in before)
    assert before["child2"] is not None
    assert before["child2"].exit_reason == "shutdown"
    assert await counts(sup) == [2, 2, 0, 2]
    assert sup.statistics().restarts == 1
    await lab.crash(after["child2"])
    assert sup.alive
    await lab.crash((await refs(sup))["child1"])
    assert sup.exit_reason == "shutdown"


async def test_one_for_all_stops_the_others_in_reverse_order_then_starts_all_in_order(
    lab: Lab,
) -> None:
    sup = await Supervisor.start([lab.spec(i) for i in "abcd"], strategy="one_for_all")
    lab.journal.clear()
    await lab.crash((await refs(sup))["b"], "normal")
    assert lab.events("terminate") == [
        ("b", "normal"),
        ("d", "shutdown"),
        ("c", "shutdown"),
        ("a", "shutdown"),
    ]
    assert lab.events("start") == [("a",), ("b",), ("c",), ("d",)]
    await sup.stop("shutdown")


async def test_one_for_all_escalates_when_a_sibling_can_never_restart(lab: Lab) -> None:
    """Behaviour 48: one_for_all_escalation under 4/3600."""
    sup = await Supervisor.start(
        [lab.spec("child1"), lab.spec("child2")],
        strategy="one_for_all",
        max_restarts=4,
        max_seconds=3600,
    )
    lab.fail("child2")
    await lab.crash((await refs(sup))["child1"])
    assert sup.exit_reason == "shutdown"
    assert lab.starts["child2"] == 1 + 4


async def test_one_for_all_restarts_the_whole_group_again_when_a_sibling_fails_to_start(
    lab: Lab,
) -> None:
    """Behaviour 49: the freshly restarted child1 is terminated with shutdown, then all run."""
    sup = await Supervisor.start(
        [lab.spec("child1"), lab.spec("child2")], strategy="one_for_all", max_restarts=4
    )
    lab.fail("child2", times=1)
    await lab.crash((await refs(sup))["child1"])
    assert [c.state for c in await sup.which_children()] == ["running", "running"]
    assert lab.starts == {"child1": 3, "child2": 3}
    # child1's second incarnation was stopped with shutdown before the group came back.
    assert lab.events("terminate")[-1] == ("child1", "shutdown")
    assert sup.statistics().total_restarts == 2
    await sup.stop("shutdown")


async def test_rest_for_one_restarts_the_crashed_child_and_those_started_after_it(
    lab: Lab,
) -> None:
    """Behaviour 50: child1 keeps its ref; child3 then child2 crashing exceed 2/3600."""
    sup = await Supervisor.start(
        [lab.spec("child1"), lab.spec("child2"), lab.spec("child3")],
        strategy="rest_for_one",
        max_restarts=2,
        max_seconds=3600,
    )
    before = await refs(sup)
    await lab.crash(before["child2"])
    after = await refs(sup)
    assert after["child1"] == before["child1"]
    assert after["child2"] != before["child2"]
    assert after["child3"] != before["child3"]
    assert await counts(sup) == [3, 3, 0, 3]
    await lab.crash(after["child3"])
    assert sup.alive
    await lab.crash((await refs(sup))["child2"])
    assert sup.exit_reason == "shutdown"


async def test_rest_for_one_stops_later_children_in_reverse_and_leaves_earlier_ones(
    lab: Lab,
) -> None:
    """Behaviour 26: crashing child 3 of 5 terminates 5 then 4 and restarts 3, 4, 5."""
    ids = ["c5", "a1", "e3", "b2", "d4"]
    sup = await Supervisor.start([lab.spec(i) for i in ids], strategy="rest_for_one")
    before = await refs(sup)
    lab.journal.clear()
    await lab.crash(before["e3"], "normal")
    assert lab.events("terminate") == [("e3", "normal"), ("d4", "shutdown"), ("b2", "shutdown")]
    assert lab.events("start") == [("e3",), ("b2",), ("d4",)]
    after = await refs(sup)
    assert [after[i] == before[i] for i in ids] == [True, True, False, False, False]
    await sup.stop("shutdown")


async def test_rest_for_one_escalates_when_a_follower_can_never_restart(lab: Lab) -> None:
    """Behaviour 51: rest_for_one_escalation."""
    sup = await Supervisor.start(
        [lab.spec("child1"), lab.spec("child2")],
        strategy="rest_for_one",
        max_restarts=4,
        max_seconds=3600,
    )
    lab.fail("child2")
    await lab.crash((await refs(sup))["child1"])
    assert sup.exit_reason == "shutdown"


async def test_rest_for_one_retries_from_the_child_that_failed_to_start(lab: Lab) -> None:
    """Behaviour 52: the retry restarts only child2; child1 is not restarted again."""
    sup = await Supervisor.start(
        [lab.spec("child1"), lab.spec("child2")], strategy="rest_for_one", max_restarts=4
    )
    lab.fail("child2", times=1)
    await lab.crash((await refs(sup))["child1"])
    assert lab.starts == {"child1": 2, "child2": 3}
    assert [c.state for c in await sup.which_children()] == ["running", "running"]
    await sup.stop("shutdown")


async def test_a_group_restart_starts_a_child_stopped_by_hand_too(lab: Lab) -> None:
    """Behaviour 58 (part): specs stopped with terminate_child run again after one_for_all."""
    sup = await Supervisor.start(
        [lab.spec("a"), lab.spec("b", restart="transient")], strategy="one_for_all"
    )
    await sup.terminate_child("b")
    await lab.crash((await refs(sup))["a"])
    assert [c.state for c in await sup.which_children()] == ["running", "running"]
    await sup.stop("shutdown")


async def test_an_escalation_climbs_the_tree_and_the_top_restarts_all_its_children(
    lab: Lab,
) -> None:
    """Behaviour 58: tree; a sub-supervisor that gives up makes the top restart everything."""

    def sub(name: str, restart: str = "permanent") -> ChildSpec:
        return ChildSpec(
            name,
            lambda: Supervisor.start(
                [lab.spec(f"{name}.w1"), lab.spec(f"{name}.w2")],
                max_restarts=1,
                max_seconds=3600,
            ),
            type="supervisor",
            restart=restart,  # type: ignore[arg-type]
        )

    top = await Supervisor.start(
        [sub("sup1"), sub("sup2"), sub("sup3", "transient")],
        strategy="one_for_all",
        max_restarts=4,
        max_seconds=3600,
    )
    subs = await refs(top)
    sup1 = subs["sup1"]
    assert isinstance(sup1, SupervisorRef)
    # A worker crash in a sub-supervisor restarts only that worker.
    await lab.crash((await refs(sup1))["sup1.w1"])
    assert await refs(top) == subs
    # Dynamically added grandchildren are lost when the sub-supervisor is restarted.
    await sup1.start_child(lab.spec("sup1.extra"))
    await top.terminate_child("sup3")
    assert await counts(top) == [3, 2, 3, 0]
    # A second crash exceeds sup1's 1/3600: it gives up and the top restarts all three.
    await lab.crash((await refs(sup1))["sup1.w1"])
    assert sup1.exit_reason == "shutdown"
    assert top.statistics().total_restarts == 1
    after = await refs(top)
    assert all(after[i] != subs[i] for i in subs)
    assert await counts(top) == [3, 3, 3, 0]
    new_sup1 = after["sup1"]
    assert isinstance(new_sup1, SupervisorRef)
    assert [c.id for c in await new_sup1.which_children()] == ["sup1.w1", "sup1.w2"]
    await top.stop("shutdown")


async def test_an_escalating_transient_sub_supervisor_is_not_restarted(lab: Lab) -> None:
    """Section 0, point 2: 'shutdown' is clean, so a transient parent entry stays down."""
    sub = ChildSpec(
        "sub",
        lambda: Supervisor.start([lab.spec("w")], max_restarts=0),
        type="supervisor",
        restart="transient",
    )
    top = await Supervisor.start([sub])
    inner = (await refs(top))["sub"]
    assert isinstance(inner, SupervisorRef)
    await lab.crash((await refs(inner))["w"])
    assert inner.exit_reason == "shutdown"
    assert (await top.which_child("sub")).state == "stopped"
    assert top.statistics().total_restarts == 0
    await top.stop("shutdown")
