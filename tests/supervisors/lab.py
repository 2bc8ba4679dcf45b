"""Scriptable children for the supervisor tests.

``Lab`` builds child specs whose start functions can be told to fail, to return None
("ignore") or to succeed, and whose workers record their life (start, terminate and reason)
in ``lab.journal``. Workers exit on command: ``await lab.crash(ref, reason)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any

import actors
from actors.testing import wait_all_idle
from supervisors import Backoff, ChildSpec, SupervisorRef


class Worker(actors.Actor):
    """A child that journals its start and its terminate, and exits when told to (or waits
    for an ``asyncio.Event``, to hold its mailbox in order)."""

    async def init(
        self, lab: Lab, child_id: Hashable, terminate_seconds: float, trap: bool
    ) -> None:
        self.lab = lab
        self.child_id = child_id
        self.terminate_seconds = terminate_seconds
        self.trap_exits = trap
        lab.journal.append(("start", child_id))

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        return self.child_id

    async def handle_cast(self, message: Any) -> None:
        kind, argument = message
        if kind == "wait":  # stay busy (messages queue up) until the event is set
            await argument.wait()
        elif kind == "exit":
            if isinstance(argument, BaseException):
                raise argument
            self.stop(argument)
        elif kind == "unlink":
            self.unlink(argument)

    async def handle_info(self, message: Any) -> None:
        self.lab.journal.append(("info", self.child_id, message))

    async def terminate(self, reason: Any) -> None:
        self.lab.journal.append(("terminate", self.child_id, reason))
        if self.terminate_seconds:
            await actors.sleep(self.terminate_seconds)
            self.lab.journal.append(("terminated", self.child_id))


class Lab:
    """Child specs with scripted start outcomes, and a journal of what the children did."""

    def __init__(self) -> None:
        self.journal: list[tuple[Any, ...]] = []
        self.starts: Counter[Hashable] = Counter()
        self._outcomes: dict[Hashable, list[str]] = {}
        self._always: dict[Hashable, str] = {}
        self.on_start: dict[Hashable, Callable[[int], None]] = {}
        """Called with the attempt number (1-based) before each start of that child."""

    def spec(
        self,
        child_id: Hashable,
        *,
        restart: str = "permanent",
        shutdown: float | str | None = None,
        significant: bool = False,
        backoff: Backoff | None = None,
        terminate_seconds: float = 0.0,
        trap: bool = False,
    ) -> ChildSpec:
        """A worker spec whose start follows the script set with ``fail``/``ignore``."""

        async def start() -> actors.ActorRef | None:
            self.starts[child_id] += 1
            if child_id in self.on_start:
                self.on_start[child_id](self.starts[child_id])
            outcome = self._next_outcome(child_id)
            if outcome == "fail":
                raise RuntimeError(f"{child_id} cannot start")
            if outcome == "ignore":
                return None
            return await actors.spawn(Worker, self, child_id, terminate_seconds, trap)

        return ChildSpec(
            child_id,
            start,
            restart=restart,  # type: ignore[arg-type]
            shutdown=shutdown,  # type: ignore[arg-type]
            significant=significant,
            backoff=backoff,
        )

    def fail(self, child_id: Hashable, times: int | None = None) -> None:
        """Make the next ``times`` starts of ``child_id`` raise (None: all of them)."""
        self._script(child_id, "fail", times)

    def ignore(self, child_id: Hashable, times: int | None = None) -> None:
        """Make the next ``times`` starts of ``child_id`` return None (None: all of them)."""
        self._script(child_id, "ignore", times)

    def succeed(self, child_id: Hashable) -> None:
        """Let every later start of ``child_id`` succeed."""
        self._outcomes.pop(child_id, None)
        self._always.pop(child_id, None)

    def events(self, kind: str) -> list[tuple[Any, ...]]:
        """The journal entries of one kind ("start", "terminate", ...), in order."""
        return [event[1:] for event in self.journal if event[0] == kind]

    async def crash(self, ref: actors.ActorRef | None, reason: Any = None) -> None:
        """Make the child exit with ``reason`` (a fresh exception by default), then settle."""
        assert ref is not None, "that child is not running"
        if reason == "killed":
            ref.kill()
        else:
            ref.cast(("exit", RuntimeError("crash") if reason is None else reason))
        await wait_all_idle()

    def _script(self, child_id: Hashable, outcome: str, times: int | None) -> None:
        if times is None:
            self._always[child_id] = outcome
        else:
            self._outcomes.setdefault(child_id, []).extend([outcome] * times)

    def _next_outcome(self, child_id: Hashable) -> str:
        queued = self._outcomes.get(child_id)
        if queued:
            return queued.pop(0)
        return self._always.get(child_id, "ok")


async def refs(sup: SupervisorRef) -> dict[Hashable, actors.ActorRef | None]:
    """The children's refs by id."""
    return {child.id: child.ref for child in await sup.which_children()}


async def counts(sup: Any) -> list[int]:
    """``count_children`` as OTP's tests write it: [specs, active, supervisors, workers]."""
    c = await sup.count_children()
    return [c["specs"], c["active"], c["supervisors"], c["workers"]]
