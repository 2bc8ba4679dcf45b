"""``whereis``: find a running supervisor by its registered name, as a supervisor ref.

``actors.whereis`` returns a plain ``ActorRef``; the child administration calls need a
``SupervisorRef`` (or ``DynamicSupervisorRef``). Every supervisor records itself here, by
pid, when it starts. The table holds the supervisors weakly: an entry disappears with the
last reference to the supervisor, so nothing here keeps an exited supervisor alive.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import actors
from supervisors._exceptions import SupervisorError

if TYPE_CHECKING:
    from supervisors._ref import DynamicSupervisorRef, SupervisorRef
    from supervisors._supervision import Supervision

_supervisors: weakref.WeakValueDictionary[int, Supervision] = weakref.WeakValueDictionary()


def record(pid: int, core: Supervision) -> None:
    """Remember the supervisor running as ``pid`` (called from its ``init``)."""
    _supervisors[pid] = core


def whereis(name: str) -> SupervisorRef | DynamicSupervisorRef | None:
    """Return the live supervisor registered as ``name``, or None if no actor is.

    Raises:
        SupervisorError: the actor registered as ``name`` is not a supervisor.
    """
    ref = actors.whereis(name)
    if ref is None:
        return None
    core = _supervisors.get(ref.pid)
    if core is None:
        raise SupervisorError(
            f"the actor registered as {name!r} is {ref!r}, not a supervisor; use "
            "actors.whereis() for plain actors"
        )
    return core.wrap(ref)
