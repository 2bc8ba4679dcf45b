"""Supervisor options: each invalid value refused before anything starts, with its name."""

from __future__ import annotations

from typing import Any

import pytest

from actors.testing import live_actors
from supervisors import DynamicSupervisor, InvalidSpec, Supervisor
from tests.supervisors.lab import Lab


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("strategy", "none_for_one", "one of 'one_for_one', 'one_for_all', 'rest_for_one'"),
        ("max_restarts", -1, "an int >= 0"),
        ("max_restarts", float("inf"), "an int >= 0"),
        ("max_restarts", 1.5, "an int >= 0"),
        ("max_restarts", True, "an int >= 0"),
        ("max_seconds", 0, "a finite number of seconds > 0"),
        ("max_seconds", -5, "a finite number of seconds > 0"),
        ("max_seconds", float("inf"), "a finite number of seconds > 0"),
        ("max_seconds", "5", "a finite number of seconds > 0"),
        ("auto_shutdown", "sometimes", "one of 'never', 'any_significant', 'all_significant'"),
        ("name", "", "None or a non-empty str"),
        ("name", 42, "None or a non-empty str"),
    ],
)
async def test_an_invalid_supervisor_option_is_refused_naming_it(
    option: str, value: Any, allowed: str
) -> None:
    """Behaviours 19 and 68: OTP's {supervisor_data, {invalid_*, X}}."""
    with pytest.raises(InvalidSpec) as caught:
        await Supervisor.start([], **{option: value})
    assert str(caught.value) == (
        f"invalid Supervisor.start() options: {option}={value!r} is not valid; expected {allowed}"
    )
    assert live_actors() == []


async def test_simple_one_for_one_is_refused_with_a_pointer_to_dynamic_supervisor() -> None:
    with pytest.raises(InvalidSpec, match=r"belong under a DynamicSupervisor$"):
        await Supervisor.start([], strategy="simple_one_for_one")


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_children", -1), ("max_children", 2.0), ("max_restarts", -1), ("max_seconds", 0)],
)
async def test_an_invalid_dynamic_supervisor_option_is_refused(option: str, value: Any) -> None:
    """Behaviour 68: max_children -1, intensity -1, period 0."""
    with pytest.raises(
        InvalidSpec, match=rf"^invalid DynamicSupervisor.start\(\) options: {option}="
    ):
        await DynamicSupervisor.start(**{option: value})


async def test_duplicate_child_ids_are_refused_naming_the_id(lab: Lab) -> None:
    """Behaviour 16: duplicate_child_name."""
    with pytest.raises(InvalidSpec, match="the id 'a' is used more than once") as caught:
        await Supervisor.start([lab.spec("a"), lab.spec("b"), lab.spec("a")])
    assert caught.value.child_id == "a"
    assert lab.starts == {}


@pytest.mark.parametrize("children", ["abc", {"a": 1}, 42, [42]], ids=repr)
async def test_children_that_are_not_a_list_of_specs_are_refused(children: Any) -> None:
    """Behaviours 15 and 16: a non-spec term, a non-list argument (badarg)."""
    with pytest.raises(InvalidSpec, match=r"expected (a list of ChildSpec|ChildSpec items)"):
        await Supervisor.start(children)


async def test_a_single_spec_instead_of_a_list_gets_a_hint(lab: Lab) -> None:
    with pytest.raises(InvalidSpec, match=r"wrap it in a list: \[spec\]"):
        await Supervisor.start(lab.spec("a"))  # type: ignore[arg-type]


async def test_elixir_defaults_are_three_restarts_in_five_seconds() -> None:
    """Behaviour 67: Supervisor defaults."""
    sup = await Supervisor.start([])
    stats = sup.statistics()
    assert (stats.strategy, stats.max_restarts, stats.max_seconds) == ("one_for_one", 3, 5.0)
    await sup.stop("shutdown")


async def test_children_may_be_given_as_any_iterable(lab: Lab) -> None:
    sup = await Supervisor.start(lab.spec(i) for i in "ab")
    assert [c.id for c in await sup.which_children()] == ["a", "b"]
    await sup.stop("shutdown")
