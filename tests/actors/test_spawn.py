"""spawn() and whereis(): starting actors, the init handshake, names."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import actors
from actors.testing import wait_all_idle


class Recorder(actors.Actor):
    """Records what happened to it in the list given to init."""

    async def init(self, log: list[Any], *, tag: str = "r") -> None:
        self.log = log
        self.tag = tag
        log.append(("init", tag))

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        self.log.append(("call", message))
        return message

    async def terminate(self, reason: Any) -> None:
        self.log.append(("terminate", reason))


class FailingInit(actors.Actor):
    async def init(self, error: Exception) -> None:
        raise error

    async def terminate(self, reason: Any) -> None:  # pragma: no cover - must not run
        raise AssertionError("terminate must not run when init fails")


class Gate(actors.Actor):
    """Blocks in init until the event is set."""

    async def init(self, gate: asyncio.Event, log: list[Any] | None = None) -> None:
        await gate.wait()
        self.log = log

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        return message


async def test_init_runs_with_the_arguments_before_spawn_returns() -> None:
    log: list[Any] = []
    ref = await actors.spawn(Recorder, log, tag="first")
    assert log == [("init", "first")]
    assert ref.alive
    await ref.stop()


async def test_spawn_raises_start_error_with_the_init_exception_as_cause_and_reason() -> None:
    error = ValueError("bad config")
    with pytest.raises(actors.StartError) as info:
        await actors.spawn(FailingInit, error)
    assert info.value.reason is error
    assert info.value.__cause__ is error
    assert actors.testing.live_actors() == []


async def test_spawn_with_wrong_init_arguments_raises_start_error_caused_by_type_error() -> None:
    with pytest.raises(actors.StartError) as info:
        await actors.spawn(Recorder)  # missing `log`
    assert isinstance(info.value.__cause__, TypeError)


async def test_spawn_rejects_an_actor_instance_and_suggests_passing_the_class() -> None:
    with pytest.raises(TypeError, match=r"pass the class, not an instance: spawn\(Recorder"):
        await actors.spawn(Recorder())  # type: ignore[arg-type]


async def test_spawn_rejects_something_that_is_not_an_actor_class() -> None:
    with pytest.raises(TypeError, match=r"^spawn\(\) expects a subclass of actors.Actor, got"):
        await actors.spawn(dict)  # type: ignore[arg-type]


async def test_an_actor_whose_constructor_fails_raises_start_error_pointing_at_init() -> None:
    class NeedsArgs(actors.Actor):
        def __init__(self, size: int) -> None:
            self.size = size

    with pytest.raises(actors.StartError, match=r"takes its arguments in init\(\)"):
        await actors.spawn(NeedsArgs)


async def test_a_named_actor_is_found_by_whereis_while_it_lives() -> None:
    ref = await actors.spawn(Recorder, [], name="recorder")
    assert actors.whereis("recorder") == ref
    assert ref.name == "recorder"
    await ref.stop()
    assert actors.whereis("recorder") is None


async def test_whereis_of_an_unknown_name_is_none() -> None:
    assert actors.whereis("nobody") is None


async def test_a_taken_name_raises_name_taken_naming_the_holder() -> None:
    holder = await actors.spawn(Recorder, [], name="unique")
    with pytest.raises(actors.NameTaken) as info:
        await actors.spawn(Recorder, [], name="unique")
    assert info.value.name == "unique"
    assert info.value.holder == holder
    assert isinstance(info.value, actors.StartError)
    await holder.stop()


async def test_a_name_can_be_taken_again_after_its_actor_exited() -> None:
    first = await actors.spawn(Recorder, [], name="reused")
    first.kill()
    second = await actors.spawn(Recorder, [], name="reused")
    assert second != first
    assert actors.whereis("reused") == second
    await second.stop()


async def test_a_name_is_released_when_init_fails() -> None:
    with pytest.raises(actors.StartError):
        await actors.spawn(FailingInit, RuntimeError("no"), name="fragile")
    assert actors.whereis("fragile") is None
    ref = await actors.spawn(Recorder, [], name="fragile")
    await ref.stop()


@pytest.mark.parametrize("name", ["", 42])
async def test_a_name_must_be_a_non_empty_string(name: Any) -> None:
    with pytest.raises(TypeError, match=r"^an actor name must be a non-empty str, got"):
        await actors.spawn(Recorder, [], name=name)


async def test_the_name_is_registered_while_init_runs() -> None:
    gate = asyncio.Event()
    spawning = asyncio.create_task(actors.spawn(Gate, gate, name="early"))
    await wait_all_idle()
    early = actors.whereis("early")
    assert early is not None
    assert early.alive
    gate.set()
    assert await spawning == early
    await early.stop()


async def test_messages_sent_during_init_wait_until_init_has_finished() -> None:
    gate = asyncio.Event()
    spawning = asyncio.create_task(actors.spawn(Gate, gate, name="slow-start"))
    await wait_all_idle()
    early = actors.whereis("slow-start")
    assert early is not None
    calling = asyncio.create_task(early.call("hello"))
    await wait_all_idle()
    assert not calling.done()
    gate.set()
    assert await calling == "hello"
    await (await spawning).stop()


async def test_stop_requested_in_init_makes_spawn_fail_with_that_reason() -> None:
    class Declines(actors.Actor):
        async def init(self) -> None:
            self.stop(("shutdown", "not needed"))

    with pytest.raises(actors.StartError, match=r"asked to stop") as info:
        await actors.spawn(Declines)
    assert info.value.reason == ("shutdown", "not needed")


async def test_trap_exits_can_be_turned_on_in_init() -> None:
    class LateTrapper(actors.Actor):
        async def init(self) -> None:
            self.trap_exits = True
            self.exits: list[actors.Exit] = []

        async def handle_info(self, message: Any) -> None:
            self.exits.append(message)

        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            return self.exits

    class Linker(actors.Actor):
        async def init(self, peer: actors.ActorRef) -> None:
            self.link(peer)

    trapper = await actors.spawn(LateTrapper)
    linker = await actors.spawn(Linker, trapper)  # linked from linker's side
    linker.kill()
    assert await trapper.call("exits") == [actors.Exit(linker, "killed")]
    assert trapper.alive
    await trapper.stop()


async def test_an_exit_signal_during_init_fails_the_start_with_its_reason() -> None:
    class LinksThenWaits(actors.Actor):
        async def init(self, peer: actors.ActorRef, gate: asyncio.Event) -> None:
            self.link(peer)
            await gate.wait()

    peer = await actors.spawn(Recorder, [])
    gate = asyncio.Event()
    spawning = asyncio.create_task(actors.spawn(LinksThenWaits, peer, gate))
    await wait_all_idle()
    await peer.stop("shutdown")
    with pytest.raises(actors.StartError, match=r"an exit signal \('shutdown'\) interrupted init"):
        await spawning
    assert actors.testing.live_actors() == []


async def test_a_trapped_exit_during_init_is_handled_after_init() -> None:
    class TrapsInInit(actors.Actor):
        trap_exits = True

        async def init(self, peer: actors.ActorRef, gate: asyncio.Event) -> None:
            self.link(peer)
            self.seen: list[Any] = []
            await gate.wait()

        async def handle_info(self, message: Any) -> None:
            self.seen.append(message)

        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            return self.seen

    peer = await actors.spawn(Recorder, [])
    gate = asyncio.Event()
    spawning = asyncio.create_task(actors.spawn(TrapsInInit, peer, gate))
    await wait_all_idle()
    await peer.stop("shutdown")
    gate.set()
    ref = await spawning
    assert await ref.call("seen") == [actors.Exit(peer, "shutdown")]
    await ref.stop()


async def test_kill_during_init_fails_the_start_as_killed() -> None:
    gate = asyncio.Event()
    spawning = asyncio.create_task(actors.spawn(Gate, gate, name="doomed"))
    await wait_all_idle()
    doomed = actors.whereis("doomed")
    assert doomed is not None
    doomed.kill()
    with pytest.raises(actors.StartError, match=r"killed during init") as info:
        await spawning
    assert info.value.reason == "killed"


async def test_cancelling_spawn_kills_the_half_started_actor() -> None:
    gate = asyncio.Event()
    spawning = asyncio.create_task(actors.spawn(Gate, gate, name="abandoned"))
    await wait_all_idle()
    abandoned = actors.whereis("abandoned")
    assert abandoned is not None
    spawning.cancel()
    with pytest.raises(asyncio.CancelledError):
        await spawning
    assert not abandoned.alive
    assert abandoned.exit_reason == "killed"


async def test_each_actor_gets_a_distinct_pid() -> None:
    refs = [await actors.spawn(Recorder, []) for _ in range(3)]
    assert len({ref.pid for ref in refs}) == 3
    for ref in refs:
        await ref.stop()


async def test_an_unknown_backend_name_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^unknown actor backend 'rey'; expected 'local' or 'ray'$"
    ):
        await actors.spawn(Recorder, [], backend="rey")
    assert actors.testing.live_actors() == []
