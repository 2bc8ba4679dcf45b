"""Links: exits propagate both ways, trap_exits turns them into Exit messages, unlink."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import actors
from actors.testing import wait_all_idle


class Node(actors.Actor):
    """Links to the given peers in init; records what it receives and how it ended."""

    async def init(
        self,
        peers: tuple[actors.ActorRef, ...] = (),
        *,
        trap: bool = False,
        ended: dict[int, Any] | None = None,
    ) -> None:
        self.trap_exits = trap
        self.received: list[Any] = []
        self.ended = ended if ended is not None else {}
        for peer in peers:
            self.link(peer)

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        operation, argument = message
        if operation == "received":
            return list(self.received)
        if operation == "link":
            self.link(argument)
        elif operation == "unlink":
            self.unlink(argument)
        elif operation == "wait-then-unlink":
            gate, peer = argument
            await gate.wait()
            self.unlink(peer)
        return operation

    async def handle_cast(self, message: Any) -> None:
        raise message  # crash on request

    async def handle_info(self, message: Any) -> None:
        self.received.append(message)

    async def terminate(self, reason: Any) -> None:
        self.ended[self.ref.pid] = reason


async def received(ref: actors.ActorRef) -> list[Any]:
    return list(await ref.call(("received", None)))


async def test_a_crash_takes_a_linked_actor_down_with_the_same_reason_both_ways() -> None:
    for crash_first in (True, False):
        ended: dict[int, Any] = {}
        first = await actors.spawn(Node, ended=ended)
        second = await actors.spawn(Node, (first,), ended=ended)
        error = RuntimeError("boom")
        (first if crash_first else second).cast(error)
        assert await first.wait() is error
        assert await second.wait() is error
        assert ended == {first.pid: error, second.pid: error}  # terminate ran in both


async def test_a_normal_exit_does_not_take_a_non_trapping_linked_actor_down() -> None:
    first = await actors.spawn(Node)
    second = await actors.spawn(Node, (first,))
    await first.stop("normal")
    await wait_all_idle()
    assert second.alive
    assert second.statistics().links == 0  # the link ended with the peer
    await second.stop()


async def test_shutdown_propagates_to_a_non_trapping_linked_actor() -> None:
    first = await actors.spawn(Node)
    second = await actors.spawn(Node, (first,))
    await first.stop(("shutdown", "maintenance"))
    assert await second.wait() == ("shutdown", "maintenance")


async def test_a_trapping_actor_receives_exit_messages_and_survives() -> None:
    trapper = await actors.spawn(Node, trap=True)
    normal = await actors.spawn(Node, (trapper,))
    crashing = await actors.spawn(Node, (trapper,))
    await normal.stop()
    error = ValueError("bad")
    crashing.cast(error)
    await crashing.wait()
    assert await received(trapper) == [
        actors.Exit(normal, "normal"),
        actors.Exit(crashing, error),
    ]
    assert trapper.alive
    await trapper.stop()


async def test_kill_cannot_be_trapped_but_reaches_linked_actors_as_killed() -> None:
    ended: dict[int, Any] = {}
    victim = await actors.spawn(Node, trap=True, ended=ended)
    trapper = await actors.spawn(Node, (victim,), trap=True, ended=ended)
    bystander = await actors.spawn(Node, (victim,), ended=ended)
    victim.kill()
    assert victim.exit_reason == "killed"
    assert await bystander.wait() == "killed"
    assert await received(trapper) == [actors.Exit(victim, "killed")]
    assert ended == {bystander.pid: "killed"}  # the propagated signal ran terminate; kill did not
    await trapper.stop()


async def test_linking_to_a_dead_actor_delivers_exit_noproc_to_a_trapping_actor() -> None:
    dead = await actors.spawn(Node)
    await dead.stop()
    trapper = await actors.spawn(Node, trap=True)
    await trapper.call(("link", dead))
    assert await received(trapper) == [actors.Exit(dead, "noproc")]
    assert trapper.statistics().links == 0
    await trapper.stop()


async def test_linking_to_a_dead_actor_makes_a_non_trapping_actor_exit_with_noproc() -> None:
    dead = await actors.spawn(Node)
    dead.kill()
    linker = await actors.spawn(Node)
    await linker.call(("link", dead))
    assert await linker.wait() == "noproc"


async def test_linking_twice_makes_one_link_and_one_exit() -> None:
    trapper = await actors.spawn(Node, trap=True)
    peer = await actors.spawn(Node)
    await trapper.call(("link", peer))
    await trapper.call(("link", peer))
    assert trapper.statistics().links == 1
    assert peer.statistics().links == 1
    await peer.stop("shutdown")
    assert await received(trapper) == [actors.Exit(peer, "shutdown")]
    await trapper.stop()


async def test_linking_to_itself_does_nothing() -> None:
    node = await actors.spawn(Node)
    await node.call(("link", node))
    assert node.statistics().links == 0
    await node.stop()


async def test_after_unlink_an_exit_no_longer_propagates() -> None:
    first = await actors.spawn(Node)
    second = await actors.spawn(Node, (first,))
    await second.call(("unlink", first))
    assert first.statistics().links == second.statistics().links == 0
    first.cast(RuntimeError("alone"))
    await first.wait()
    await wait_all_idle()
    assert second.alive
    await second.stop()


async def test_unlink_flushes_an_exit_already_queued_from_that_link() -> None:
    trapper = await actors.spawn(Node, trap=True)
    peer = await actors.spawn(Node)
    other = await actors.spawn(Node)
    await trapper.call(("link", peer))
    await trapper.call(("link", other))
    gate = asyncio.Event()
    unlinking = asyncio.create_task(trapper.call(("wait-then-unlink", (gate, peer))))
    await wait_all_idle()
    await peer.stop("shutdown")
    await other.stop("shutdown")
    trapper.send(actors.Exit(peer, "sent by hand"))  # a user message, not a link's exit
    assert trapper.statistics().mailbox_depth == 3
    gate.set()
    await unlinking
    assert await received(trapper) == [
        actors.Exit(other, "shutdown"),
        actors.Exit(peer, "sent by hand"),
    ]
    await trapper.stop()


async def test_a_chain_of_links_takes_every_actor_down_with_the_original_reason() -> None:
    ended: dict[int, Any] = {}
    head = await actors.spawn(Node, ended=ended)
    middle = await actors.spawn(Node, (head,), ended=ended)
    tail = await actors.spawn(Node, (middle,), ended=ended)
    error = OSError("disk")
    tail.cast(error)
    assert [await ref.wait() for ref in (head, middle, tail)] == [error] * 3
    assert set(ended.values()) == {error}


# -- properties over random link graphs ----------------------------------------------------

EXIT_KINDS = ("crash", "kill", "shutdown", "normal")


@st.composite
def link_graphs(draw: st.DrawFn) -> tuple[list[bool], set[tuple[int, int]], int, str]:
    """(trap flag per node, undirected edges i<j, the node that exits, how it exits)."""
    size = draw(st.integers(min_value=2, max_value=8))
    traps = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    pairs = [(i, j) for i in range(size) for j in range(i + 1, size)]
    edges = draw(st.sets(st.sampled_from(pairs)))
    origin = draw(st.integers(min_value=0, max_value=size - 1))
    kind = draw(st.sampled_from(EXIT_KINDS))
    return traps, edges, origin, kind


def expected_deaths(
    traps: list[bool], edges: set[tuple[int, int]], origin: int, kind: str
) -> set[int]:
    """The origin, plus every non-trapping node reachable from it through dying nodes."""
    dying = {origin}
    if kind == "normal":
        return dying
    frontier = [origin]
    while frontier:
        node = frontier.pop()
        for i, j in edges:
            peer = j if i == node else i if j == node else None
            if peer is not None and peer not in dying and not traps[peer]:
                dying.add(peer)
                frontier.append(peer)
    return dying


async def run_link_graph(
    traps: list[bool], edges: set[tuple[int, int]], origin: int, kind: str
) -> None:
    refs: list[actors.ActorRef] = []
    for j, trap in enumerate(traps):
        peers = tuple(refs[i] for i, k in sorted(edges) if k == j)
        refs.append(await actors.spawn(Node, peers, trap=trap))
    error = RuntimeError("origin crashed")
    reason: Any = {"crash": error, "kill": "killed", "shutdown": "shutdown", "normal": "normal"}
    if kind == "crash":
        refs[origin].cast(error)
    elif kind == "kill":
        refs[origin].kill()
    else:
        await refs[origin].stop(kind)
    await wait_all_idle()

    dying = expected_deaths(traps, edges, origin, kind)
    assert {i for i, ref in enumerate(refs) if not ref.alive} == dying
    for i in dying:
        assert refs[i].exit_reason is reason[kind] or refs[i].exit_reason == reason[kind]
    for t, trap in enumerate(traps):
        if trap and t not in dying:
            neighbours = {i if j == t else j for i, j in edges if t in (i, j)}
            exits = [m for m in await received(refs[t]) if isinstance(m, actors.Exit)]
            assert Counter(m.ref for m in exits) == Counter(refs[n] for n in neighbours & dying)
            assert all(m.reason is reason[kind] or m.reason == reason[kind] for m in exits)
    for ref in refs:
        await ref.stop()


@settings(max_examples=60, deadline=None)
@given(link_graphs())
def test_an_exit_reaches_exactly_the_transitively_linked_actors(
    graph: tuple[list[bool], set[tuple[int, int]], int, str],
) -> None:
    """Non-trapping actors linked (through dying actors) to an abnormal exit die with its
    reason; trapping ones survive with exactly one Exit per dying linked peer; a normal
    exit takes nobody else down."""
    asyncio.run(run_link_graph(*graph))


class Asker(actors.Actor):
    """Links to a peer, then calls it when asked; traps exits if told to."""

    async def init(self, peer: actors.ActorRef, *, trap: bool = False) -> None:
        self.trap_exits = trap
        self.peer = peer
        self.received: list[Any] = []
        self.link(peer)

    async def handle_cast(self, request: Any) -> None:
        try:
            await self.peer.call(request)
        except actors.NoProc as error:
            self.received.append(("noproc", error.reason))

    async def handle_info(self, message: Any) -> None:
        self.received.append(message)

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        return self.received


class Crashes(actors.Actor):
    async def handle_call(self, gate: asyncio.Event, caller: actors.Caller) -> Any:
        await gate.wait()
        raise RuntimeError("peer crashed mid-call")


async def test_a_linked_caller_dies_of_the_exit_signal_not_of_noproc() -> None:
    peer = await actors.spawn(Crashes)
    asker = await actors.spawn(Asker, peer)
    gate = asyncio.Event()
    asker.cast(gate)
    await wait_all_idle()
    gate.set()
    reason = await asker.wait()
    assert reason is await peer.wait()
    assert isinstance(reason, RuntimeError)


async def test_a_trapping_caller_gets_noproc_and_then_the_exit_message() -> None:
    peer = await actors.spawn(Crashes)
    asker = await actors.spawn(Asker, peer, trap=True)
    gate = asyncio.Event()
    asker.cast(gate)
    await wait_all_idle()
    gate.set()
    reason = await peer.wait()
    assert await asker.call("received") == [("noproc", reason), actors.Exit(peer, reason)]
    await asker.stop()
