"""Missing services skip tests on a developer's machine and fail them where required."""

from __future__ import annotations

import os
import subprocess
import sys
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


PROBE = """
import pytest

pytestmark = pytest.mark.postgres


def test_needs_a_library() -> None:
    pytest.importorskip("no_such_module_for_this_probe")


def test_plain() -> None:
    pass
"""


def run_probe(tmp_path: Path, required: bool) -> subprocess.CompletedProcess[str]:
    """Run a marked test that skips, under the suite's own report hook, in a fresh pytest."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_runtest_makereport  # noqa: F401\n"
        "def pytest_configure(config):\n"
        "    config.addinivalue_line('markers', 'postgres: needs PostgreSQL')\n"
    )
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(REQUIRE_ENV, None)
    if required:
        env[REQUIRE_ENV] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_any_skip_of_a_service_test_fails_where_services_are_required(tmp_path: Path) -> None:
    relaxed = run_probe(tmp_path, required=False)
    assert "1 passed, 1 skipped" in relaxed.stdout, relaxed.stdout
    strict = run_probe(tmp_path, required=True)
    assert strict.returncode == 1
    assert "1 failed, 1 passed" in strict.stdout, strict.stdout
    assert "a postgres test skipped" in strict.stdout
