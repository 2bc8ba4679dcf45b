"""ActorStatistics: the snapshot every actor gives of itself."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

import actors
from actors.testing import wait_all_idle


class Busy(actors.Actor):
    trap_exits = True

    async def init(self, gate: asyncio.Event) -> None:
        self.gate = gate

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        await self.gate.wait()
        return message

    async def handle_cast(self, message: Any) -> None:
        pass


async def test_statistics_count_mailbox_calls_links_and_monitors() -> None:
    gate = asyncio.Event()
    ref = await actors.spawn(Busy, gate, name="busy")
    first = asyncio.create_task(ref.call(1))
    await wait_all_idle()
    for n in range(3):
        ref.cast(n)
    second = asyncio.create_task(ref.call(2))
    await wait_all_idle()
    assert ref.statistics() == actors.ActorStatistics(
        pid=ref.pid,
        name="busy",
        actor_class="Busy",
        alive=True,
        trap_exits=True,
        mailbox_depth=4,
        peak_mailbox_depth=4,
        messages_handled=0,
        pending_calls=2,
        links=0,
        monitors=0,
        monitored_by=0,
    )
    gate.set()
    assert (await first, await second) == (1, 2)
    stats = ref.statistics()
    assert (stats.mailbox_depth, stats.peak_mailbox_depth, stats.messages_handled) == (0, 4, 5)
    assert stats.pending_calls == 0
    await ref.stop()


async def test_statistics_of_a_dead_actor_say_so_and_keep_the_counters() -> None:
    gate = asyncio.Event()
    gate.set()
    ref = await actors.spawn(Busy, gate)
    await ref.call("x")
    await ref.stop()
    stats = ref.statistics()
    assert not stats.alive
    assert stats.messages_handled == 1
    assert stats.mailbox_depth == 0


def test_statistics_are_frozen() -> None:
    stats = actors.ActorStatistics(
        pid=1,
        name=None,
        actor_class="A",
        alive=True,
        trap_exits=False,
        mailbox_depth=0,
        peak_mailbox_depth=0,
        messages_handled=0,
        pending_calls=0,
        links=0,
        monitors=0,
        monitored_by=0,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.alive = False  # type: ignore[misc]
