"""Fixtures of the CLI tests: a project folder with a pipeline module and a flowstone.toml."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flowstone.cli.project import PIPELINE, write_project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project folder with a pipeline module and a flowstone.toml; cwd is a subfolder."""
    module = write_project(tmp_path, PIPELINE)
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)  # the config is found by searching upwards
    yield tmp_path
    sys.modules.pop(module, None)
