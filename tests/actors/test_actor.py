"""The Actor base class: default hooks, what is available inside, repr."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import actors
from actors.testing import wait_all_idle


class Bare(actors.Actor):
    """Overrides nothing."""


async def test_a_call_to_an_actor_without_handle_call_crashes_it_with_a_clear_error() -> None:
    ref = await actors.spawn(Bare)
    with pytest.raises(actors.NoProc) as info:
        await ref.call("question")
    reason = info.value.reason
    assert isinstance(reason, NotImplementedError)
    assert str(reason) == (
        "Bare received call 'question' but does not implement handle_call(self, message, caller)"
    )


async def test_a_cast_to_an_actor_without_handle_cast_crashes_it_with_a_clear_error() -> None:
    ref = await actors.spawn(Bare)
    ref.cast("note")
    reason = await ref.wait()
    assert isinstance(reason, NotImplementedError)
    assert (
        str(reason) == "Bare received cast 'note' but does not implement handle_cast(self, message)"
    )


async def test_the_default_handle_info_ignores_messages() -> None:
    ref = await actors.spawn(Bare)
    ref.send("anything")
    await wait_all_idle()
    assert ref.alive
    assert ref.statistics().messages_handled == 1
    await ref.stop()


def test_trap_exits_is_off_by_default() -> None:
    assert actors.Actor.trap_exits is False


async def test_inside_the_actor_ref_is_its_own_reference() -> None:
    class Introspective(actors.Actor):
        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            return self.ref

    ref = await actors.spawn(Introspective)
    assert await ref.call("who") == ref
    await ref.stop()


def test_an_actor_instance_that_was_not_spawned_explains_how_to_start_it() -> None:
    actor = Bare()
    assert repr(actor) == "<Bare not started>"
    with pytest.raises(RuntimeError, match=r"^Bare is not running: .* `await actors.spawn"):
        _ = actor.ref
    with pytest.raises(RuntimeError, match=r"^Bare is not running"):
        actor.stop()


async def test_link_and_monitor_must_be_called_from_inside_the_actor() -> None:
    class Exposes(actors.Actor):
        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            return self

    ref = await actors.spawn(Exposes)
    other = await actors.spawn(Bare)
    actor = await ref.call("instance")
    for operation in (actor.link, actor.unlink, actor.monitor):
        with pytest.raises(
            RuntimeError,
            match=rf"^{operation.__name__}\(\) of <ActorRef Exposes #{ref.pid} alive> must be "
            r"called from inside that actor",
        ):
            operation(other)
    with pytest.raises(RuntimeError, match=r"^demonitor\(\) of"):
        actor.demonitor(1)
    await ref.stop()
    await other.stop()


async def test_actor_repr_shows_its_identity_and_liveness() -> None:
    class Exposes(actors.Actor):
        async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
            return self

    ref = await actors.spawn(Exposes, name="shown")
    actor = await ref.call("instance")
    assert repr(actor) == f"<Exposes 'shown' #{ref.pid} alive>"
    await ref.stop()
    assert repr(actor) == f"<Exposes 'shown' #{ref.pid} dead>"


async def test_stop_from_a_helper_task_of_the_actor_ends_it() -> None:
    class Delegates(actors.Actor):
        async def handle_cast(self, message: Any) -> None:
            async def later() -> None:
                self.stop("delegated")

            self.helper = asyncio.create_task(later())

    ref = await actors.spawn(Delegates)
    ref.cast("go")
    assert await ref.wait() == "delegated"
