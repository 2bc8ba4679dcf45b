"""A busy actor cannot keep the event loop to itself."""

from __future__ import annotations

import asyncio
from typing import Any

import actors


class SelfFeeding(actors.Actor):
    """Sends itself the next message from every handler, never suspending."""

    async def init(self, budget: int) -> None:
        self.left = budget
        self.done = asyncio.get_running_loop().create_future()

    async def handle_info(self, message: Any) -> None:
        self.left -= 1
        if self.left:
            self.ref.send("again")
        elif not self.done.done():
            self.done.set_result(None)

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        return self.done


async def test_other_tasks_run_while_an_actor_handles_a_long_self_fed_stream() -> None:
    ref = await actors.spawn(SelfFeeding, 10_000)
    done = await ref.call("done")
    turns = 0

    async def bystander() -> None:
        nonlocal turns
        while not done.done():
            turns += 1
            await asyncio.sleep(0)

    watcher = asyncio.ensure_future(bystander())
    ref.send("start")
    await done
    await watcher
    await ref.stop()
    assert turns >= 10_000 // 64 // 2
