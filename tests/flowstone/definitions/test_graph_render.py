"""Graph renderings as plain text, Mermaid and DOT, pinned as golden strings."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

import flowstone as fs

Sample = Callable[[str], ModuleType]


@pytest.fixture
def diamond(sample: Sample) -> fs.AssetGraph:
    return sample("diamond_assets").pipeline.validate()


def test_ascii_lists_assets_by_layer_with_their_inputs(diamond: fs.AssetGraph) -> None:
    assert diamond.render_ascii() == (
        "pipeline 'diamond': 4 assets, 4 dependencies\n"
        "layer 0\n"
        "  source\n"
        "layer 1\n"
        "  left    <- source\n"
        "  right   <- source\n"
        "layer 2\n"
        "  joined  <- left, right\n"
    )


def test_mermaid_is_a_left_to_right_flowchart(diamond: fs.AssetGraph) -> None:
    assert diamond.render_mermaid() == (
        "flowchart LR\n"
        '    asset_source["source"]\n'
        '    asset_left["left"]\n'
        '    asset_right["right"]\n'
        '    asset_joined["joined"]\n'
        "    asset_source --> asset_left\n"
        "    asset_source --> asset_right\n"
        "    asset_left --> asset_joined\n"
        "    asset_right --> asset_joined\n"
    )


def test_dot_is_a_left_to_right_digraph(diamond: fs.AssetGraph) -> None:
    assert diamond.render_dot() == (
        'digraph "diamond" {\n'
        "    rankdir=LR;\n"
        "    node [shape=box];\n"
        '    "source";\n'
        '    "left";\n'
        '    "right";\n'
        '    "joined";\n'
        '    "source" -> "left";\n'
        '    "source" -> "right";\n'
        '    "left" -> "joined";\n'
        '    "right" -> "joined";\n'
        "}\n"
    )


def test_one_assets_closure_renders_alone(diamond: fs.AssetGraph) -> None:
    assert diamond.around("left").render_ascii() == (
        "pipeline 'diamond': 3 assets, 2 dependencies\n"
        "layer 0\n"
        "  source\n"
        "layer 1\n"
        "  left    <- source\n"
        "layer 2\n"
        "  joined  <- left\n"
    )


def test_an_asset_called_end_does_not_break_mermaid() -> None:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="end")(lambda context: None)
    assert pipeline.validate().render_mermaid() == 'flowchart LR\n    asset_end["end"]\n'


def test_counts_are_singular_for_one() -> None:
    pipeline = fs.Pipeline("p")
    pipeline.asset(name="a")(lambda context: None)
    pipeline.asset(name="b", depends_on=["a"])(lambda context, a: None)
    assert pipeline.validate().render_ascii().splitlines()[0] == (
        "pipeline 'p': 2 assets, 1 dependency"
    )
