"""Every DefinitionError message, pinned word for word.

Decoration-time problems (visible from one asset alone) are raised by the decorator;
whole-pipeline problems by ``Pipeline.validate``. Each message says what was found and
how to fix it, prefixed by the file and line of the asset's ``def``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

import flowstone as fs

Sample = Callable[[str], ModuleType]


def problems_of(pipeline: fs.Pipeline, **validate_args: Any) -> list[str]:
    """The problem lines of ``pipeline.validate(...)`` (file and line prefix included)."""
    with pytest.raises(fs.DefinitionError) as caught:
        pipeline.validate(**validate_args)
    return [str(p) for p in caught.value.problems]


def decoration_error(fn: Callable[..., Any], **options: Any) -> fs.DefinitionError:
    """The error of ``fs.Pipeline("p").asset(**options)(fn)``."""
    with pytest.raises(fs.DefinitionError) as caught:
        fs.Pipeline("p").asset(**options)(fn)
    return caught.value


def at(fn: Callable[..., Any], name: str | None = None) -> str:
    """The ``file:line: asset 'name': `` prefix of problems about the undecorated ``fn``."""
    code = fn.__code__
    return f"{code.co_filename}:{code.co_firstlineno}: asset {name or fn.__name__!r}: "


class Raiser(fs.io.IOManager):
    """An I/O manager whose option check fails with a plain exception."""

    def validate_options(self, options: Any) -> fs.io.IOOptions:
        raise RuntimeError("table names must be lower case")


# -- whole-pipeline problems --------------------------------------------------------------


def test_validation_lists_every_problem_at_once_with_file_and_line(sample: Sample) -> None:
    module = sample("broken_assets")
    managers = {
        "fs": fs.io.FilesystemIOManager("/tmp/unused"),
        "memory": fs.io.MemoryIOManager(),
        "parquet": fs.io.MemoryIOManager(),
    }
    with pytest.raises(fs.DefinitionError) as caught:
        module.pipeline.validate(io_managers=managers, resources={"cache": object()})
    f = module.__file__
    assert str(caught.value) == (
        "10 problems in the pipeline definition:\n"
        f"  - {f}:18: asset 'typo': depends on unknown asset 'raw_event'; "
        "did you mean 'raw_events'?\n"
        f"  - {f}:23: asset 'narcissus': depends on itself; remove 'narcissus' from depends_on\n"
        f"  - {f}:28: asset 'mismatched': the parameters after context must be the names in "
        "depends_on: missing parameter 'raw_events'; unexpected parameter 'events'; "
        "expected def mismatched(context, raw_events)\n"
        f"  - {f}:33: asset 'raw_events': duplicate asset name, also defined at {f}:13; "
        "rename one of them with name='...'\n"
        f"  - {f}:38: asset 'misexecuted': unknown executor 'rey'; "
        "known executors: 'local', 'ray'\n"
        f"  - {f}:46: asset 'misconfigured': unknown io_manager 'parket' "
        "(did you mean 'parquet'?); known io managers: 'fs', 'memory', 'parquet'\n"
        f"  - {f}:46: asset 'misconfigured': requires resource 'warehouse', which is not "
        "provided; provided resources: 'cache'\n"
        f"  - {f}:51: asset 'misformatted': io_options for io_manager 'fs' "
        "(FilesystemIOManager): format: Input should be 'pickle' or 'json' (got 'csv')\n"
        f"  - {f}:51: asset 'misformatted': io_options for io_manager 'fs' "
        "(FilesystemIOManager): colour: unknown option; known options: format, path\n"
        f"  - {f}:56: asset 'pong': dependency cycle: pong -> ping -> pong (each asset depends "
        "on the one before it); remove one of these dependencies"
    )
    first = caught.value.problems[0]
    assert (first.asset, first.file, first.line) == ("typo", f, 18)


def test_a_cycle_is_shown_as_its_path_from_its_first_defined_asset(sample: Sample) -> None:
    module = sample("cyclic_assets")
    with pytest.raises(fs.DefinitionError) as caught:
        module.pipeline.validate()
    assert str(caught.value) == (
        f"{module.__file__}:13: asset 'alpha': dependency cycle: alpha -> beta -> gamma -> "
        "alpha (each asset depends on the one before it); remove one of these dependencies"
    )


def test_each_separate_cycle_is_reported() -> None:
    pipeline = fs.Pipeline("p")
    for name, dep in [("a", "b"), ("b", "a"), ("c", "d"), ("d", "e"), ("e", "c")]:
        pipeline.asset(name=name, depends_on=[dep])(lambda context, **inputs: None)
    with pytest.raises(fs.DefinitionError) as caught:
        pipeline.validate()
    messages = [p.message for p in caught.value.problems]
    assert messages == [
        "dependency cycle: a -> b -> a (each asset depends on the one before it); "
        "remove one of these dependencies",
        "dependency cycle: c -> e -> d -> c (each asset depends on the one before it); "
        "remove one of these dependencies",
    ]


def test_an_unknown_dependency_without_a_close_name_says_where_it_was_looked_for() -> None:
    pipeline = fs.Pipeline("analytics")

    @pipeline.asset(depends_on=["weather"])
    def report(context: Any, weather: Any) -> None:
        return None

    assert problems_of(pipeline) == [
        f"{report.location}: asset 'report': depends on unknown asset 'weather'; "
        "no asset of that name is defined in pipeline 'analytics'"
    ]


def test_parameters_that_are_not_dependencies_are_unexpected() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset
    async def lonely(context: Any, a: Any, b: Any = None) -> None:
        return None

    assert problems_of(pipeline) == [
        f"{lonely.location}: asset 'lonely': the parameters after context must be the names in "
        "depends_on: unexpected parameters 'a', 'b'; expected async def lonely(context)"
    ]


def test_positional_only_parameters_cannot_receive_inputs() -> None:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="up")(lambda context: 1)

    @pipeline.asset(depends_on=["up"])
    def down(context: Any, up: Any, /) -> None:
        return None

    assert problems_of(pipeline) == [
        f"{down.location}: asset 'down': the parameters after context must be the names in "
        "depends_on: missing parameter 'up'; positional-only parameter 'up' (inputs are "
        "passed by keyword); expected def down(context, up)"
    ]


def test_ray_options_without_the_ray_executor_are_refused() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset(ray_options=fs.RayOptions(num_gpus=1))
    def trained(context: Any) -> None:
        return None

    assert problems_of(pipeline) == [
        f"{trained.location}: asset 'trained': ray_options are given but the executor is "
        "'local'; add executor='ray' or remove ray_options"
    ]


def test_an_unknown_io_manager_lists_the_known_ones() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset(io_manager="warehouse")
    def stored(context: Any) -> None:
        return None

    assert problems_of(pipeline, io_managers={"fs": fs.io.MemoryIOManager()}) == [
        f"{stored.location}: asset 'stored': unknown io_manager 'warehouse'; "
        "known io managers: 'fs'"
    ]


def test_an_io_manager_whose_option_check_raises_is_reported_with_its_message() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset(io_manager="db", io_options={"table": "Events"})
    def stored(context: Any) -> None:
        return None

    assert problems_of(pipeline, io_managers={"db": Raiser()}) == [
        f"{stored.location}: asset 'stored': io_options for io_manager 'db' (Raiser): "
        "table names must be lower case"
    ]


def test_a_missing_resource_is_reported_when_none_are_provided() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset(resources=["db"])
    def queried(context: Any) -> None:
        return None

    assert problems_of(pipeline, resources={}) == [
        f"{queried.location}: asset 'queried': requires resource 'db', which is not provided; "
        "provided resources: (none)"
    ]


def test_a_misspelt_resource_gets_a_suggestion() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset(resources=["warehous"])
    def queried(context: Any) -> None:
        return None

    assert problems_of(pipeline, resources={"warehouse": object()}) == [
        f"{queried.location}: asset 'queried': requires resource 'warehous', which is not "
        "provided (did you mean 'warehouse'?); provided resources: 'warehouse'"
    ]


DAYS = fs.DailyPartitions(start="2024-01-01")
REGIONS = fs.StaticPartitions(["eu", "us"])


def test_an_unpartitioned_asset_over_a_partitioned_one_needs_a_mapping() -> None:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="days", partitioned_by=DAYS)(lambda context: 1)

    @pipeline.asset(depends_on=["days"])
    def total(context: Any, days: Any) -> None:
        return None

    assert problems_of(pipeline) == [
        f"{total.location}: asset 'total': dependency 'days': its partitions cannot be matched "
        "to this asset's without a mapping; this asset has no partitions and 'days' has daily "
        "partitions from 2024-01-01 (UTC); to read every partition of 'days', write "
        "fs.Dep('days', mapping=fs.AllPartitionsMapping()) in depends_on"
    ]


def test_a_multi_partitioned_asset_is_pointed_at_the_matching_dimension() -> None:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="days", partitioned_by=DAYS)(lambda context: 1)

    @pipeline.asset(
        depends_on=["days"], partitioned_by=fs.MultiPartitions({"region": REGIONS, "date": DAYS})
    )
    def by_region(context: Any, days: Any) -> None:
        return None

    assert problems_of(pipeline) == [
        f"{by_region.location}: asset 'by_region': dependency 'days': its partitions cannot be "
        "matched to this asset's without a mapping; this asset has multi partitions (region: "
        "static partitions ['eu', 'us'] × date: daily partitions from 2024-01-01 (UTC)) and "
        "'days' has daily partitions from 2024-01-01 (UTC); to read the partition of the same "
        "'date', write fs.Dep('days', mapping=fs.DimensionMapping('date')) in depends_on"
    ]


def test_unrelated_partitions_need_an_explicit_mapping() -> None:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="days", partitioned_by=DAYS)(lambda context: 1)

    @pipeline.asset(depends_on=["days"], partitioned_by=REGIONS)
    def regional(context: Any, days: Any) -> None:
        return None

    assert problems_of(pipeline) == [
        f"{regional.location}: asset 'regional': dependency 'days': its partitions cannot be "
        "matched to this asset's without a mapping; this asset has static partitions ['eu', "
        "'us'] and 'days' has daily partitions from 2024-01-01 (UTC); write "
        "fs.Dep('days', mapping=...) with a partition mapping in depends_on"
    ]


def test_an_explicit_mapping_that_does_not_fit_reports_the_mappings_own_reason() -> None:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="regions", partitioned_by=REGIONS)(lambda context: 1)

    @pipeline.asset(
        depends_on=[fs.Dep("regions", mapping=fs.TimeWindowMapping(-1, -1))], partitioned_by=DAYS
    )
    def shifted(context: Any, regions: Any) -> None:
        return None

    assert problems_of(pipeline) == [
        f"{shifted.location}: asset 'shifted': dependency 'regions': TimeWindowMapping needs "
        "time-window partitions on both sides; the upstream has static partitions ['eu', 'us']"
    ]


def test_matching_and_mapped_partitions_validate() -> None:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="days", partitioned_by=DAYS)(lambda context: 1)
    pipeline.asset(name="lookup")(lambda context: 1)
    pipeline.asset(name="daily", depends_on=["days", "lookup"], partitioned_by=DAYS)(
        lambda context, days, lookup: 1
    )
    pipeline.asset(
        name="yesterday",
        depends_on=[fs.Dep("days", mapping=fs.TimeWindowMapping(-1, -1))],
        partitioned_by=DAYS,
    )(lambda context, days: 1)
    pipeline.asset(name="total", depends_on=[fs.Dep("days", mapping=fs.AllPartitionsMapping())])(
        lambda context, days: 1
    )
    assert len(pipeline.validate()) == 5


# -- decoration-time problems -------------------------------------------------------------


def test_the_first_parameter_must_be_context() -> None:
    def load(ctx: Any) -> None:
        return None

    assert str(decoration_error(load)) == (
        at(load) + "the first parameter must be `context`, found 'ctx'; "
        "write def load(context, ...)"
    )


def test_a_function_without_parameters_is_refused() -> None:
    def load() -> None:
        return None

    assert str(decoration_error(load)) == (
        at(load) + "the first parameter must be `context`, found no parameters; "
        "write def load(context, ...)"
    )


def test_generator_functions_are_refused() -> None:
    def rows(context: Any) -> Iterator[int]:
        yield 1

    assert str(decoration_error(rows)) == (
        at(rows) + "an asset function must return its value, not yield it; "
        "replace yield with return"
    )


def test_depends_on_must_be_a_list_not_a_string() -> None:
    def clean(context: Any, raw: Any) -> None:
        return None

    assert str(decoration_error(clean, depends_on="raw")) == (
        at(clean) + "depends_on must be a list, got 'raw'; write depends_on=['raw']"
    )


def test_depends_on_entries_must_be_names_or_deps_and_unique() -> None:
    def clean(context: Any, **inputs: Any) -> None:
        return None

    error = decoration_error(clean, depends_on=["raw", 3, "not a name", fs.Dep("raw")])
    assert [p.message for p in error.problems] == [
        "depends_on entry 3 is not an asset name or fs.Dep",
        "depends_on entry 'not a name' is not an asset name or fs.Dep",
        "depends_on lists 'raw' twice",
    ]
    assert str(error).startswith("3 problems in the pipeline definition:\n  - " + at(clean))


def test_depends_on_of_another_type_is_refused() -> None:
    def clean(context: Any) -> None:
        return None

    assert str(decoration_error(clean, depends_on=3)) == (
        at(clean) + "depends_on must be a list of asset names or fs.Dep, got 3"
    )


def test_partitioned_by_must_be_a_partitions_definition() -> None:
    def daily(context: Any) -> None:
        return None

    assert str(decoration_error(daily, partitioned_by="daily")) == (
        at(daily) + "partitioned_by must be a partitions definition such as "
        "fs.DailyPartitions(start='2024-01-01'), got 'daily'"
    )


def test_invalid_names_are_refused() -> None:
    def clean(context: Any) -> None:
        return None

    assert str(decoration_error(clean, name="clean-events")) == (
        at(clean, "clean-events") + "name='clean-events' is not a valid asset name "
        "(letters, digits and underscores, not starting with a digit)"
    )
    anonymous = lambda context: None  # noqa: E731 - a lambda is the case under test
    assert str(decoration_error(anonymous)) == (
        at(anonymous, "<lambda>") + "the function name '<lambda>' is not a valid asset name "
        "(letters, digits and underscores, not starting with a digit); pass name='...'"
    )


def test_option_types_are_checked_and_all_reported_together() -> None:
    def report(context: Any) -> None:
        return None

    error = decoration_error(
        report,
        io_manager="",
        io_options=["format"],
        description=3,
        info={"owners": ["me"]},
        retry=3,
        timeout=0,
        executor=None,
        ray_options={"num_cpus": 2},
        resources="db",
    )
    assert [p.message for p in error.problems] == [
        "info must be an fs.AssetInfo, got {'owners': ['me']}; "
        "write info=fs.AssetInfo(owners=[...], tags={...})",
        "description must be a string, got 3",
        "io_manager must be the key of an I/O manager such as 'fs', got ''",
        "io_options must be a dict with string keys, got ['format']",
        "retry must be an fs.RetryPolicy, got 3; write retry=fs.RetryPolicy(max_retries=3)",
        "timeout must be a number of seconds > 0 or None, got 0",
        "executor must be a string such as 'local' or 'ray', got None",
        "ray_options must be an fs.RayOptions, got {'num_cpus': 2}; "
        "write ray_options=fs.RayOptions(num_cpus=2)",
        "resources must be a list, got 'db'; write resources=['db']",
    ]
    assert {(p.asset, p.line) for p in error.problems} == {
        ("report", report.__code__.co_firstlineno)
    }


@pytest.mark.parametrize("timeout", [-1, float("inf"), float("nan"), True, "30"])
def test_timeouts_must_be_positive_finite_numbers(timeout: Any) -> None:
    def slow(context: Any) -> None:
        return None

    assert [p.message for p in decoration_error(slow, timeout=timeout).problems] == [
        f"timeout must be a number of seconds > 0 or None, got {timeout!r}"
    ]


def test_resources_must_be_names() -> None:
    def queried(context: Any) -> None:
        return None

    assert [p.message for p in decoration_error(queried, resources=["db", 3]).problems] == [
        "resources must be a list of resource names, got ['db', 3]"
    ]


def test_decorating_something_that_is_not_callable_shows_the_right_use() -> None:
    with pytest.raises(fs.DefinitionError) as caught:
        fs.Pipeline("p").asset(name="x")(42)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "@pipeline.asset decorates a function, got 42; write @pipeline.asset(...) above a def, "
        "or call pipeline.asset(...)(fn)"
    )


# -- value objects ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "",
            "pipeline name must use letters, digits, '_' and '-' and start with a letter or "
            "'_', got ''; e.g. fs.Pipeline('analytics')",
        ),
        (
            "9lives",
            "pipeline name must use letters, digits, '_' and '-' and start with a letter "
            "or '_', got '9lives'; e.g. fs.Pipeline('analytics')",
        ),
    ],
)
def test_pipeline_names_are_identifier_like(name: str, message: str) -> None:
    with pytest.raises(fs.DefinitionError, match=f"^{re.escape(message)}$"):
        fs.Pipeline(name)


def test_dep_names_and_mappings_are_checked() -> None:
    with pytest.raises(fs.DefinitionError) as caught:
        fs.Dep("raw events")
    assert str(caught.value) == (
        "Dep name must be an asset name (letters, digits and underscores, not starting with a "
        "digit), got 'raw events'"
    )
    with pytest.raises(fs.DefinitionError) as caught:
        fs.Dep("raw", mapping="yesterday")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "Dep('raw') mapping must be a PartitionMapping such as fs.TimeWindowMapping(-1, -1), "
        "got 'yesterday'"
    )


def test_retry_policy_arguments_are_checked() -> None:
    with pytest.raises(fs.DefinitionError) as caught:
        fs.RetryPolicy(max_retries=-1, delay=-1, backoff=0.5, max_delay=float("nan"), jitter=2)
    assert str(caught.value) == (
        "invalid RetryPolicy: max_retries must be an integer >= 0, got -1; delay must be a "
        "number >= 0, got -1; backoff must be a number >= 1, got 0.5; max_delay must be a "
        "number >= 0, got nan; jitter must be a number between 0 and 1, got 2"
    )


def test_retry_policy_max_delay_must_not_be_below_delay_and_retry_on_holds_exceptions() -> None:
    with pytest.raises(fs.DefinitionError) as caught:
        fs.RetryPolicy(delay=10, max_delay=5, retry_on=(ValueError, "IOError"))  # type: ignore[arg-type]
    assert str(caught.value) == (
        "invalid RetryPolicy: max_delay (5) must be >= delay (10); retry_on must be an "
        "exception class or a tuple of them, e.g. retry_on=(ConnectionError, TimeoutError), "
        "got (<class 'ValueError'>, 'IOError')"
    )


def test_retry_policy_max_retries_must_be_an_integer() -> None:
    with pytest.raises(fs.DefinitionError) as caught:
        fs.RetryPolicy(max_retries=True)
    assert str(caught.value) == (
        "invalid RetryPolicy: max_retries must be an integer >= 0, got True"
    )


def test_ray_options_are_checked_one_line_per_problem() -> None:
    with pytest.raises(fs.DefinitionError) as caught:
        fs.RayOptions(num_cpus=-1, memory=0, gpus=1)
    assert str(caught.value) == (
        "invalid RayOptions: num_cpus: Input should be greater than or equal to 0 (got -1); "
        "memory: Input should be greater than 0 (got 0); gpus: unknown option; known options: "
        "memory, num_cpus, num_gpus, resources, runtime_env"
    )


def test_asset_info_fields_are_checked() -> None:
    with pytest.raises(fs.DefinitionError) as caught:
        fs.AssetInfo(metadata={1: "x"}, tags={"tier": 1}, owners="me", group="", code_version=2)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "invalid AssetInfo: metadata must be a dict with string keys, got {1: 'x'}; "
        "tags must be a dict of strings to strings, got {'tier': 1}; owners must be a list of "
        "strings, got 'me'; group must be a non-empty string, got ''; code_version must be a "
        "string or None, got 2"
    )
