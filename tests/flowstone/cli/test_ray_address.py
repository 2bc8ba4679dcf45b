"""The Ray address comes from --ray-address, FLOWSTONE_RAY_ADDRESS or flowstone.toml, and
overrides the one a `runtime =` hook returns; nothing connects to Ray until a Ray asset runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flowstone.cli._config import load_settings
from flowstone.cli._state import State


def ray_address(project: Path, option: str | None = None) -> object:
    state = State(load_settings(None, {"ray_address": option}), as_json=False)
    with state.runtime(read_only=False) as rt:
        return rt.aio.ray_address


def test_the_default_is_a_local_ray(project: Path) -> None:
    assert ray_address(project) is None


def test_flowstone_toml_names_the_cluster(project: Path) -> None:
    config = project / "flowstone.toml"
    config.write_text(config.read_text() + 'ray_address = "ray://head:10001"\n')
    assert ray_address(project) == "ray://head:10001"


def test_the_environment_and_the_option_override_the_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = project / "flowstone.toml"
    config.write_text(config.read_text() + 'ray_address = "ray://head:10001"\n')
    monkeypatch.setenv("FLOWSTONE_RAY_ADDRESS", "auto")
    assert ray_address(project) == "auto"
    assert ray_address(project, "10.0.0.5:6379") == "10.0.0.5:6379"


def test_the_option_overrides_a_runtime_hook(project: Path) -> None:
    hook = project / "ray_hook.py"
    hook.write_text("def runtime():\n    return {'ray_address': 'ray://from-hook:10001'}\n")
    config = project / "flowstone.toml"
    config.write_text(config.read_text() + 'runtime = "ray_hook:runtime"\n')
    try:
        assert ray_address(project) == "ray://from-hook:10001"
        assert ray_address(project, "auto") == "auto"
    finally:
        sys.modules.pop("ray_hook", None)
