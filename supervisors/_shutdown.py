"""Stopping children the way OTP's supervisor does (``shutdown/2``, ``terminate_children``).

Internal, not part of the public API. A child is asked to stop with reason ``"shutdown"``
(``terminate`` runs) and killed if it has not exited after its ``shutdown`` seconds;
``"brutal_kill"`` kills at once; ``"infinity"`` waits as long as it takes. The wait is on
the child's exit itself, not on the link, so a child that unlinked itself from its
supervisor cannot hang it (OTP monitors the child for the same reason).

A static supervisor stops its children one at a time in reverse start order. A
``DynamicSupervisor`` asks all of them at once and arms one timer per distinct shutdown
value, as Elixir's does.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import actors
from supervisors._child import Entry

log = logging.getLogger("supervisors")


async def shutdown_child(entry: Entry, ref: actors.ActorRef, supervisor: actors.ActorRef) -> Any:
    """Stop ``ref`` (the child of ``entry``) per its ``shutdown``; return its exit reason."""
    shutdown = entry.shutdown
    if shutdown == "brutal_kill":
        ref.kill()
    else:
        await ref.stop("shutdown", timeout=None if shutdown == "infinity" else float(shutdown))
    reason = await ref.wait()
    _report(entry, reason, supervisor)
    return reason


async def shutdown_children(
    children: Iterable[tuple[Entry, actors.ActorRef]], supervisor: actors.ActorRef
) -> None:
    """Stop every child at once; one kill timer per distinct ``shutdown`` value."""
    groups: defaultdict[float, list[actors.ActorRef]] = defaultdict(list)
    waits = []
    entries = []
    for entry, ref in children:
        entries.append((entry, ref))
        shutdown = entry.shutdown
        if shutdown == "brutal_kill":
            ref.kill()
        else:
            waits.append(ref.stop("shutdown", timeout=None))
            if shutdown != "infinity":
                groups[float(shutdown)].append(ref)
    clock = actors.get_clock()
    timers = [clock.call_later(delay, _killer(refs)) for delay, refs in groups.items()]
    try:
        await asyncio.gather(*waits)
    finally:
        for timer in timers:
            timer.cancel()
    for entry, ref in entries:
        _report(entry, await ref.wait(), supervisor)


def _killer(refs: list[actors.ActorRef]) -> Any:
    def kill_the_rest() -> None:
        for ref in refs:
            ref.kill()  # a no-op for those that have exited

    return kill_the_rest


def _report(entry: Entry, reason: Any, supervisor: actors.ActorRef) -> None:
    """Log a child that did not exit the way it was asked to (OTP's ``shutdown_error``)."""
    expected = "killed" if entry.shutdown == "brutal_kill" else "shutdown"
    if _same(reason, expected):
        return
    if entry.restart != "permanent" and actors.is_clean(reason):
        return  # a non-permanent child may answer a shutdown with any clean exit
    log.warning(
        "%r: child %r did not stop cleanly when shut down: expected exit reason %r, got %s",
        supervisor,
        entry.id,
        expected,
        actors.format_reason(reason),
    )


def _same(reason: Any, expected: str) -> bool:
    return isinstance(reason, str) and reason == expected
