"""Erlang-style actors on asyncio.

Layering (enforced by tests/test_layering.py): ``actors`` is the bottom layer and imports
nothing from ``supervisors`` or ``flowstone``.

Module map:
    _actor.py      Actor: the callbacks users override (init, handle_*, terminate)
    _ref.py        ActorRef (the only handle to an actor), Caller, NO_REPLY
    _process.py    the local backend: mailbox, task, links, monitors, exit bookkeeping
    _spawn.py      spawn(), whereis()
    _clock.py      Clock protocol, MonotonicClock, get_clock/set_clock, sleep
    _messages.py   Exit, Down, exit-reason helpers
    _exceptions.py ActorError hierarchy
    abc.py         ProcessBackend: the interface a backend (local, Ray) implements
    testing.py     MockClock, wait_all_idle, use_clock
"""

from actors._actor import Actor as Actor
from actors._clock import Clock as Clock
from actors._clock import MonotonicClock as MonotonicClock
from actors._clock import get_clock as get_clock
from actors._clock import set_clock as set_clock
from actors._clock import sleep as sleep
from actors._exceptions import ActorError as ActorError
from actors._exceptions import CallTimeout as CallTimeout
from actors._exceptions import NameTaken as NameTaken
from actors._exceptions import NoProc as NoProc
from actors._exceptions import StartError as StartError
from actors._messages import Down as Down
from actors._messages import Exit as Exit
from actors._messages import format_reason as format_reason
from actors._messages import is_clean as is_clean
from actors._messages import is_shutdown as is_shutdown
from actors._process import ActorStatistics as ActorStatistics
from actors._ref import NO_REPLY as NO_REPLY
from actors._ref import ActorRef as ActorRef
from actors._ref import Caller as Caller
from actors._spawn import spawn as spawn
from actors._spawn import whereis as whereis

__all__ = (
    "NO_REPLY",
    "Actor",
    "ActorError",
    "ActorRef",
    "ActorStatistics",
    "CallTimeout",
    "Caller",
    "Clock",
    "Down",
    "Exit",
    "MonotonicClock",
    "NameTaken",
    "NoProc",
    "StartError",
    "format_reason",
    "get_clock",
    "is_clean",
    "is_shutdown",
    "set_clock",
    "sleep",
    "spawn",
    "whereis",
)

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("actors._"):
        try:
            _obj.__module__ = "actors"
        except (AttributeError, TypeError):
            pass
