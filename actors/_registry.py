"""Process-wide registry: identities, names and the set of live processes.

Internal, not part of the public API. Identities come from here rather than from a backend so
that pids and monitor ids stay unique when local and Ray actors coexist.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actors._process import Process
    from actors._ref import ActorRef

_pids = itertools.count(1)
_monitor_ids = itertools.count(1)
_names: dict[str, Process] = {}
_live: dict[int, Process] = {}


def next_pid() -> int:
    """Return a fresh process id."""
    return next(_pids)


def next_monitor_id() -> int:
    """Return a fresh monitor id."""
    return next(_monitor_ids)


def register(name: str, proc: Process) -> None:
    """Bind ``name`` to ``proc``; the caller has checked that it is free."""
    _names[name] = proc


def unregister(name: str, proc: Process) -> None:
    """Release ``name`` if it still belongs to ``proc``."""
    if _names.get(name) is proc:
        del _names[name]


def lookup(name: str) -> Process | None:
    """Return the live process registered as ``name``."""
    proc = _names.get(name)
    return proc if proc is not None and proc.alive else None


def whereis(name: str) -> ActorRef | None:
    """Return the reference of the live actor registered as ``name``, or None."""
    proc = lookup(name)
    return proc.ref if proc is not None else None


def add_live(proc: Process) -> None:
    """Track a process from spawn until it exits."""
    _live[proc.pid] = proc


def remove_live(proc: Process) -> None:
    """Forget an exited process."""
    _live.pop(proc.pid, None)


def live_processes() -> list[Process]:
    """Return every process that has not exited yet."""
    return list(_live.values())


def abandon(proc: Process) -> None:
    """Forget ``proc`` without running its exit (its event loop is gone; tests only)."""
    remove_live(proc)
    if proc.name is not None:
        unregister(proc.name, proc)
