"""The event loops FlowStone creates for itself: uvloop's when installed, else asyncio's.

The blocking ``Runtime`` and the daemons own their loop, so they choose it. uvloop runs the
loop's own bookkeeping (scheduling callbacks, polling) in compiled code; a materialization
makes about a dozen loop callbacks, so that is 6–17 % of the engine's time per asset in
memory (docs/benchmarks.md, ADR 0023). ``FLOWSTONE_EVENT_LOOP`` chooses: ``auto`` (the
default: uvloop when importable), ``uvloop`` (its absence is an error) or ``asyncio``. An
``AsyncRuntime`` runs on its caller's loop and never changes it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from flowstone.errors import ConfigurationError

_CHOICES = ("auto", "uvloop", "asyncio")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """Return the constructor of the loops FlowStone creates (see the module docstring).

    Raises:
        ConfigurationError: ``FLOWSTONE_EVENT_LOOP`` names no known loop, or asks for uvloop
            where it is not installed.
    """
    choice = os.environ.get("FLOWSTONE_EVENT_LOOP", "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise ConfigurationError(
            f"FLOWSTONE_EVENT_LOOP={choice!r} is not a known event loop; expected one of "
            f"{', '.join(_CHOICES)} (unset it for the default, auto)"
        )
    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigurationError(
                "FLOWSTONE_EVENT_LOOP=uvloop, but uvloop is not installed; "
                "pip install uvloop, or unset FLOWSTONE_EVENT_LOOP"
            ) from None
        return asyncio.new_event_loop
    new_loop: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return new_loop
