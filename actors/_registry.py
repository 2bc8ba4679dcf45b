"""Process-wide registry of actor names and live processes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actors._process import Process
    from actors._ref import ActorRef

_names: dict[str, Process] = {}
_live: dict[int, Process] = {}


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
