"""Fixtures of the definition tests: fresh imports of the sample DAG modules."""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
_fresh = itertools.count()


def load_sample(name: str) -> ModuleType:
    """Import ``tests/resources/<name>.py`` afresh (a new module, so a new pipeline)."""
    path = RESOURCES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"sample_{name}_{next(_fresh)}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sample() -> Callable[[str], ModuleType]:
    """Import a sample DAG module from tests/resources by name."""
    return load_sample
