"""The backend interface: local processes implement it, and peers only use it.

``Foreign`` below is a minimal process of an imaginary other backend. Local actors link to it
and monitor it through ``ProcessBackend`` alone, which is what lets a Ray-hosted actor sit
behind the same ``ActorRef``.
"""

from __future__ import annotations

from typing import Any

import actors
from actors import _registry
from actors._ref import ActorRef
from actors._statistics import ActorStatistics
from actors.abc import ProcessBackend
from actors.testing import wait_all_idle


class Foreign:
    """A process of another backend, driven by hand from the test."""

    def __init__(self) -> None:
        self.pid = _registry.next_pid()
        self.name: str | None = None
        self.ref = ActorRef._create(self)
        self.alive = True
        self.reason: Any = None
        self.display_name = f"Foreign #{self.pid}"
        self.links: set[ProcessBackend] = set()
        self.watchers: dict[int, ProcessBackend] = {}
        self.signals: list[tuple[ActorRef, Any]] = []

    def die(self, reason: Any) -> None:
        self.alive = False
        self.reason = reason
        for peer in self.links:
            peer.remove_link(self)
            peer.exit_signal(self.ref, reason)
        for monitor_id, watcher in self.watchers.items():
            watcher.down_signal(actors.Down(monitor_id, self.ref, reason))

    async def call(self, message: Any, timeout: float | None) -> Any:
        return message

    def cast(self, message: Any) -> None:
        pass

    def send(self, message: Any) -> None:
        pass

    async def stop(self, reason: Any, timeout: float | None) -> None:
        self.die(reason)

    def kill(self) -> None:
        self.die("killed")

    async def wait(self) -> Any:
        return self.reason

    def statistics(self) -> ActorStatistics:
        raise NotImplementedError

    def add_link(self, peer: ProcessBackend) -> bool:
        if self.alive:
            self.links.add(peer)
        return self.alive

    def remove_link(self, peer: ProcessBackend) -> None:
        self.links.discard(peer)

    def exit_signal(self, sender: ActorRef, reason: Any) -> None:
        self.signals.append((sender, reason))

    def add_monitor(self, monitor_id: int, watcher: ProcessBackend) -> bool:
        if self.alive:
            self.watchers[monitor_id] = watcher
        return self.alive

    def remove_monitor(self, monitor_id: int) -> None:
        self.watchers.pop(monitor_id, None)

    def down_signal(self, down: actors.Down) -> None:
        pass


class Peer(actors.Actor):
    trap_exits = True

    async def init(self, foreign: ActorRef, *, monitor: bool = False) -> None:
        self.received: list[Any] = []
        if monitor:
            self.monitor_id = self.monitor(foreign)
        else:
            self.link(foreign)

    async def handle_info(self, message: Any) -> None:
        self.received.append(message)

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        if message == "crash":
            raise RuntimeError("local crash")
        return self.received


async def test_a_local_process_implements_the_backend_interface() -> None:
    ref = await actors.spawn(actors.Actor)
    assert isinstance(ref._process, ProcessBackend)
    await ref.stop()


def test_the_foreign_test_backend_implements_the_interface_too() -> None:
    assert isinstance(Foreign(), ProcessBackend)


async def test_a_local_actor_links_to_another_backends_process_through_the_interface() -> None:
    foreign = Foreign()
    peer = await actors.spawn(Peer, foreign.ref)
    assert foreign.links == {peer._process}
    foreign.die("shutdown")
    assert await peer.call("received") == [actors.Exit(foreign.ref, "shutdown")]
    await peer.stop()


async def test_a_local_exit_reaches_a_linked_process_of_another_backend() -> None:
    foreign = Foreign()
    peer = await actors.spawn(Peer, foreign.ref)
    await peer.stop("shutdown")
    assert foreign.signals == [(peer, "shutdown")]
    assert foreign.links == set()


async def test_a_local_actor_monitors_another_backends_process_through_the_interface() -> None:
    foreign = Foreign()
    peer = await actors.spawn(Peer, foreign.ref, monitor=True)
    (monitor_id,) = foreign.watchers
    foreign.die(ValueError("remote crash"))
    await wait_all_idle()
    (down,) = await peer.call("received")
    assert (down.monitor_id, down.ref, str(down.reason)) == (
        monitor_id,
        foreign.ref,
        "remote crash",
    )
    await peer.stop()


async def test_a_dead_watcher_removes_its_monitor_from_another_backends_process() -> None:
    foreign = Foreign()
    peer = await actors.spawn(Peer, foreign.ref, monitor=True)
    peer.kill()
    assert foreign.watchers == {}
