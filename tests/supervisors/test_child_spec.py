"""ChildSpec: defaults as OTP fills them in, and every invalid field refused when built."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import actors
import supervisors
from supervisors import Backoff, ChildSpec, InvalidSpec


async def _start() -> actors.ActorRef | None:
    return None


def test_a_spec_gets_otp_defaults_permanent_worker_with_five_seconds_to_stop() -> None:
    """Behaviour 13: restart permanent, type worker, shutdown 5 s for a worker."""
    spec = ChildSpec("db", _start)
    assert (spec.restart, spec.type, spec.shutdown, spec.significant) == (
        "permanent",
        "worker",
        5.0,
        False,
    )
    assert spec.backoff is None


def test_a_supervisor_spec_waits_forever_for_its_child_to_stop_by_default() -> None:
    """Behaviour 13: the shutdown default of a supervisor child is infinity."""
    assert ChildSpec("sub", _start, type="supervisor").shutdown == "infinity"


def test_an_infinite_float_shutdown_means_infinity() -> None:
    assert ChildSpec("db", _start, shutdown=float("inf")).shutdown == "infinity"


def test_every_combination_of_valid_restart_shutdown_and_type_is_accepted() -> None:
    """Behaviour 17 (combinatorial): all valid values combine."""
    for restart, shutdown, kind in itertools.product(
        ("permanent", "transient", "temporary"),
        ("brutal_kill", "infinity", 0, 2.5, None),
        ("worker", "supervisor"),
    ):
        spec = ChildSpec("c", _start, restart=restart, shutdown=shutdown, type=kind)  # type: ignore[arg-type]
        assert (spec.restart, spec.type) == (restart, kind)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("restart", "sometimes", "one of 'permanent', 'transient', 'temporary'"),
        ("type", "manager", "one of 'worker', 'supervisor'"),
        ("shutdown", -1, 'a number of seconds >= 0, "brutal_kill", "infinity" or None'),
        ("shutdown", "later", 'a number of seconds >= 0, "brutal_kill", "infinity" or None'),
        ("shutdown", True, 'a number of seconds >= 0, "brutal_kill", "infinity" or None'),
        ("significant", "yes", "True or False"),
        ("backoff", 3, "None or a supervisors.Backoff"),
    ],
)
def test_an_invalid_field_is_refused_with_its_name_value_and_the_allowed_values(
    field: str, value: Any, allowed: str
) -> None:
    """Behaviours 16 and 70: invalid restart type, child type, shutdown, significant."""
    with pytest.raises(InvalidSpec) as caught:
        ChildSpec("db", _start, **{field: value})
    message = str(caught.value)
    assert message.startswith(f"invalid ChildSpec 'db': {field}={value!r} is not valid; ")
    assert allowed in message
    assert (caught.value.field, caught.value.value, caught.value.child_id) == (field, value, "db")


def test_an_invalid_spec_is_both_a_supervisor_error_and_a_value_error() -> None:
    with pytest.raises(ValueError, match="restart='never'") as caught:
        ChildSpec("db", _start, restart="never")  # type: ignore[arg-type]
    assert isinstance(caught.value, supervisors.SupervisorError)


def test_a_start_that_is_not_callable_is_refused() -> None:
    """Behaviour 16: OTP's invalid_mfa."""
    with pytest.raises(InvalidSpec, match=r"^invalid ChildSpec 'db': start=42 is not valid; "):
        ChildSpec("db", 42)  # type: ignore[arg-type]


def test_a_coroutine_passed_as_start_is_refused_with_the_right_call_shown() -> None:
    coroutine = _start()
    with pytest.raises(InvalidSpec, match=r"start=lambda: actors.spawn\(Worker\)"):
        ChildSpec("db", coroutine)  # type: ignore[arg-type]


def test_an_unhashable_id_is_refused() -> None:
    with pytest.raises(InvalidSpec, match=r"id=\['a'\] is not valid; expected a hashable value"):
        ChildSpec(["a"], _start)


def test_a_significant_permanent_child_is_a_bad_combination() -> None:
    """Behaviour 17: significant with restart permanent (the default) is refused."""
    with pytest.raises(InvalidSpec, match="a permanent child is always restarted"):
        ChildSpec("db", _start, significant=True)
    assert ChildSpec("db", _start, restart="transient", significant=True).significant


def test_a_spec_is_frozen_and_compares_by_value() -> None:
    spec = ChildSpec("db", _start, backoff=Backoff(jitter=0))
    assert spec == ChildSpec("db", _start, backoff=Backoff(jitter=0))
    with pytest.raises(AttributeError):
        spec.restart = "temporary"  # type: ignore[misc]
    assert repr(spec).startswith("ChildSpec(id='db', start=<function _start")
