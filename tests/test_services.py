"""Missing services skip tests on a developer's machine and fail them where required."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services import REQUIRE_ENV, require_module, unavailable

ROOT = Path(__file__).resolve().parent.parent


def test_a_missing_service_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is not reachable"):
        unavailable("PostgreSQL is not reachable")


def test_a_missing_service_fails_when_services_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="FLOWSTONE_REQUIRE_SERVICES is set"):
        unavailable("PostgreSQL is not reachable")


def test_a_missing_module_fails_when_services_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="cannot import no_such_ray_module"):
        require_module("no_such_ray_module", "Ray is not installed")


def test_ci_requires_the_services_and_starts_them_first() -> None:
    """`.ci/run` exports the variable for `make test`, whose services step runs first."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"export {REQUIRE_ENV}=1" in ci
    test_target = next(
        line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("test:")
    )
    steps = test_target.split(":", 1)[1].split()
    assert steps.index("services") < steps.index("pytest")
