"""The actors error hierarchy and the exact text of every error message."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import actors
from actors.testing import MockClock


class Echo(actors.Actor):
    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        if message == "self":
            return await self.ref.call("inner")
        if message == "hang":
            return actors.NO_REPLY
        if message == "raise":
            raise ValueError("bad input")
        return message


class FailingInit(actors.Actor):
    async def init(self) -> None:
        raise ValueError("no config")


def test_the_hierarchy_mixes_in_the_nearest_builtins() -> None:
    assert issubclass(actors.StartError, actors.ActorError)
    assert issubclass(actors.NameTaken, actors.StartError)
    assert issubclass(actors.NoProc, actors.ActorError)
    assert issubclass(actors.CallTimeout, actors.ActorError)
    assert issubclass(actors.CallTimeout, TimeoutError)
    assert issubclass(actors.CallingSelf, actors.ActorError)
    assert issubclass(actors.CallingSelf, RuntimeError)


async def test_start_error_message_names_the_actor_and_the_init_failure() -> None:
    with pytest.raises(
        actors.StartError,
        match=r"^FailingInit 'config' #\d+ failed to start: init\(\) raised ValueError: no config$",
    ) as info:
        await actors.spawn(FailingInit, name="config")
    assert isinstance(info.value.reason, ValueError)


async def test_name_taken_message_names_the_holder_and_the_fix() -> None:
    holder = await actors.spawn(Echo, name="echo")
    with pytest.raises(
        actors.NameTaken,
        match=rf"^cannot spawn an actor named 'echo': the name is held by "
        rf"<ActorRef Echo 'echo' #{holder.pid} alive>; choose another name or stop that "
        r"actor first$",
    ):
        await actors.spawn(Echo, name="echo")
    await holder.stop()


async def test_noproc_message_for_a_dead_actor_gives_its_exit_reason() -> None:
    ref = await actors.spawn(Echo)
    await ref.stop("shutdown")
    with pytest.raises(
        actors.NoProc,
        match=rf"^call 'hello' to <ActorRef Echo #{ref.pid} dead> failed: the actor is not "
        r"alive \(it exited: 'shutdown'\)$",
    ):
        await ref.call("hello")


async def test_noproc_message_for_a_crash_gives_the_crash() -> None:
    ref = await actors.spawn(Echo)
    with pytest.raises(
        actors.NoProc,
        match=rf"^call 'raise' to <ActorRef Echo #{ref.pid} dead> failed: the actor exited "
        r"\(ValueError: bad input\) before replying$",
    ):
        await ref.call("raise")


async def test_call_timeout_message_names_the_actor_the_request_and_the_timeout(
    mock_clock: MockClock,
) -> None:
    ref = await actors.spawn(Echo)
    calling = asyncio.create_task(ref.call("hang", timeout=2.5))
    await mock_clock.advance(2.5)
    with pytest.raises(
        actors.CallTimeout,
        match=rf"^<ActorRef Echo #{ref.pid} alive> did not reply to 'hang' within 2.5 s; the "
        r"actor may be busy or deadlocked \(a reply that comes later is dropped; pass a larger "
        r"timeout= if the work is legitimately slow\)$",
    ):
        await calling
    await ref.stop()


async def test_calling_self_message_explains_why_and_what_to_do_instead() -> None:
    ref = await actors.spawn(Echo)
    with pytest.raises(actors.NoProc) as info:
        await ref.call("self")
    error = info.value.reason
    assert isinstance(error, actors.CallingSelf)
    assert error.operation == "call"
    assert str(error) == (
        f"<ActorRef Echo #{ref.pid} alive> cannot call itself from its own handler: it "
        "handles one message at a time, so this would wait forever; do the work directly in "
        "the handler, or cast/send the message to yourself to handle it after the current one"
    )
