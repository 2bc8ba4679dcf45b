"""OTP supervision on top of ``actors``: supervisors restart children when they exit.

Layering: ``supervisors`` imports only the public API of ``actors`` and nothing from
``flowstone``. See docs/supervisors.md for a guide and docs/adr/0002-0004 for decisions.

Module map:
    _supervisor.py   Supervisor: static children, one_for_one / one_for_all / rest_for_one
    _dynamic.py      DynamicSupervisor: children on demand, max_children, parallel shutdown
    _supervision.py  what both share: exit handling, restart table, retries, start/stop one
    _ref.py          SupervisorRef, DynamicSupervisorRef: child administration calls
    _child_spec.py   ChildSpec and its validation;  _child.py  Child (which_children), Entry
    _intensity.py    RestartIntensity: the sliding restart window;  _backoff.py  Backoff
    _shutdown.py     stopping children per their shutdown;  _options.py  option checks
    _requests.py     call messages;  _statistics.py  SupervisorStatistics;  _exceptions.py
    _lookup.py       whereis(name): a registered supervisor as its SupervisorRef
"""

from supervisors._backoff import Backoff as Backoff
from supervisors._child import Child as Child
from supervisors._child_spec import ChildSpec as ChildSpec
from supervisors._dynamic import DynamicSupervisor as DynamicSupervisor
from supervisors._exceptions import AlreadyPresent as AlreadyPresent
from supervisors._exceptions import AlreadyStarted as AlreadyStarted
from supervisors._exceptions import InvalidSpec as InvalidSpec
from supervisors._exceptions import MaxChildren as MaxChildren
from supervisors._exceptions import NotFound as NotFound
from supervisors._exceptions import Restarting as Restarting
from supervisors._exceptions import Running as Running
from supervisors._exceptions import StartError as StartError
from supervisors._exceptions import SupervisorError as SupervisorError
from supervisors._lookup import whereis as whereis
from supervisors._ref import DynamicSupervisorRef as DynamicSupervisorRef
from supervisors._ref import SupervisorRef as SupervisorRef
from supervisors._statistics import SupervisorStatistics as SupervisorStatistics
from supervisors._supervisor import Supervisor as Supervisor

__all__ = (
    "AlreadyPresent",
    "AlreadyStarted",
    "Backoff",
    "Child",
    "ChildSpec",
    "DynamicSupervisor",
    "DynamicSupervisorRef",
    "InvalidSpec",
    "MaxChildren",
    "NotFound",
    "Restarting",
    "Running",
    "StartError",
    "Supervisor",
    "SupervisorError",
    "SupervisorRef",
    "SupervisorStatistics",
    "whereis",
)


def _fix_module_names() -> None:
    # Reprs and tracebacks should read `supervisors.ChildSpec`, not `supervisors._child_spec`.
    for name in __all__:
        obj = globals()[name]
        if callable(obj) and obj.__module__.startswith("supervisors._"):
            obj.__module__ = "supervisors"


_fix_module_names()
del _fix_module_names
