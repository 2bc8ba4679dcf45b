"""Crash points for the kill tests (as Dagster's ``_check_for_debug_crash``).

Internal. When ``FLOWSTONE_TEST_CRASH_AT`` names a point, the process kills itself with
SIGKILL the first time it reaches that point: no cleanup, no flush, exactly like a
``kill -9`` at the worst moment. Unset (always, outside the tests) it costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = ("tick_claimed", "run_created", "run_claimed", "run_started")


def crash_point(name: str) -> None:
    """Die here if the environment asks for it."""
    if os.environ.get("FLOWSTONE_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
