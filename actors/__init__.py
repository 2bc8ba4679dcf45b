"""Erlang-style actors on asyncio.

Layering (enforced by tests/test_layering.py): ``actors`` is the bottom layer and imports
nothing from ``supervisors`` or ``flowstone``; they use only the public names below,
``actors.abc`` and ``actors.testing``.

Module map:
    _actor.py      Actor: the hooks users override (init, handle_*, terminate)
    _ref.py        ActorRef (the only handle to an actor), Caller, NO_REPLY
    _spawn.py      spawn(), whereis()
    _process.py    the local backend: task, message loop, exits, links, monitors
    _mailbox.py    the local mailbox and its envelopes
    _registry.py   pids, monitor ids, names, live processes
    _clock.py      Clock protocol, MonotonicClock, get_clock/set_clock, sleep
    _messages.py   Exit, Down, exit-reason helpers
    _statistics.py ActorStatistics
    _exceptions.py ActorError hierarchy
    abc.py         ProcessBackend: the interface a backend (local, Ray) implements
    testing.py     MockClock, use_clock, wait_all_idle, Sequencer, leak checks
"""

from actors._actor import Actor as Actor
from actors._backends._ray import RayBackend as RayBackend
from actors._clock import Clock as Clock
from actors._clock import MonotonicClock as MonotonicClock
from actors._clock import TimerHandle as TimerHandle
from actors._clock import get_clock as get_clock
from actors._clock import set_clock as set_clock
from actors._clock import sleep as sleep
from actors._exceptions import ActorError as ActorError
from actors._exceptions import CallingSelf as CallingSelf
from actors._exceptions import CallTimeout as CallTimeout
from actors._exceptions import NameTaken as NameTaken
from actors._exceptions import NoProc as NoProc
from actors._exceptions import StartError as StartError
from actors._messages import Down as Down
from actors._messages import Exit as Exit
from actors._messages import format_reason as format_reason
from actors._messages import is_clean as is_clean
from actors._messages import is_shutdown as is_shutdown
from actors._ref import NO_REPLY as NO_REPLY
from actors._ref import ActorRef as ActorRef
from actors._ref import Caller as Caller
from actors._spawn import spawn as spawn
from actors._spawn import whereis as whereis
from actors._statistics import ActorStatistics as ActorStatistics

__all__ = (
    "NO_REPLY",
    "Actor",
    "ActorError",
    "ActorRef",
    "ActorStatistics",
    "CallTimeout",
    "Caller",
    "CallingSelf",
    "Clock",
    "Down",
    "Exit",
    "MonotonicClock",
    "NameTaken",
    "NoProc",
    "RayBackend",
    "StartError",
    "TimerHandle",
    "format_reason",
    "get_clock",
    "is_clean",
    "is_shutdown",
    "set_clock",
    "sleep",
    "spawn",
    "whereis",
)


def _fix_module_names() -> None:
    # Reprs, tracebacks and pickles should read `actors.ActorRef`, not `actors._ref.ActorRef`.
    for name in __all__:
        obj = globals()[name]
        if (isinstance(obj, type) or callable(obj)) and obj.__module__.startswith("actors._"):
            obj.__module__ = "actors"


_fix_module_names()
del _fix_module_names
