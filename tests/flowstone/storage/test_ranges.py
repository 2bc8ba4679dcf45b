"""The range arithmetic every backend shares: ``rewrite`` agrees with recomputing from
scratch, whatever the ranges and the changes."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from flowstone.storage._ranges import StatusRange, clip, rewrite, run_length, spans

STATUSES = st.sampled_from(["succeeded", "failed", "waiting"])
POINTS = st.dictionaries(st.integers(0, 60), STATUSES, max_size=40)
CHANGES = st.dictionaries(st.integers(0, 62), st.one_of(st.none(), STATUSES), max_size=12)


def neighbourhood(ranges: list[StatusRange], changes: dict[int, str | None]) -> list[StatusRange]:
    """What a store fetches: the ranges meeting the spans around the changes."""
    wanted = spans(changes)
    return [r for r in ranges if any(r.last >= a and r.first <= b for a, b in wanted)]


@given(POINTS, CHANGES)
def test_rewriting_around_the_changes_equals_recomputing_everything(
    points: dict[int, str], changes: dict[int, str | None]
) -> None:
    stored = run_length(points.items())
    doomed, added = rewrite(neighbourhood(stored, changes), changes)
    after = sorted((set(stored) - set(doomed)) | set(added), key=lambda r: r.first)
    truth = {**points, **changes}
    assert after == run_length((o, s) for o, s in truth.items() if s is not None)


@given(POINTS)
def test_run_length_ranges_are_maximal_and_disjoint(points: dict[int, str]) -> None:
    ranges = run_length(points.items())
    assert sum(r.count for r in ranges) == len(points)
    for left, right in itertools.pairwise(ranges):
        assert left.last < right.first
        assert not (left.last + 1 == right.first and left.status == right.status)


def test_clip_cuts_ranges_to_a_window() -> None:
    ranges = [StatusRange(0, 9, "succeeded"), StatusRange(10, 19, "failed")]
    assert clip(ranges, 5, 12) == (StatusRange(5, 9, "succeeded"), StatusRange(10, 12, "failed"))
    assert clip(ranges, 30, None) == ()


def test_spans_merge_neighbourhoods_that_touch() -> None:
    assert spans([5, 6, 8, 20]) == [(4, 9), (19, 21)]
    assert spans([5, 10]) == [(4, 6), (9, 11)]
