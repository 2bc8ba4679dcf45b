"""ActorRef: call / cast / send, stop, kill, wait, identity and repr; Caller and NO_REPLY."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import actors
from actors.testing import MockClock, wait_all_idle


class Counter(actors.Actor):
    async def init(self, start: int = 0) -> None:
        self.count = start
        self.infos: list[Any] = []

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        if message == "get":
            return self.count
        if message == "infos":
            return self.infos
        if message == "caller":
            return caller.ref
        raise ValueError(f"unknown call {message!r}")

    async def handle_cast(self, message: Any) -> None:
        self.count += message

    async def handle_info(self, message: Any) -> None:
        self.infos.append(message)


class Deferred(actors.Actor):
    """Replies to calls only when told to, from a later message."""

    async def init(self) -> None:
        self.waiting: list[actors.Caller] = []

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        if message == "answer-all":
            for waiting in self.waiting:
                waiting.reply("late answer")
            return len(self.waiting)
        self.waiting.append(caller)
        return actors.NO_REPLY


class Sleeper(actors.Actor):
    """Replies after sleeping the given number of (clock) seconds."""

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        await actors.sleep(message)
        return f"slept {message}"


async def test_call_returns_the_reply_and_cast_updates_state_in_order() -> None:
    ref = await actors.spawn(Counter, 10)
    ref.cast(1)
    ref.cast(2)
    assert await ref.call("get") == 13
    await ref.stop()


async def test_send_delivers_to_handle_info() -> None:
    ref = await actors.spawn(Counter)
    ref.send({"event": 1})
    ref.send("plain")
    assert await ref.call("infos") == [{"event": 1}, "plain"]
    await ref.stop()


async def test_the_caller_knows_the_calling_actor_or_none_from_outside() -> None:
    class Asker(actors.Actor):
        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            return await message.call("caller")

    counter = await actors.spawn(Counter)
    asker = await actors.spawn(Asker)
    assert await counter.call("caller") is None
    assert await asker.call(counter) == asker
    await asker.stop()
    await counter.stop()


async def test_no_reply_lets_the_actor_answer_later_from_another_message() -> None:
    ref = await actors.spawn(Deferred)
    first = asyncio.create_task(ref.call("question 1"))
    second = asyncio.create_task(ref.call("question 2"))
    await wait_all_idle()
    assert not first.done()
    assert await ref.call("answer-all") == 2
    assert await first == "late answer"
    assert await second == "late answer"
    await ref.stop()


async def test_a_second_reply_to_the_same_caller_is_dropped() -> None:
    class ReplyTwice(actors.Actor):
        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            caller.reply("first")
            assert not caller.waiting
            return "second"

    ref = await actors.spawn(ReplyTwice)
    assert await ref.call("x") == "first"
    await ref.stop()


async def test_cast_and_send_to_a_dead_actor_do_not_raise() -> None:
    ref = await actors.spawn(Counter)
    await ref.stop()
    ref.cast(1)
    ref.send("hello")
    assert not ref.alive


async def test_call_to_a_dead_actor_raises_noproc_with_reason_noproc() -> None:
    ref = await actors.spawn(Counter)
    await ref.stop("shutdown")
    with pytest.raises(actors.NoProc) as info:
        await ref.call("get")
    assert info.value.ref == ref
    assert info.value.reason == "noproc"
    assert info.value.request == "get"


async def test_call_times_out_with_call_timeout_which_is_a_timeout_error(
    mock_clock: MockClock,
) -> None:
    ref = await actors.spawn(Sleeper)
    calling = asyncio.create_task(ref.call(10, timeout=5))
    await mock_clock.advance(4.999)
    assert not calling.done()
    await mock_clock.advance(0.001)
    with pytest.raises(TimeoutError) as info:
        await calling
    assert isinstance(info.value, actors.CallTimeout)
    assert info.value.timeout == 5
    assert info.value.request == 10
    await mock_clock.advance(5)  # the late reply is dropped; the actor is fine
    assert await ref.call(0) == "slept 0"
    await ref.stop()


async def test_a_timed_out_call_leaves_no_pending_caller_behind(mock_clock: MockClock) -> None:
    ref = await actors.spawn(Sleeper)
    calling = asyncio.create_task(ref.call(10, timeout=1))
    await mock_clock.advance(1)
    with pytest.raises(actors.CallTimeout):
        await calling
    assert ref.statistics().pending_calls == 0
    await mock_clock.advance(9)
    await ref.stop()


@pytest.mark.parametrize("timeout", [None, float("inf")])
async def test_call_without_timeout_waits_as_long_as_needed(
    mock_clock: MockClock, timeout: float | None
) -> None:
    ref = await actors.spawn(Sleeper)
    calling = asyncio.create_task(ref.call(1_000_000, timeout=timeout))
    await mock_clock.advance(999_999)
    assert not calling.done()
    assert mock_clock.pending_timers == 1  # only the actor's sleep, no call timeout
    await mock_clock.advance(1)
    assert await calling == "slept 1000000"
    await ref.stop()


async def test_a_call_reply_arrives_before_the_timeout_cancels_the_timer(
    mock_clock: MockClock,
) -> None:
    ref = await actors.spawn(Counter, 7)
    assert await ref.call("get", timeout=5) == 7
    assert mock_clock.pending_timers == 0
    await ref.stop()


async def test_a_cancelled_caller_is_forgotten_by_the_actor() -> None:
    ref = await actors.spawn(Deferred)
    calling = asyncio.create_task(ref.call("question"))
    await wait_all_idle()
    assert ref.statistics().pending_calls == 1
    calling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await calling
    assert ref.statistics().pending_calls == 0
    assert await ref.call("answer-all") == 1  # replying to the cancelled caller is harmless
    await ref.stop()


async def test_wait_returns_the_exit_reason_to_every_waiter() -> None:
    ref = await actors.spawn(Counter)
    waiters = [asyncio.create_task(ref.wait()) for _ in range(3)]
    await wait_all_idle()
    await ref.stop(("shutdown", "bye"))
    assert [await w for w in waiters] == [("shutdown", "bye")] * 3
    assert await ref.wait() == ("shutdown", "bye")
    assert ref.exit_reason == ("shutdown", "bye")


async def test_a_cancelled_waiter_does_not_disturb_the_others() -> None:
    ref = await actors.spawn(Counter)
    cancelled = asyncio.create_task(ref.wait())
    other = asyncio.create_task(ref.wait())
    await wait_all_idle()
    cancelled.cancel()
    await ref.stop()
    assert await other == "normal"
    assert cancelled.cancelled()


async def test_kill_makes_the_actor_dead_at_once_with_reason_killed() -> None:
    ref = await actors.spawn(Counter)
    ref.kill()
    assert not ref.alive
    assert ref.exit_reason == "killed"
    assert await ref.wait() == "killed"
    ref.kill()  # killing a dead actor is a no-op
    assert ref.exit_reason == "killed"


async def test_stop_on_a_dead_actor_returns_quietly() -> None:
    ref = await actors.spawn(Counter)
    ref.kill()
    await ref.stop()
    await ref.stop("shutdown", timeout=0)
    assert ref.exit_reason == "killed"


async def test_stop_handles_the_messages_queued_before_it() -> None:
    ref = await actors.spawn(Counter)
    for _ in range(5):
        ref.cast(1)
    await ref.stop()
    assert ref.statistics().messages_handled == 5


async def test_refs_to_the_same_actor_are_equal_and_hash_alike() -> None:
    ref = await actors.spawn(Counter, name="same")
    again = actors.whereis("same")
    other = await actors.spawn(Counter)
    assert again == ref
    assert hash(again) == hash(ref)
    assert len({ref, again, other}) == 2
    assert ref != other
    assert ref != "same"
    await ref.stop()
    await other.stop()


async def test_repr_shows_class_name_pid_and_liveness() -> None:
    named = await actors.spawn(Counter, name="counter")
    anonymous = await actors.spawn(Counter)
    assert repr(named) == f"<ActorRef Counter 'counter' #{named.pid} alive>"
    assert repr(anonymous) == f"<ActorRef Counter #{anonymous.pid} alive>"
    await named.stop()
    await anonymous.stop()
    assert repr(named) == f"<ActorRef Counter 'counter' #{named.pid} dead>"


async def test_caller_repr_says_where_the_call_came_from() -> None:
    class ShowCaller(actors.Actor):
        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            return repr(caller)

    ref = await actors.spawn(ShowCaller)
    assert await ref.call("x") == "<Caller from outside any actor waiting>"
    await ref.stop()


def test_refs_and_callers_have_no_public_constructor() -> None:
    with pytest.raises(TypeError, match=r"use `await actors.spawn\(...\)`"):
        actors.ActorRef()
    with pytest.raises(TypeError, match=r"handle_call receives one"):
        actors.Caller()


def test_no_reply_is_a_singleton_with_a_readable_repr() -> None:
    assert repr(actors.NO_REPLY) == "actors.NO_REPLY"
    assert type(actors.NO_REPLY)() is actors.NO_REPLY


async def test_a_ref_subclass_rebound_to_an_actor_equals_the_plain_ref() -> None:
    class SpecialRef(actors.ActorRef):
        __slots__ = ()

    ref = await actors.spawn(Counter)
    special = ref._rebind(SpecialRef)
    assert isinstance(special, SpecialRef)
    assert special == ref
    assert repr(special).startswith("<SpecialRef Counter #")
    await special.stop()
    assert not ref.alive
