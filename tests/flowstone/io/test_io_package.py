"""The flowstone.io package: every manager exported, the heavy ones imported on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import flowstone.io


def test_all_lists_exactly_the_public_names() -> None:
    assert isinstance(flowstone.io.__all__, tuple)
    assert sorted(flowstone.io.__all__) == dir(flowstone.io)
    for name in flowstone.io.__all__:
        if name != "PostgresIOManager" or _has_module("flowstone.io._postgres"):
            assert getattr(flowstone.io, name).__name__ == name


def test_the_object_storage_managers_are_imported_only_when_used() -> None:
    probe = (
        "import sys, flowstone.io as io\n"
        "before = 'flowstone.io._s3' in sys.modules\n"
        "io.S3IOManager\n"
        "print(before, 'flowstone.io._s3' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"^module 'flowstone.io' has no attribute 'Nope'$"):
        flowstone.io.Nope  # noqa: B018 - the attribute access is the test


def _has_module(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None
