"""Which actor the running task belongs to."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actors._process import Process

_current: ContextVar[Process | None] = ContextVar("actors_current_process", default=None)


def current_process() -> Process | None:
    """Return the process whose task is running, or None outside any actor."""
    return _current.get()


def set_current_process(proc: Process) -> None:
    """Mark the running task as ``proc``'s task (called once, at the top of that task)."""
    _current.set(proc)
