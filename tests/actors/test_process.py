"""The local process: one message at a time, crashes, stop, kill, terminate, exit races."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import actors
from actors.testing import MockClock, runtime_tasks, wait_all_idle


class Worker(actors.Actor):
    """A scriptable actor: calls are (command, argument) pairs; it records its life in log."""

    async def init(self, log: list[Any], gate: asyncio.Event | None = None) -> None:
        self.log = log
        self.gate = gate or asyncio.Event()

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        command, argument = message
        self.log.append(("start", argument))
        if command == "wait":
            await self.gate.wait()
        elif command == "wait-raise":
            await self.gate.wait()
            raise argument
        elif command == "raise":
            raise argument
        elif command == "stop":
            self.stop(argument)
        elif command == "stop-ref":
            await self.ref.stop(argument)
        elif command == "call-self":
            await self.ref.call(("echo", argument))
        elif command == "wait-self":
            await self.ref.wait()
        elif command == "kill-self":
            self.ref.kill()
            await self.gate.wait()
        elif command == "no-reply":
            return actors.NO_REPLY
        self.log.append(("end", argument))
        return argument

    async def handle_cast(self, message: Any) -> None:
        if isinstance(message, BaseException):
            raise message
        self.log.append(("cast", message))

    async def terminate(self, reason: Any) -> None:
        self.log.append(("terminate", reason))


class SlowTerminate(actors.Actor):
    """terminate() sleeps the given clock seconds, or waits for a gate."""

    async def init(self, log: list[Any], seconds: float | asyncio.Event) -> None:
        self.log = log
        self.seconds = seconds

    async def terminate(self, reason: Any) -> None:
        self.log.append(("terminate", reason))
        if isinstance(self.seconds, asyncio.Event):
            await self.seconds.wait()
        else:
            await actors.sleep(self.seconds)
        self.log.append(("terminated", reason))


async def test_an_actor_handles_one_message_at_a_time_in_arrival_order() -> None:
    log: list[Any] = []
    gate = asyncio.Event()
    ref = await actors.spawn(Worker, log, gate)
    first = asyncio.create_task(ref.call(("wait", 1)))
    await wait_all_idle()
    second = asyncio.create_task(ref.call(("echo", 2)))
    await wait_all_idle()
    ref.cast(3)
    await wait_all_idle()
    assert log == [("start", 1)]
    assert ref.statistics().mailbox_depth == 2
    gate.set()
    assert (await first, await second) == (1, 2)
    await ref.stop()
    assert log == [
        ("start", 1),
        ("end", 1),
        ("start", 2),
        ("end", 2),
        ("cast", 3),
        ("terminate", "normal"),
    ]


async def test_a_handler_exception_is_the_exit_reason_and_terminate_runs_with_it() -> None:
    log: list[Any] = []
    error = KeyError("missing")
    ref = await actors.spawn(Worker, log)
    with pytest.raises(actors.NoProc) as info:
        await ref.call(("raise", error))
    assert info.value.reason is error
    assert await ref.wait() is error
    assert log[-1] == ("terminate", error)


async def test_a_crash_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    ref = await actors.spawn(Worker, [])
    ref.cast(ZeroDivisionError("oops"))
    with caplog.at_level(logging.ERROR, logger="actors"):
        await ref.wait()
    (record,) = caplog.records
    assert record.getMessage() == f"Worker #{ref.pid} crashed: ZeroDivisionError: oops"
    assert record.exc_info is not None


async def test_a_crash_fails_every_pending_call_at_once_without_waiting_for_timeouts(
    mock_clock: MockClock,
) -> None:
    gate = asyncio.Event()
    ref = await actors.spawn(Worker, [], gate)
    error = RuntimeError("crash")
    deferred = asyncio.create_task(ref.call(("no-reply", "a"), timeout=60))
    await wait_all_idle()
    crashing = asyncio.create_task(ref.call(("wait-raise", error), timeout=60))
    await wait_all_idle()
    queued = asyncio.create_task(ref.call(("echo", "b"), timeout=60))
    await wait_all_idle()
    assert ref.statistics().pending_calls == 3
    gate.set()
    await wait_all_idle()  # no clock advance: only the crash can end these calls
    for pending in (deferred, crashing, queued):
        with pytest.raises(actors.NoProc, match=r"exited \(RuntimeError: crash\) before replying"):
            await pending
    assert ref.exit_reason is error


async def test_calls_arriving_during_terminate_fail_with_noproc_when_the_actor_exits() -> None:
    gate = asyncio.Event()
    ref = await actors.spawn(SlowTerminate, [], gate)
    stopping = asyncio.create_task(ref.stop())
    await wait_all_idle()
    late = asyncio.create_task(ref.call("anything"))
    await wait_all_idle()
    assert not late.done()
    gate.set()
    await stopping
    with pytest.raises(actors.NoProc):
        await late


async def test_an_exception_in_terminate_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BadTerminate(actors.Actor):
        async def terminate(self, reason: Any) -> None:
            raise OSError("disk gone")

    ref = await actors.spawn(BadTerminate)
    with caplog.at_level(logging.ERROR, logger="actors"):
        await ref.stop("shutdown")
    assert ref.exit_reason == "shutdown"
    (record,) = caplog.records
    assert record.getMessage() == f"BadTerminate #{ref.pid}: terminate('shutdown') raised"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], OSError)


async def test_self_stop_in_a_handler_replies_then_exits_with_that_reason() -> None:
    log: list[Any] = []
    ref = await actors.spawn(Worker, log)
    assert await ref.call(("stop", "shutdown")) == "shutdown"
    assert await ref.wait() == "shutdown"
    assert log[-1] == ("terminate", "shutdown")


async def test_the_first_stop_request_wins() -> None:
    class StopsTwice(actors.Actor):
        async def handle_cast(self, message: Any) -> None:
            self.stop("first")
            self.stop("second")

    ref = await actors.spawn(StopsTwice)
    ref.cast("go")
    assert await ref.wait() == "first"


async def test_awaiting_ref_stop_from_the_actors_own_handler_does_not_deadlock() -> None:
    log: list[Any] = []
    ref = await actors.spawn(Worker, log)
    assert await ref.call(("stop-ref", ("shutdown", "self"))) == ("shutdown", "self")
    assert await ref.wait() == ("shutdown", "self")
    assert log[-2:] == [("end", ("shutdown", "self")), ("terminate", ("shutdown", "self"))]


async def test_calling_itself_fails_at_once_with_calling_self() -> None:
    ref = await actors.spawn(Worker, [])
    with pytest.raises(actors.NoProc) as info:
        await ref.call(("call-self", "x"))
    assert isinstance(info.value.reason, actors.CallingSelf)
    assert info.value.reason.ref == ref


async def test_a_handler_can_catch_calling_self_and_carry_on() -> None:
    class Careful(actors.Actor):
        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            if message == "inner":
                return "inner"
            try:
                return await self.ref.call("inner")
            except actors.CallingSelf:
                return "caught"

    ref = await actors.spawn(Careful)
    assert await ref.call("outer") == "caught"
    assert ref.alive
    await ref.stop()


async def test_waiting_for_itself_fails_with_calling_self() -> None:
    ref = await actors.spawn(Worker, [])
    with pytest.raises(actors.NoProc) as info:
        await ref.call(("wait-self", None))
    assert isinstance(info.value.reason, actors.CallingSelf)


async def test_kill_from_its_own_handler_ends_it_at_the_next_await() -> None:
    log: list[Any] = []
    ref = await actors.spawn(Worker, log)
    with pytest.raises(actors.NoProc) as info:
        await ref.call(("kill-self", "x"))
    assert info.value.reason == "killed"
    await wait_all_idle()
    assert log == [("start", "x")]  # neither the rest of the handler nor terminate ran
    assert runtime_tasks() == []


async def test_kill_during_terminate_interrupts_it_and_the_reason_is_killed() -> None:
    log: list[Any] = []
    ref = await actors.spawn(SlowTerminate, log, asyncio.Event())
    stopping = asyncio.create_task(ref.stop("shutdown"))
    await wait_all_idle()
    ref.kill()
    await stopping
    assert ref.exit_reason == "killed"
    await wait_all_idle()
    assert log == [("terminate", "shutdown")]
    assert runtime_tasks() == []


async def test_stop_kills_the_actor_when_terminate_outlasts_the_timeout(
    mock_clock: MockClock,
) -> None:
    log: list[Any] = []
    ref = await actors.spawn(SlowTerminate, log, 100)
    stopping = asyncio.create_task(ref.stop("shutdown", timeout=5))
    await mock_clock.advance(4.999)
    assert ref.alive
    await mock_clock.advance(0.001)
    await stopping
    assert ref.exit_reason == "killed"
    assert log == [("terminate", "shutdown")]
    assert mock_clock.pending_timers == 0  # terminate's sleep was cancelled with the task


async def test_stop_waits_for_a_terminate_that_finishes_within_the_timeout(
    mock_clock: MockClock,
) -> None:
    log: list[Any] = []
    ref = await actors.spawn(SlowTerminate, log, 3)
    stopping = asyncio.create_task(ref.stop("shutdown", timeout=5))
    await mock_clock.advance(3)
    await stopping
    assert ref.exit_reason == "shutdown"
    assert log == [("terminate", "shutdown"), ("terminated", "shutdown")]
    assert mock_clock.pending_timers == 0  # the kill timer was cancelled


async def test_stop_without_timeout_waits_for_terminate_however_long(
    mock_clock: MockClock,
) -> None:
    ref = await actors.spawn(SlowTerminate, [], 10_000)
    stopping = asyncio.create_task(ref.stop(timeout=None))
    await mock_clock.advance(9_999)
    assert not stopping.done()
    await mock_clock.advance(1)
    await stopping
    assert ref.exit_reason == "normal"


async def test_an_exit_signal_during_terminate_interrupts_it_and_becomes_the_reason() -> None:
    class LinkedSlowTerminate(SlowTerminate):
        async def init(self, log: list[Any], seconds: Any, peer: actors.ActorRef) -> None:
            await super().init(log, seconds)
            self.link(peer)

    log: list[Any] = []
    peer = await actors.spawn(Worker, [])
    ref = await actors.spawn(LinkedSlowTerminate, log, asyncio.Event(), peer)
    stopping = asyncio.create_task(ref.stop("normal"))
    await wait_all_idle()
    await peer.stop("shutdown")
    await stopping
    assert ref.exit_reason == "shutdown"
    assert log == [("terminate", "normal")]


async def test_asyncio_timeout_works_in_terminate_after_an_exit_signal() -> None:
    class TimesOutInTerminate(actors.Actor):
        async def init(self, peer: actors.ActorRef, log: list[Any]) -> None:
            self.link(peer)
            self.log = log

        async def terminate(self, reason: Any) -> None:
            try:
                async with asyncio.timeout(-1):  # already expired: no real waiting
                    await asyncio.Event().wait()
            except TimeoutError:
                self.log.append(("timed out", reason))

    log: list[Any] = []
    peer = await actors.spawn(Worker, [])
    ref = await actors.spawn(TimesOutInTerminate, peer, log)
    await peer.stop("shutdown")
    assert await ref.wait() == "shutdown"
    assert log == [("timed out", "shutdown")]


async def test_linking_to_a_dead_actor_in_a_handler_interrupts_it_at_its_next_await() -> None:
    class LinksToDead(actors.Actor):
        async def init(self, log: list[Any]) -> None:
            self.log = log

        async def handle_cast(self, dead: actors.ActorRef) -> None:
            self.link(dead)
            self.log.append("linked")
            await asyncio.sleep(0)
            self.log.append("after await")  # pragma: no cover - must not run

        async def terminate(self, reason: Any) -> None:
            await asyncio.sleep(0)  # terminate itself is not interrupted
            self.log.append(("terminate", reason))

    dead = await actors.spawn(Worker, [])
    await dead.stop()
    log: list[Any] = []
    ref = await actors.spawn(LinksToDead, log)
    ref.cast(dead)
    assert await ref.wait() == "noproc"
    assert log == ["linked", ("terminate", "noproc")]


async def test_linking_to_a_dead_actor_without_awaiting_exits_after_the_handler() -> None:
    class LinksAndReplies(actors.Actor):
        async def handle_call(self, dead: actors.ActorRef, caller: actors.Caller) -> Any:
            self.link(dead)
            return "replied"

        async def terminate(self, reason: Any) -> None:
            await asyncio.sleep(0)
            self.terminated_with = reason

    dead = await actors.spawn(Worker, [])
    dead.kill()
    ref = await actors.spawn(LinksAndReplies)
    assert await ref.call(dead) == "replied"
    assert await ref.wait() == "noproc"


async def test_a_handler_that_swallows_the_exit_signal_still_exits_when_it_returns() -> None:
    class Stubborn(actors.Actor):
        async def init(self, peer: actors.ActorRef, log: list[Any]) -> None:
            self.link(peer)
            self.log = log

        async def handle_cast(self, gate: asyncio.Event) -> None:
            try:
                await gate.wait()
            except asyncio.CancelledError:
                self.log.append("swallowed")

        async def terminate(self, reason: Any) -> None:
            self.log.append(("terminate", reason))

    log: list[Any] = []
    peer = await actors.spawn(Worker, [])
    ref = await actors.spawn(Stubborn, peer, log)
    ref.cast(asyncio.Event())
    await wait_all_idle()
    await peer.stop("shutdown")
    assert await ref.wait() == "shutdown"
    assert log == ["swallowed", ("terminate", "shutdown")]


async def test_a_handler_that_turns_the_exit_signal_into_an_error_exits_with_the_signal() -> None:
    class Converts(actors.Actor):
        async def init(self, peer: actors.ActorRef) -> None:
            self.link(peer)

        async def handle_cast(self, gate: asyncio.Event) -> None:
            try:
                await gate.wait()
            except asyncio.CancelledError:
                raise RuntimeError("interrupted") from None

    peer = await actors.spawn(Worker, [])
    ref = await actors.spawn(Converts, peer)
    ref.cast(asyncio.Event())
    await wait_all_idle()
    await peer.stop("shutdown")
    assert await ref.wait() == "shutdown"


async def test_cancelling_an_actor_task_from_outside_counts_as_a_kill() -> None:
    log: list[Any] = []
    ref = await actors.spawn(Worker, log)
    (task,) = runtime_tasks()
    task.cancel()
    assert await ref.wait() == "killed"
    assert log == []  # no terminate: nothing asked for an orderly exit


async def test_a_killed_actor_task_finishes() -> None:
    ref = await actors.spawn(Worker, [])
    calling = asyncio.create_task(ref.call(("wait", 1)))
    await wait_all_idle()
    ref.kill()
    with pytest.raises(actors.NoProc):
        await calling
    await wait_all_idle()
    assert runtime_tasks() == []


async def test_process_repr_names_the_actor() -> None:
    ref = await actors.spawn(Worker, [], name="w")
    process = ref._process
    assert repr(process) == f"<Process Worker 'w' #{ref.pid} alive>"
    await ref.stop()
    assert repr(process) == f"<Process Worker 'w' #{ref.pid} dead>"


async def test_the_first_exit_signal_decides_the_reason() -> None:
    ref = await actors.spawn(Worker, [])
    calling = asyncio.create_task(ref.call(("wait", 1)))
    await wait_all_idle()
    process = ref._process
    process.exit_signal(ref, "first")  # two signals before the actor gets to run
    process.exit_signal(ref, "second")
    assert await ref.wait() == "first"
    with pytest.raises(actors.NoProc):
        await calling


async def test_an_init_that_swallows_an_exit_signal_still_fails_the_start() -> None:
    class SwallowsInInit(actors.Actor):
        async def init(self, peer: actors.ActorRef, gate: asyncio.Event) -> None:
            self.link(peer)
            try:
                await gate.wait()
            except asyncio.CancelledError:
                pass

    peer = await actors.spawn(Worker, [])
    spawning = asyncio.create_task(actors.spawn(SwallowsInInit, peer, asyncio.Event()))
    await wait_all_idle()
    await peer.stop("shutdown")
    with pytest.raises(actors.StartError, match=r"exit signal \('shutdown'\)") as info:
        await spawning
    assert info.value.reason == "shutdown"


class Fatal(BaseException):
    """Neither an Exception nor a cancellation: it must escape the actor's task."""


async def test_a_base_exception_ends_the_actor_and_escapes_its_task() -> None:
    ref = await actors.spawn(Worker, [])
    (task,) = runtime_tasks()
    error = Fatal("fatal")
    calling = asyncio.create_task(ref.call(("raise", error)))
    with pytest.raises(actors.NoProc):
        await calling
    assert ref.exit_reason is error
    await wait_all_idle()
    assert task.exception() is error


async def test_a_kill_while_an_exit_signal_is_being_absorbed_skips_terminate() -> None:
    log: list[Any] = []

    class LinksToDeadThenIsKilled(Worker):
        async def handle_cast(self, dead: Any) -> None:
            self.link(dead)  # a signal to itself: its cancel lands at the next await
            killer = asyncio.get_running_loop()
            killer.call_soon(self.ref.kill)  # ... which is where the kill arrives

    dead = await actors.spawn(Worker, [])
    dead.kill()
    ref = await actors.spawn(LinksToDeadThenIsKilled, log)
    ref.cast(dead)
    assert await ref.wait() == "killed"
    await wait_all_idle()
    assert ("terminate", "killed") not in log
    assert ("terminate", "noproc") not in log
