"""Skip or fail when a service the tests need (PostgreSQL, Ray, the moto S3 server) is
missing.

On a developer's machine a missing service skips the tests that need it, with the reason.
Where ``FLOWSTONE_REQUIRE_SERVICES=1`` (``.ci/run`` sets it), the same tests fail instead:
a suite that skips its PostgreSQL, S3 or Ray tests must not pass in CI.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

REQUIRE_ENV = "FLOWSTONE_REQUIRE_SERVICES"


def services_required() -> bool:
    """True when missing services must fail the tests (read at each call)."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test, or fail it when services are required."""
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set: this run requires it)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)  # also usable at a module's top level


def require_module(name: str, what: str) -> ModuleType:
    """Import ``name`` (e.g. ``"ray"``) or declare ``what`` unavailable."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        unavailable(f"{what}: cannot import {name} ({exc}); install: pip install -e '.[dev]'")
