"""Pipeline and the @pipeline.asset decorator: what a definition records."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

import flowstone as fs

Sample = Callable[[str], ModuleType]


def test_a_bare_decorator_names_the_asset_after_the_function() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset
    def raw_events(context: Any) -> int:
        return 1

    assert list(pipeline.assets) == ["raw_events"]
    assert pipeline.get("raw_events") is raw_events
    assert raw_events.name == "raw_events"
    assert raw_events.deps == ()


def test_the_decorator_records_every_option() -> None:
    pipeline = fs.Pipeline("p")
    retry = fs.RetryPolicy(max_retries=3)
    ray = fs.RayOptions(num_cpus=2)
    info = fs.AssetInfo(
        metadata={"sla_hours": 6},
        tags={"tier": "gold"},
        owners=["data@example.com"],
        group="reports",
        code_version="7",
    )

    @pipeline.asset(
        depends_on=["a", fs.Dep("b")],
        io_manager="memory",
        io_options={"table": "t"},
        description="The report.",
        info=info,
        retry=retry,
        timeout=30,
        executor="ray",
        ray_options=ray,
        resources=["db", "cache", "db"],
    )
    def report(context: Any, a: int, b: int) -> int:
        return a + b

    assert report.dep_names() == ("a", "b")
    assert report.deps == (fs.Dep("a"), fs.Dep("b"))
    assert (report.io_manager, dict(report.io_options)) == ("memory", {"table": "t"})
    assert report.description == "The report."
    assert dict(report.metadata) == {"sla_hours": 6}
    assert dict(report.tags) == {"tier": "gold"}
    assert report.owners == ("data@example.com",)
    assert (report.group, report.code_version) == ("reports", "7")
    assert report.info == info
    assert (report.retry, report.timeout) == (retry, 30.0)
    assert (report.executor, report.ray_options) == ("ray", ray)
    assert report.resources == ("db", "cache")
    assert report.is_async is False
    assert report.pipeline is pipeline


def test_defaults_are_the_fs_manager_the_local_executor_and_no_retries() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset()
    def plain(context: Any) -> None:
        return None

    assert (plain.io_manager, plain.executor, plain.retry, plain.timeout) == (
        "fs",
        "local",
        None,
        None,
    )
    assert (plain.partitions, plain.ray_options, plain.resources) == (None, None, ())
    assert (plain.group, plain.code_version, plain.owners) == ("default", None, ())
    assert dict(plain.io_options) == {}
    assert dict(plain.metadata) == {}


def test_the_description_defaults_to_the_docstring() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset
    def documented(context: Any) -> None:
        """Events cleaned of duplicates.

        Keeps the first of each id.
        """

    assert documented.description == "Events cleaned of duplicates.\n\nKeeps the first of each id."


def test_async_functions_are_recognised() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset
    async def fetched(context: Any) -> int:
        return 1

    assert fetched.is_async is True


def test_the_definition_calls_the_function_so_assets_unit_test_as_functions() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset(depends_on=["raw"])
    def doubled(context: Any, raw: list[int]) -> list[int]:
        return [n * 2 for n in raw]

    assert doubled(None, raw=[1, 2]) == [2, 4]


def test_file_and_line_point_at_the_def_below_the_decorators(sample: Sample) -> None:
    module = sample("broken_assets")
    assert module.pipeline.get("typo").file == module.__file__
    assert module.pipeline.get("typo").line == 18
    # a decorator spread over several lines
    assert module.pipeline.get("misconfigured").line == 46
    assert module.pipeline.get("misconfigured").location == f"{module.__file__}:46"


def test_assets_made_in_a_loop_by_a_factory_are_all_recorded(sample: Sample) -> None:
    module = sample("factory_assets")
    pipeline = module.pipeline
    assert list(pipeline.assets) == ["raw", "shard_0", "shard_1", "shard_2", "total"]
    assert pipeline.get("total").dep_names() == ("shard_0", "shard_1", "shard_2")
    assert pipeline.get("shard_2")(None, raw=list(range(6))) == [2, 5]
    pipeline.validate()


def test_assets_keep_definition_order_and_forward_references_are_allowed() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset(depends_on=["later"])
    def first(context: Any, later: int) -> int:
        return later

    @pipeline.asset
    def later(context: Any) -> int:
        return 1

    assert list(pipeline.assets) == ["first", "later"]
    assert pipeline.validate().topological_order() == ["later", "first"]


def test_the_assets_mapping_is_read_only() -> None:
    pipeline = fs.Pipeline("p")
    with pytest.raises(TypeError):
        pipeline.assets["x"] = None  # type: ignore[index]


def test_get_of_an_unknown_asset_suggests_the_closest_names() -> None:
    pipeline = fs.Pipeline("analytics")

    @pipeline.asset
    def raw_events(context: Any) -> None:
        return None

    with pytest.raises(fs.AssetNotFound) as caught:
        pipeline.get("raw_event")
    assert str(caught.value) == (
        "unknown asset 'raw_event' in pipeline 'analytics'; did you mean 'raw_events'?"
    )
    assert isinstance(caught.value, LookupError)


def test_membership_length_and_repr() -> None:
    pipeline = fs.Pipeline("analytics-v2")

    @pipeline.asset
    def one(context: Any) -> None:
        return None

    assert "one" in pipeline
    assert "two" not in pipeline
    assert len(pipeline) == 1
    assert repr(pipeline) == "<Pipeline 'analytics-v2': 1 asset>"
    assert repr(one) == f"<AssetDefinition 'one' deps=[] at {one.location}>"


def test_callable_objects_and_explicit_names_are_accepted() -> None:
    pipeline = fs.Pipeline("p")

    class Loader:
        def __call__(self, context: Any) -> int:
            return 3

    loaded = pipeline.asset(name="loaded")(Loader())
    assert loaded(None) == 3
    assert loaded.line == Loader.__call__.__code__.co_firstlineno
