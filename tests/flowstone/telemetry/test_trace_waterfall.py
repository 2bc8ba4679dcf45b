"""examples/observability/trace_waterfall.py: a real run's exported spans, rendered as a tree.

The example's run goes through OTLP/HTTP to its own local receiver; these tests check that
the page it renders has every span once, the run span first, and each span under its parent
(the row order a trace viewer shows), and that the failure, retry and restart are marked.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "observability"


@pytest.fixture
def waterfall(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import trace_waterfall

    yield trace_waterfall
    sys.modules.pop("trace_waterfall", None)


@dataclass
class Row:
    span_id: str
    parent_id: str
    trace_id: str
    depth: int
    name: str
    about: str
    status: str
    line: str


def rows_of(page: str) -> list[Row]:
    """The waterfall's rows, in page order."""
    found = []
    for line in page.splitlines():
        if not line.startswith('<div class="row'):
            continue
        data = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', line))
        about = re.search(r"<span class=about>(.*?)</span>", line)
        status = re.search(r"<span class=status>(.*?)</span>", line)
        found.append(
            Row(
                data["span-id"],
                data["parent-id"],
                data["trace-id"],
                int(data["depth"]),
                data["name"],
                about.group(1) if about else "",
                status.group(1) if status else "",
                line,
            )
        )
    return found


def check_tree_order(rows: list[Row]) -> None:
    """Every row with a parent on the page sits under it: the nearest row above it that is one
    level up is its parent, and a span's children follow it before its next sibling."""
    ids = [r.span_id for r in rows]
    assert len(ids) == len(set(ids)), "a span is drawn twice"
    for i, row in enumerate(rows):
        if row.parent_id not in ids:
            assert row.depth == 0, row
            continue
        above = next(r for r in reversed(rows[:i]) if r.depth < row.depth)
        assert (above.span_id, above.depth) == (row.parent_id, row.depth - 1), row


async def test_the_page_draws_the_runs_spans_as_a_tree_under_the_run_span(
    waterfall: ModuleType,
) -> None:
    recorded = await waterfall.record_run("2025-01-15")
    rows = rows_of(waterfall.render(recorded.spans))

    assert sorted(r.span_id for r in rows) == sorted(s.span_id for s in recorded.spans)
    check_tree_order(rows)
    run = rows[0]
    _version, trace_id, span_id, _flags = recorded.traceparent.split("-")
    assert (run.name, run.depth, run.span_id, run.trace_id) == (
        "flowstone.run",
        0,
        span_id,  # the span the run record names
        trace_id,
    )
    attempts = [r for r in rows if r.name == "flowstone.materialize"]
    assert [(r.about, r.status) for r in attempts] == [
        ("orders [2025-01-15] attempt 1", "succeeded"),
        ("enriched [2025-01-15] attempt 1", "failed"),
        ("enriched [2025-01-15] attempt 2", "succeeded"),
        ("revenue [2025-01-15] attempt 1", "succeeded"),
    ]
    assert {(r.parent_id, r.depth) for r in attempts} == {(run.span_id, 1)}
    assert "exception ConnectionError: exchange-rate service timed out" in attempts[1].line
    # The I/O manager takes milliseconds: its loads and stores are spans below the attempts.
    io = [(r.name, r.about, r.parent_id) for r in rows if r.name.startswith("flowstone.io.")]
    assert io == [
        ("flowstone.io.store", "orders [2025-01-15]", attempts[0].span_id),
        ("flowstone.io.load", "orders [2025-01-15]", attempts[1].span_id),
        ("flowstone.io.load", "orders [2025-01-15]", attempts[2].span_id),
        ("flowstone.io.store", "enriched [2025-01-15]", attempts[2].span_id),
        ("flowstone.io.load", "enriched [2025-01-15]", attempts[3].span_id),
        ("flowstone.io.store", "revenue [2025-01-15]", attempts[3].span_id),
    ]
    # Lineage commits are roots of their own traces, drawn after the run's tree.
    commits = [r for r in rows if r.name == "flowstone.lineage.commit"]
    assert commits == rows[len(rows) - len(commits) :]
    assert all(r.depth == 0 and r.trace_id != run.trace_id for r in commits)


async def test_a_killed_attempt_is_cancelled_and_the_restart_marked_on_the_run(
    waterfall: ModuleType,
) -> None:
    recorded = await waterfall.record_run("2025-01-16", crash=True)
    rows = rows_of(waterfall.render(recorded.spans))

    check_tree_order(rows)
    assert "restart of materializer (&#x27;killed&#x27;)" in rows[0].line
    revenue = [
        (r.about, r.status)
        for r in rows
        if r.name == "flowstone.materialize" and "revenue" in r.about
    ]
    assert revenue == [
        ("revenue [2025-01-16] attempt 1", "cancelled"),
        ("revenue [2025-01-16] attempt 2", "succeeded"),
    ]


def test_a_span_whose_parent_was_not_exported_is_drawn_as_a_root(waterfall: ModuleType) -> None:
    span = waterfall.Span
    spans = [
        span("t", "b", "a", "flowstone.materialize", 20, 30, {}),
        span("t", "c", "missing", "flowstone.io.load", 5, 8, {}),
        span("t", "a", None, "flowstone.run", 10, 40, {}),
        span("t", "d", "a", "flowstone.materialize", 12, 18, {}),
    ]
    order = [(s.span_id, depth) for s, depth in waterfall.tree_order(spans)]
    assert order == [("a", 0), ("d", 1), ("b", 1), ("c", 0)]
    with pytest.raises(ValueError, match="no spans to render"):
        waterfall.render([])
