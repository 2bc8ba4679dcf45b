"""AssetGraph: order, closures and layers, deterministic and linear-time."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

import flowstone as fs

Sample = Callable[[str], ModuleType]


def chain_of(size: int, name: str = "chain") -> fs.Pipeline:
    """``a0 -> a1 -> ... -> a{size-1}``, defined last to first (forward references)."""
    pipeline = fs.Pipeline(name)
    for i in reversed(range(size)):
        deps = [f"a{i - 1}"] if i else []
        pipeline.asset(name=f"a{i}", depends_on=deps)(lambda context, **inputs: None)
    return pipeline


def test_topological_order_breaks_ties_by_definition_order(sample: Sample) -> None:
    graph = sample("diamond_assets").pipeline.validate()
    assert graph.topological_order() == ["source", "left", "right", "joined"]


def test_order_follows_dependencies_not_definition_order() -> None:
    graph = chain_of(4).validate()
    assert list(graph.assets) == ["a3", "a2", "a1", "a0"]
    assert graph.topological_order() == ["a0", "a1", "a2", "a3"]


def test_parents_and_children(sample: Sample) -> None:
    graph = sample("diamond_assets").pipeline.validate()
    assert graph.parents("joined") == ("left", "right")
    assert graph.children("source") == ("left", "right")
    assert graph.parents("source") == ()
    assert graph.children("joined") == ()


def test_upstream_closure_includes_the_names_in_topological_order(sample: Sample) -> None:
    graph = sample("diamond_assets").pipeline.validate()
    assert graph.upstream_closure("joined") == ["source", "left", "right", "joined"]
    assert graph.upstream_closure(["right", "left"]) == ["source", "left", "right"]
    assert graph.upstream_closure("source") == ["source"]


def test_downstream_closure_excludes_the_name(sample: Sample) -> None:
    graph = sample("diamond_assets").pipeline.validate()
    assert graph.downstream_closure("source") == ["left", "right", "joined"]
    assert graph.downstream_closure("right") == ["joined"]
    assert graph.downstream_closure("joined") == []


def test_layers_group_assets_by_depth(sample: Sample) -> None:
    pipeline = sample("diamond_assets").pipeline
    pipeline.asset(name="shortcut", depends_on=["source", "joined"])(lambda context, **inputs: None)
    assert pipeline.validate().layers() == [["source"], ["left", "right"], ["joined"], ["shortcut"]]


def test_an_empty_pipeline_has_an_empty_graph() -> None:
    graph = fs.Pipeline("empty").validate()
    assert (graph.topological_order(), graph.layers(), len(graph)) == ([], [], 0)


def test_subgraph_keeps_only_the_edges_between_the_chosen_assets(sample: Sample) -> None:
    graph = sample("diamond_assets").pipeline.validate()
    sub = graph.subgraph(["left", "joined"])
    assert list(sub.assets) == ["left", "joined"]
    assert sub.parents("joined") == ("left",)
    assert sub.parents("left") == ()


def test_around_keeps_an_assets_upstream_and_downstream(sample: Sample) -> None:
    graph = sample("diamond_assets").pipeline.validate()
    assert list(graph.around("left").assets) == ["source", "left", "joined"]


def test_queries_about_unknown_assets_raise_asset_not_found(sample: Sample) -> None:
    graph = sample("diamond_assets").pipeline.validate()
    with pytest.raises(
        fs.AssetNotFound,
        match=r"^unknown asset 'jioned' in pipeline "
        r"'diamond'; did you mean 'joined'\?$",
    ):
        graph.parents("jioned")
    with pytest.raises(fs.AssetNotFound):
        graph.upstream_closure(["left", "nope"])


def test_a_graph_built_directly_from_a_cyclic_pipeline_refuses(sample: Sample) -> None:
    pipeline = sample("cyclic_assets").pipeline
    with pytest.raises(
        fs.DefinitionError,
        match=r"^the asset graph has a dependency cycle; "
        r"call pipeline.validate\(\) to see it$",
    ):
        fs.AssetGraph(pipeline)


def test_io_options_validated_by_the_managers_are_kept_on_the_graph() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset(io_options={"format": "json"})
    def report(context: Any) -> None:
        return None

    graph = pipeline.validate(io_managers={"fs": fs.io.FilesystemIOManager("/tmp/unused")})
    assert graph.io_options("report") == fs.io.FilesystemOptions(format="json")
    assert pipeline.validate().io_options("report") is None


def test_repr_counts_assets_and_edges(sample: Sample) -> None:
    graph = sample("diamond_assets").pipeline.validate()
    assert repr(graph) == "<AssetGraph 'diamond': 4 assets, 4 edges>"


def test_five_thousand_chained_assets_validate_without_recursion_limits() -> None:
    graph = chain_of(5_000).validate()
    assert graph.topological_order()[:3] == ["a0", "a1", "a2"]
    assert len(graph.upstream_closure("a4999")) == 5_000
    assert len(graph.layers()) == 5_000


def test_a_five_thousand_asset_cycle_is_found_without_recursion_limits() -> None:
    pipeline = fs.Pipeline("looped")
    size = 5_000
    for i in range(size):
        pipeline.asset(name=f"a{i}", depends_on=[f"a{(i - 1) % size}"])(
            lambda context, **inputs: None
        )
    with pytest.raises(fs.DefinitionError) as caught:
        pipeline.validate()
    (problem,) = caught.value.problems
    assert problem.message.startswith("dependency cycle: a0 -> a1 -> a2 -> ")
    assert "a4999 -> a0 (each asset" in problem.message


def layered_pipeline(layers: int, width: int) -> fs.Pipeline:
    """``layers`` layers of ``width`` assets; each depends on three of the layer above."""
    pipeline = fs.Pipeline("layered")
    for layer in range(layers):
        for i in range(width):
            deps = [f"n{layer - 1}_{(i + k) % width}" for k in range(3)] if layer else []
            pipeline.asset(name=f"n{layer}_{i}", depends_on=deps)(lambda context, **inputs: None)
    return pipeline


def test_a_thousand_asset_layered_graph_is_built_queried_and_rendered() -> None:
    graph = layered_pipeline(layers=20, width=50).validate()
    order = graph.topological_order()
    position = {name: i for i, name in enumerate(order)}
    assert len(order) == 1_000
    assert len(graph.layers()) == 20
    assert all(position[p] < position[n] for n in order for p in graph.parents(n))
    closure = graph.upstream_closure("n19_0")
    assert closure[-1] == "n19_0"
    assert len(closure) == 1 + sum(3 + 2 * k for k in range(19))
    assert graph.downstream_closure("n0_0")[-1] == "n19_49"
    for text in (graph.render_ascii(), graph.render_mermaid(), graph.render_dot()):
        assert text.count("n19_49") >= 1
