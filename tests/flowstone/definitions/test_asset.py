"""AssetDefinition: dependency names and partition mappings."""

from __future__ import annotations

from typing import Any

import pytest

import flowstone as fs

DAYS = fs.DailyPartitions(start="2024-01-01")


@pytest.fixture
def pipeline() -> fs.Pipeline:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="events", partitioned_by=DAYS)(lambda context: 1)
    pipeline.asset(name="lookup")(lambda context: 1)
    return pipeline


def test_mapping_for_returns_an_explicit_mapping(pipeline: fs.Pipeline) -> None:
    yesterday = fs.TimeWindowMapping(-1, -1)

    @pipeline.asset(depends_on=[fs.Dep("events", mapping=yesterday)], partitioned_by=DAYS)
    def delta(context: Any, events: Any) -> None:
        return None

    assert delta.mapping_for("events") is yesterday


def test_mapping_for_falls_back_to_the_default_mapping(pipeline: fs.Pipeline) -> None:
    @pipeline.asset(depends_on=["events", "lookup"], partitioned_by=DAYS)
    def enriched(context: Any, events: Any, lookup: Any) -> None:
        return None

    assert enriched.mapping_for("events") == fs.IdentityMapping()
    assert enriched.mapping_for("lookup") == fs.AllPartitionsMapping()


def test_mapping_for_a_name_that_is_not_a_dependency_raises(pipeline: fs.Pipeline) -> None:
    @pipeline.asset(depends_on=["events"], partitioned_by=DAYS)
    def enriched(context: Any, events: Any) -> None:
        return None

    with pytest.raises(fs.AssetNotFound) as caught:
        enriched.mapping_for("lookup")
    assert str(caught.value) == (
        "'lookup' is not a dependency of asset 'enriched'; its dependencies: 'events'"
    )
    with pytest.raises(fs.AssetNotFound) as caught:
        enriched.mapping_for("event")
    assert str(caught.value) == (
        "'event' is not a dependency of asset 'enriched' (did you mean 'events'?); "
        "its dependencies: 'events'"
    )


def test_dep_names_follow_depends_on_order(pipeline: fs.Pipeline) -> None:
    @pipeline.asset(depends_on=["lookup", fs.Dep("events", mapping=fs.AllPartitionsMapping())])
    def both(context: Any, events: Any, lookup: Any) -> None:
        return None

    assert both.dep_names() == ("lookup", "events")
    assert both.partitions is None


def test_definitions_are_frozen(pipeline: fs.Pipeline) -> None:
    definition = pipeline.get("events")
    with pytest.raises(AttributeError):
        definition.name = "other"  # type: ignore[misc]
    assert definition.partitions == DAYS


def test_mapping_for_an_edge_that_needs_an_explicit_mapping_raises(pipeline: fs.Pipeline) -> None:
    @pipeline.asset(depends_on=["events"])
    def total(context: Any, events: Any) -> None:
        return None

    with pytest.raises(fs.DefinitionError) as caught:
        total.mapping_for("events")
    assert str(caught.value) == (
        "asset 'total' needs an explicit partition mapping for 'events'; "
        "call pipeline.validate() for details"
    )
