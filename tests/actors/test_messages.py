"""Exit and Down messages, and the exit-reason helpers."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import actors


@pytest.mark.parametrize(
    ("reason", "shutdown", "clean"),
    [
        ("normal", False, True),
        ("shutdown", True, True),
        (("shutdown", {"why": "deploy"}), True, True),
        (("shutdown", 1, 2), False, False),
        ("killed", False, False),
        ("noproc", False, False),
        (ValueError("boom"), False, False),
        (None, False, False),
    ],
)
def test_clean_reasons_are_normal_shutdown_and_shutdown_with_info(
    reason: Any, shutdown: bool, clean: bool
) -> None:
    assert actors.is_shutdown(reason) is shutdown
    assert actors.is_clean(reason) is clean


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("normal", "'normal'"),
        (("shutdown", "bye"), "('shutdown', 'bye')"),
        (ValueError("boom"), "ValueError: boom"),
        (KeyError("k"), "KeyError: 'k'"),
        (RuntimeError(), "RuntimeError"),
    ],
)
def test_format_reason_renders_strings_as_repr_and_exceptions_as_type_and_text(
    reason: Any, text: str
) -> None:
    assert actors.format_reason(reason) == text


def test_exit_and_down_are_frozen_value_objects() -> None:
    exit_ = actors.Exit(ref=None, reason="normal")  # type: ignore[arg-type]
    down = actors.Down(monitor_id=1, ref=None, reason="normal")  # type: ignore[arg-type]
    assert exit_ == actors.Exit(None, "normal")  # type: ignore[arg-type]
    assert down == actors.Down(1, None, "normal")  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        exit_.reason = "changed"  # type: ignore[misc]
    assert repr(down) == "Down(monitor_id=1, ref=None, reason='normal')"
