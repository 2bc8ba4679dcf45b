"""Monitors: one-way, stackable, Down on exit, noproc for the dead, demonitor flushes."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import actors
from actors.testing import wait_all_idle


class Watcher(actors.Actor):
    """Monitors on request and records every message it receives."""

    async def init(self) -> None:
        self.received: list[Any] = []

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        operation, argument = message
        if operation == "monitor":
            return self.monitor(argument)
        if operation == "demonitor":
            self.demonitor(argument)
        elif operation == "wait-then-demonitor":
            gate, monitor_id = argument
            await gate.wait()
            self.demonitor(monitor_id)
        elif operation == "received":
            return list(self.received)
        return None

    async def handle_info(self, message: Any) -> None:
        self.received.append(message)


class Target(actors.Actor):
    async def handle_cast(self, message: Any) -> None:
        raise message


async def test_a_monitor_delivers_down_with_the_exit_reason_and_the_watcher_lives_on() -> None:
    watcher = await actors.spawn(Watcher)
    target = await actors.spawn(Target)
    monitor_id = await watcher.call(("monitor", target))
    error = LookupError("gone")
    target.cast(error)
    await target.wait()
    assert await watcher.call(("received", None)) == [actors.Down(monitor_id, target, error)]
    assert watcher.alive
    await watcher.stop()


async def test_a_monitor_is_one_way_the_target_does_not_see_the_watcher_exit() -> None:
    watcher = await actors.spawn(Watcher)
    target = await actors.spawn(Target)
    await watcher.call(("monitor", target))
    assert target.statistics().monitored_by == 1
    watcher.kill()
    await wait_all_idle()
    assert target.alive
    assert target.statistics().monitored_by == 0  # the dead watcher's monitor is gone
    await target.stop()


async def test_monitors_stack_each_with_its_own_id_and_down() -> None:
    watcher = await actors.spawn(Watcher)
    target = await actors.spawn(Target)
    first = await watcher.call(("monitor", target))
    second = await watcher.call(("monitor", target))
    assert first != second
    assert watcher.statistics().monitors == 2
    assert target.statistics().monitored_by == 2
    await target.stop("shutdown")
    assert await watcher.call(("received", None)) == [
        actors.Down(first, target, "shutdown"),
        actors.Down(second, target, "shutdown"),
    ]
    assert watcher.statistics().monitors == 0
    await watcher.stop()


async def test_monitoring_a_dead_actor_delivers_down_noproc_at_once() -> None:
    target = await actors.spawn(Target)
    target.kill()
    watcher = await actors.spawn(Watcher)
    monitor_id = await watcher.call(("monitor", target))
    assert await watcher.call(("received", None)) == [actors.Down(monitor_id, target, "noproc")]
    assert watcher.statistics().monitors == 0
    await watcher.stop()


async def test_after_demonitor_no_down_arrives() -> None:
    watcher = await actors.spawn(Watcher)
    target = await actors.spawn(Target)
    monitor_id = await watcher.call(("monitor", target))
    await watcher.call(("demonitor", monitor_id))
    assert target.statistics().monitored_by == 0
    await target.stop()
    assert await watcher.call(("received", None)) == []
    await watcher.stop()


async def test_demonitor_flushes_a_down_already_queued_and_only_that_one() -> None:
    watcher = await actors.spawn(Watcher)
    target = await actors.spawn(Target)
    dropped = await watcher.call(("monitor", target))
    kept = await watcher.call(("monitor", target))
    gate = asyncio.Event()
    demonitoring = asyncio.create_task(watcher.call(("wait-then-demonitor", (gate, dropped))))
    await wait_all_idle()
    await target.stop("shutdown")
    assert watcher.statistics().mailbox_depth == 2
    gate.set()
    await demonitoring
    assert await watcher.call(("received", None)) == [actors.Down(kept, target, "shutdown")]
    await watcher.stop()


async def test_demonitor_of_an_unknown_id_is_harmless() -> None:
    watcher = await actors.spawn(Watcher)
    await watcher.call(("demonitor", 123_456_789))
    assert watcher.alive
    await watcher.stop()


async def test_an_actor_may_monitor_itself_without_receiving_its_own_down() -> None:
    class SelfWatcher(actors.Actor):
        async def init(self) -> None:
            self.monitor(self.ref)

    ref = await actors.spawn(SelfWatcher)
    assert ref.statistics().monitors == ref.statistics().monitored_by == 1
    await ref.stop()
    assert ref.exit_reason == "normal"


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=5),
    dropped=st.data(),
)
def test_every_remaining_monitor_gets_exactly_one_down(
    counts: list[int], dropped: st.DataObject
) -> None:
    """Watchers monitoring one target several times get one Down per monitor they kept."""

    async def scenario() -> None:
        target = await actors.spawn(Target)
        watchers = [await actors.spawn(Watcher) for _ in counts]
        kept: dict[int, list[int]] = {}
        for watcher, count in zip(watchers, counts, strict=True):
            ids = [await watcher.call(("monitor", target)) for _ in range(count)]
            removed = dropped.draw(st.sets(st.sampled_from(ids)) if ids else st.just(set()))
            for monitor_id in removed:
                await watcher.call(("demonitor", monitor_id))
            kept[watcher.pid] = [i for i in ids if i not in removed]
        error = RuntimeError("target crashed")
        target.cast(error)
        await target.wait()
        await wait_all_idle()
        for watcher in watchers:
            downs = await watcher.call(("received", None))
            assert downs == [actors.Down(i, target, error) for i in kept[watcher.pid]]
            await watcher.stop()

    asyncio.run(scenario())
