"""DynamicSupervisor: children on demand, max_children, restarts, concurrent shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import actors
from actors.testing import MockClock, wait_all_idle
from supervisors import (
    AlreadyStarted,
    ChildSpec,
    DynamicSupervisor,
    DynamicSupervisorRef,
    InvalidSpec,
    MaxChildren,
    NotFound,
    StartError,
    Supervisor,
)
from tests.supervisors.lab import Lab, counts


async def test_a_dynamic_supervisor_starts_empty_with_elixir_defaults() -> None:
    """Behaviour 67: one_for_one, 3 restarts in 5 s, no child limit."""
    dyn = await DynamicSupervisor.start()
    assert isinstance(dyn, DynamicSupervisorRef)
    stats = dyn.statistics()
    assert (stats.strategy, stats.max_restarts, stats.max_seconds, stats.max_children) == (
        "one_for_one",
        3,
        5.0,
        None,
    )
    assert await dyn.which_children() == []
    assert await counts(dyn) == [0, 0, 0, 0]
    await dyn.stop("shutdown")


async def test_children_are_listed_by_their_spec_id_and_ref(lab: Lab) -> None:
    """Behaviour 30: start_child adds children; each is listed with its ref."""
    dyn = await DynamicSupervisor.start()
    first = await dyn.start_child(lab.spec("job"))
    second = await dyn.start_child(lab.spec("job"))  # ids need not be unique
    assert first is not None
    assert second is not None
    assert first != second
    assert [(c.id, c.ref) for c in await dyn.which_children()] == [
        ("job", first),
        ("job", second),
    ]
    await dyn.stop("shutdown")


async def test_start_child_reports_ignore_errors_and_non_refs(lab: Lab) -> None:
    """Behaviours 8, 10 and 69: ok, ignore (None, nothing stored), error, a non-ref value."""
    dyn = await DynamicSupervisor.start()
    lab.ignore("ignored", times=1)
    assert await dyn.start_child(lab.spec("ignored")) is None
    lab.fail("failing", times=1)
    with pytest.raises(StartError, match="could not start a child from spec 'failing'"):
        await dyn.start_child(lab.spec("failing"))

    async def odd() -> Any:
        return ("ok", "not a ref")

    with pytest.raises(StartError, match="returned \\('ok', 'not a ref'\\)"):
        await dyn.start_child(ChildSpec("odd", odd))
    assert await dyn.which_children() == []
    await dyn.stop("shutdown")


async def test_an_invalid_spec_is_refused_without_contacting_the_supervisor() -> None:
    """Behaviour 70: checked in the caller, before any message is sent."""
    dyn = await DynamicSupervisor.start()
    handled = dyn.statistics().actor.messages_handled
    with pytest.raises(InvalidSpec, match=r"expected a supervisors\.ChildSpec"):
        await dyn.start_child({"id": "x"})  # type: ignore[arg-type]
    assert dyn.statistics().actor.messages_handled == handled
    await dyn.stop("shutdown")


async def test_a_significant_child_is_refused(lab: Lab) -> None:
    """Behaviours 63 and 70: no auto_shutdown under a dynamic supervisor."""
    dyn = await DynamicSupervisor.start()
    with pytest.raises(InvalidSpec, match="significant=True is not valid"):
        await dyn.start_child(lab.spec("s", restart="transient", significant=True))
    await dyn.stop("shutdown")


async def test_max_children_zero_refuses_every_child(lab: Lab) -> None:
    """Behaviour 71: {error, max_children}."""
    dyn = await DynamicSupervisor.start(max_children=0)
    with pytest.raises(MaxChildren, match="already has its maximum of 0 children"):
        await dyn.start_child(lab.spec("a"))
    await dyn.stop("shutdown")


async def test_a_restarting_child_still_occupies_its_slot(lab: Lab) -> None:
    """Behaviour 71: with max_children 1, a child being restarted blocks a new one."""
    from supervisors import Backoff

    dyn = await DynamicSupervisor.start(max_children=1)
    ref = await dyn.start_child(lab.spec("a", backoff=Backoff(initial=1, jitter=0)))
    await lab.crash(ref)
    assert [c.state for c in await dyn.which_children()] == ["restarting"]
    with pytest.raises(MaxChildren):
        await dyn.start_child(lab.spec("b"))
    await dyn.stop("shutdown")


async def test_a_crashed_child_is_restarted_with_the_same_start_function(lab: Lab) -> None:
    """Behaviours 54 and 72: the same start function (same arguments) runs again."""
    dyn = await DynamicSupervisor.start()
    ref = await dyn.start_child(lab.spec("t", restart="transient"))
    await lab.crash(ref)
    assert lab.starts["t"] == 2
    assert await counts(dyn) == [1, 1, 0, 1]
    await dyn.stop("shutdown")


@pytest.mark.parametrize(
    ("restart", "reason", "restarted"),
    [
        ("temporary", "shutdown", False),
        ("temporary", RuntimeError("other"), False),
        ("transient", "shutdown", False),
        ("transient", ("shutdown", "oops"), False),
        ("transient", "normal", False),
        ("transient", RuntimeError("other"), True),
        ("permanent", "shutdown", True),
        ("permanent", "normal", True),
        ("permanent", RuntimeError("other"), True),
    ],
    ids=repr,
)
async def test_restart_types_decide_whether_a_dynamic_child_comes_back(
    lab: Lab, restart: str, reason: Any, restarted: bool
) -> None:
    """Behaviour 73: temporary never, transient unless clean, permanent always."""
    dyn = await DynamicSupervisor.start()
    ref = await dyn.start_child(lab.spec("c", restart=restart))
    await lab.crash(ref, reason)
    assert await counts(dyn) == ([1, 1, 0, 1] if restarted else [0, 0, 0, 0])
    await dyn.stop("shutdown")


async def test_a_restart_that_returns_none_removes_the_child(lab: Lab) -> None:
    """Behaviours 56 and 74: no error, nothing listed, the supervisor still stops cleanly."""
    dyn = await DynamicSupervisor.start()
    ref = await dyn.start_child(lab.spec("c"))
    await lab.crash(ref, "killed")
    second = (await dyn.which_children())[0].ref
    assert second is not None
    assert second != ref
    lab.ignore("c")
    await lab.crash(second, "killed")
    assert await dyn.which_children() == []
    await dyn.stop("shutdown")
    assert dyn.exit_reason == "shutdown"


async def test_a_child_failing_to_restart_stays_listed_as_restarting(lab: Lab) -> None:
    """Behaviour 74: counted in workers, not in active, while retries go on."""
    from supervisors import Backoff

    dyn = await DynamicSupervisor.start(max_restarts=100_000)
    ref = await dyn.start_child(lab.spec("c", backoff=Backoff(initial=1, max=1, jitter=0)))
    lab.fail("c")
    await lab.crash(ref)
    assert [(c.ref, c.state) for c in await dyn.which_children()] == [(None, "restarting")]
    assert await counts(dyn) == [1, 0, 0, 1]
    assert dyn.statistics().restarting == 1
    await dyn.stop("shutdown")


@pytest.mark.parametrize("max_restarts", [1, 10])
async def test_failing_retries_end_in_shutdown(lab: Lab, max_restarts: int) -> None:
    """Behaviour 75: with max_restarts 1 or 10, retries that fail end in 'shutdown'."""
    dyn = await DynamicSupervisor.start(max_restarts=max_restarts)
    ref = await dyn.start_child(lab.spec("c"))
    lab.fail("c")
    await lab.crash(ref)
    assert dyn.exit_reason == "shutdown"
    assert lab.starts["c"] == 1 + max_restarts


async def test_a_child_is_restarted_when_trying_again(lab: Lab) -> None:
    """Behaviour 75: under max_restarts 2, a restart failing once then succeeding."""
    dyn = await DynamicSupervisor.start(max_restarts=2)
    ref = await dyn.start_child(lab.spec("c"))
    lab.fail("c", times=1)
    await lab.crash(ref)
    assert await counts(dyn) == [1, 1, 0, 1]
    await dyn.stop("shutdown")


async def test_crashes_beyond_the_intensity_stop_the_supervisor_and_its_children(
    lab: Lab,
) -> None:
    """Behaviours 53 and 55: the third crash under 2/3600 exits shutdown with all children."""
    dyn = await DynamicSupervisor.start(max_restarts=2, max_seconds=3600)
    crashing = await dyn.start_child(lab.spec("a"))
    bystander = await dyn.start_child(lab.spec("b"))
    await lab.crash(crashing)
    assert await counts(dyn) == [2, 2, 0, 2]
    for _ in range(2):
        current = next(c.ref for c in await dyn.which_children() if c.id == "a")
        await lab.crash(current)
    assert dyn.exit_reason == "shutdown"
    assert bystander is not None
    assert bystander.exit_reason == "shutdown"


@pytest.mark.parametrize(
    ("shutdown", "trap_reason", "expected"),
    [
        ("brutal_kill", None, "killed"),
        ("infinity", None, "shutdown"),
        (5.0, None, "shutdown"),
    ],
)
async def test_children_report_how_they_were_shut_down(
    lab: Lab, shutdown: Any, trap_reason: Any, expected: Any
) -> None:
    """Behaviour 76: brutal_kill reports killed; infinity and seconds report shutdown."""
    dyn = await DynamicSupervisor.start()
    ref = await dyn.start_child(lab.spec("c", shutdown=shutdown))
    await dyn.stop("shutdown")
    assert ref is not None
    assert ref.exit_reason == expected


@pytest.mark.parametrize("reason", [("shutdown", "oops"), "normal"])
async def test_children_that_choose_their_exit_reason_keep_it(reason: Any) -> None:
    """Behaviour 76: a child whose own stop is queued ahead of the supervisor's shutdown
    request reports exactly its own reason."""

    class Chooser(actors.Actor):
        async def init(self) -> None:
            self.trap_exits = True

        async def terminate(self, _: Any) -> None:
            pass

        async def handle_info(self, message: Any) -> None:
            if isinstance(message, asyncio.Event):
                await message.wait()

    async def start() -> actors.ActorRef:
        return await actors.spawn(Chooser)

    dyn = await DynamicSupervisor.start()
    ref = await dyn.start_child(ChildSpec("c", start, restart="permanent"))
    assert ref is not None
    release = asyncio.Event()
    ref.send(release)  # the child is busy until released: its mailbox keeps its order
    own_stop = asyncio.create_task(ref.stop(reason))
    await wait_all_idle()  # its own stop request is queued
    stopping = asyncio.create_task(dyn.stop("shutdown"))
    await wait_all_idle()  # the supervisor's shutdown request is queued behind it
    assert not stopping.done()
    release.set()
    await own_stop
    await stopping
    assert ref.exit_reason == reason


async def test_an_expired_shutdown_kills_only_the_child_that_did_not_stop(
    lab: Lab, clock: MockClock
) -> None:
    """Behaviour 76: with a 1 ms shutdown, only the slow child is killed; mixed values work."""
    dyn = await DynamicSupervisor.start()
    slow = await dyn.start_child(lab.spec("slow", shutdown=0.001, terminate_seconds=10))
    quick = await dyn.start_child(lab.spec("quick", shutdown=0.001))
    forever = await dyn.start_child(lab.spec("forever", shutdown="infinity"))
    brutal = await dyn.start_child(lab.spec("brutal", shutdown="brutal_kill"))
    stopping = asyncio.create_task(dyn.stop("shutdown"))
    await clock.advance(0.001)
    await stopping
    assert [r.exit_reason for r in (slow, quick, forever, brutal) if r is not None] == [
        "killed",
        "shutdown",
        "shutdown",
        "killed",
    ]


async def test_children_are_shut_down_concurrently_with_one_deadline(
    lab: Lab, clock: MockClock
) -> None:
    """Behaviours 22 and 27: two need 1 s, one would need 5 s; shutdown 2 s; all at once."""
    dyn = await DynamicSupervisor.start()
    refs = [
        await dyn.start_child(lab.spec(f"c{i}", shutdown=2, terminate_seconds=seconds))
        for i, seconds in enumerate([1, 1, 5])
    ]
    stopping = asyncio.create_task(dyn.stop("shutdown", timeout=None))
    await clock.advance(1)
    assert lab.events("terminated") == [("c0",), ("c1",)]  # both cleaned up in parallel
    assert not stopping.done()
    await clock.advance(1)
    await stopping
    assert clock.now() == 2
    assert [r.exit_reason for r in refs if r is not None] == ["shutdown", "shutdown", "killed"]


async def test_ten_brutal_kill_children_are_all_killed(lab: Lab) -> None:
    """Behaviour 23 (dynamic)."""
    dyn = await DynamicSupervisor.start()
    refs = [await dyn.start_child(lab.spec(i, shutdown="brutal_kill")) for i in range(10)]
    await dyn.stop("shutdown")
    assert {r.exit_reason for r in refs if r is not None} == {"killed"}
    assert dyn.exit_reason == "shutdown"


async def test_children_exiting_on_their_own_during_shutdown_keep_their_reasons(
    lab: Lab,
) -> None:
    """Behaviour 25: sup_stop_non_shutdown_exit_dynamic, each restart type. Each child's own
    exit is queued ahead of the supervisor's shutdown request, so they exit during the
    shutdown with reasons of their own."""
    dyn = await DynamicSupervisor.start()
    reasons: dict[str, Any] = {}
    refs = {}
    for restart in ("permanent", "transient", "temporary"):
        for n, reason in enumerate(["normal", ("shutdown", "x"), RuntimeError("own")]):
            key = f"{restart}{n}"
            refs[key] = await dyn.start_child(lab.spec(key, restart=restart))
            reasons[key] = reason
    release = asyncio.Event()
    for key, ref in refs.items():
        assert ref is not None
        ref.cast(("wait", release))  # busy until released: each mailbox keeps its order
        ref.cast(("exit", reasons[key]))
    stopping = asyncio.create_task(dyn.stop("shutdown"))
    await wait_all_idle()  # every child has the shutdown request queued behind its exit
    assert not stopping.done()
    assert all(ref is not None and ref.alive for ref in refs.values())
    release.set()
    await stopping
    assert {key: ref.exit_reason for key, ref in refs.items() if ref} == reasons
    assert dyn.exit_reason == "shutdown"


async def test_terminate_child_stops_a_child_and_forgets_it(lab: Lab) -> None:
    """Behaviours 30, 33 and 77: a terminated child disappears; a stranger is not found."""
    dyn = await DynamicSupervisor.start()
    ref = await dyn.start_child(lab.spec("c"))
    assert ref is not None
    await dyn.terminate_child(ref)
    assert ref.exit_reason == "shutdown"
    assert await counts(dyn) == [0, 0, 0, 0]
    with pytest.raises(NotFound, match="has no child with ref"):
        await dyn.terminate_child(ref)
    stranger = await actors.spawn(actors.Actor)
    with pytest.raises(NotFound):
        await dyn.terminate_child(stranger)
    assert stranger.alive
    with pytest.raises(NotFound):
        await dyn.terminate_child("c")  # type: ignore[arg-type]
    await stranger.stop()
    await dyn.stop("shutdown")


async def test_terminate_child_stops_the_retries_of_a_restarting_child(lab: Lab) -> None:
    """Behaviours 57 (simple) and 77: known by its old ref; afterwards it is gone."""
    from supervisors import Backoff

    dyn = await DynamicSupervisor.start(max_restarts=100)
    old = await dyn.start_child(lab.spec("c", backoff=Backoff(initial=1, jitter=0)))
    lab.fail("c")
    await lab.crash(old)
    assert [c.state for c in await dyn.which_children()] == ["restarting"]
    assert old is not None
    await dyn.terminate_child(old)
    assert await dyn.which_children() == []
    await dyn.stop("shutdown")


async def test_restarting_children_count_as_workers_but_not_active(
    lab: Lab, clock: MockClock
) -> None:
    """Behaviour 35: [1,1,0,3] style counts, back to all active, then down to zero."""
    from supervisors import Backoff

    backoff = Backoff(initial=1, max=1, jitter=0)
    dyn = await DynamicSupervisor.start(max_restarts=100, max_seconds=10)
    refs = [await dyn.start_child(lab.spec(i, backoff=backoff)) for i in ("a", "b", "c")]
    lab.fail("a")
    lab.fail("b")
    await lab.crash(refs[0])
    await lab.crash(refs[1])
    assert await counts(dyn) == [3, 1, 0, 3]
    lab.succeed("a")
    lab.succeed("b")
    await clock.advance(1)
    assert await counts(dyn) == [3, 3, 0, 3]
    for child in await dyn.which_children():
        assert child.ref is not None
        await dyn.terminate_child(child.ref)
    assert await counts(dyn) == [0, 0, 0, 0]
    await dyn.stop("shutdown")


async def test_supervisor_children_are_counted_as_supervisors(lab: Lab) -> None:
    """Behaviour 34: count_children_supervisor."""
    dyn = await DynamicSupervisor.start()
    for n in range(3):
        await dyn.start_child(
            ChildSpec(n, lambda: Supervisor.start([]), type="supervisor", restart="temporary")
        )
    assert await counts(dyn) == [3, 3, 3, 0]
    for child in await dyn.which_children():
        assert child.ref is not None
        child.ref.kill()
    await wait_all_idle()
    assert await counts(dyn) == [0, 0, 0, 0]
    await dyn.stop("shutdown")


async def test_many_temporary_children_are_counted_and_all_stopped(lab: Lab) -> None:
    """Behaviour 34: count_children with 1000 then 2000 temporary children."""
    dyn = await DynamicSupervisor.start()

    async def start() -> actors.ActorRef:
        return await actors.spawn(actors.Actor)

    for total in (1000, 2000):
        for _ in range(1000):
            await dyn.start_child(ChildSpec("t", start, restart="temporary"))
        assert await counts(dyn) == [total, total, 0, total]
    await dyn.stop("shutdown")


async def test_a_registered_name_held_by_another_actor_gives_already_started() -> None:
    """Behaviour 79: a second child with the same registered name."""
    dyn = await DynamicSupervisor.start(name="pool")
    assert actors.whereis("pool") == dyn
    spec = ChildSpec("db", lambda: actors.spawn(actors.Actor, name="db"))
    first = await dyn.start_child(spec)
    with pytest.raises(AlreadyStarted) as caught:
        await dyn.start_child(spec)
    assert caught.value.ref == first
    await dyn.stop("shutdown")
