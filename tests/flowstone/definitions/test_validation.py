"""Pipeline.validate on pipelines that are (nearly) right: what passes, and what is checked
only when the runtime's io managers and resources are given."""

from __future__ import annotations

from typing import Any

import pytest

import flowstone as fs
from flowstone.testing import memory_runtime


def test_a_factory_taking_keyword_inputs_satisfies_any_depends_on() -> None:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="a")(lambda context: 1)
    pipeline.asset(name="b")(lambda context: 2)

    @pipeline.asset(depends_on=["a", "b"])
    def total(context: Any, a: int, **others: int) -> int:
        return a + sum(others.values())

    assert pipeline.validate().parents("total") == ("a", "b")


def test_parameters_may_come_in_any_order_and_be_keyword_only() -> None:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="a")(lambda context: 1)
    pipeline.asset(name="b")(lambda context: 2)

    received: dict[str, int] = {}

    @pipeline.asset(depends_on=["a", "b"])
    def total(context: Any, *, b: int, a: int) -> int:
        received.update(a=a, b=b)
        return a + b

    assert pipeline.validate().parents("total") == ("a", "b")
    with memory_runtime(pipeline) as rt:
        run = rt.materialize_all("total")
    assert run.success
    assert received == {"a": 1, "b": 2}  # each input reaches its parameter by name


def test_io_managers_and_resources_are_checked_only_when_given() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset(io_manager="lake", io_options={"anything": 1}, resources=["db"])
    def stored(context: Any) -> None:
        return None

    assert list(pipeline.validate().assets) == ["stored"]
    with pytest.raises(fs.DefinitionError):
        pipeline.validate(io_managers={"fs": fs.io.MemoryIOManager()})
    with pytest.raises(fs.DefinitionError):
        pipeline.validate(resources={})


def test_a_pipeline_with_known_managers_options_and_resources_validates() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset(io_options={"format": "json", "path": "{asset}.{ext}"}, resources=["db"])
    def stored(context: Any) -> None:
        return None

    @pipeline.asset(executor="ray", ray_options=fs.RayOptions(num_gpus=1), io_manager="memory")
    def trained(context: Any) -> None:
        return None

    graph = pipeline.validate(
        io_managers={
            "fs": fs.io.FilesystemIOManager("/tmp/unused"),
            "memory": fs.io.MemoryIOManager(),
        },
        resources={"db": object()},
    )
    assert graph.io_options("stored") == fs.io.FilesystemOptions(
        format="json", path="{asset}.{ext}"
    )
    assert graph.io_options("trained") == fs.io.IOOptions()


def test_a_name_defined_three_times_reports_both_later_places() -> None:
    pipeline = fs.Pipeline("p")
    first = pipeline.asset(name="x")(lambda context: 1)
    pipeline.asset(name="x")(lambda context: 2)
    pipeline.asset(name="x")(lambda context: 3)
    with pytest.raises(fs.DefinitionError) as caught:
        pipeline.validate()
    assert [p.message for p in caught.value.problems] == [
        f"duplicate asset name, also defined at {first.location}; "
        "rename one of them with name='...'"
    ] * 2
    assert pipeline.get("x") is first
    assert len(pipeline.definitions) == 3


def test_validation_errors_are_value_errors_with_structured_problems() -> None:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="x", depends_on=["y"])(lambda context, y: 1)
    with pytest.raises(ValueError) as caught:
        pipeline.validate()
    assert isinstance(caught.value, fs.DefinitionError)
    (problem,) = caught.value.problems
    assert (problem.asset, problem.line) == ("x", pipeline.get("x").line)
