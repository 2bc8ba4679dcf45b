"""The CLI says which Ray worker raised an error (node address and pid), for a failed run
and in `flowstone materializations`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowstone.cli import cli
from tests.ray.conftest import HERE, LocalRay

pytestmark = pytest.mark.ray

WHERE = re.compile(r"\(raised in Ray worker pid \d+ on [0-9.]+\)")


@pytest.fixture
def ray_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ray_cluster: LocalRay) -> Path:
    """A project on the pipeline of ray_cli_pipeline.py; this process's Ray session is
    the module's local cluster, which the runtime then uses."""
    (tmp_path / "flowstone.toml").write_text(
        "[flowstone]\n"
        'pipeline = "ray_cli_pipeline:pipeline"\n'
        f'python_path = ["{HERE}"]\n'
        'base_dir = ".flowstone"\n'
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_a_failed_run_names_the_ray_worker_that_raised(ray_project: Path) -> None:
    code, out = run("materialize", "exported")
    assert code == 1
    assert "PermissionError: s3://reports/exported.pkl: AccessDenied (no credentials)" in out
    assert WHERE.search(out), out


def test_materializations_name_the_ray_worker_of_a_failed_attempt(ray_project: Path) -> None:
    run("materialize", "exported")
    code, out = run("materializations", "exported")
    assert code == 0, out
    line = next(line for line in out.splitlines() if "✗" in line)
    assert "PermissionError: s3://reports/exported.pkl" in line
    assert WHERE.search(line), line
