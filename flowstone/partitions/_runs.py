"""Arithmetic on sorted, disjoint, half-open integer runs ``((lo, hi), ...)`` (internal)."""

from __future__ import annotations

from collections.abc import Iterable

Runs = tuple[tuple[int, int], ...]


def normalize(runs: Iterable[tuple[int, int]]) -> Runs:
    """Sort runs, drop empty ones and merge those that overlap or touch."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(run for run in runs if run[0] < run[1]):
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return tuple(merged)


def union(a: Runs, b: Runs) -> Runs:
    """Indices in ``a`` or ``b``."""
    return normalize((*a, *b))


def intersection(a: Runs, b: Iterable[tuple[int, int]]) -> Runs:
    """Indices in both ``a`` and ``b``."""
    b = normalize(b)
    result: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            result.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(result)


def difference(a: Runs, b: Runs) -> Runs:
    """Indices in ``a`` but not in ``b``."""
    result: list[tuple[int, int]] = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] <= lo:
            j += 1
        k = j
        while k < len(b) and b[k][0] < hi:
            if b[k][0] > lo:
                result.append((lo, b[k][0]))
            lo = max(lo, b[k][1])
            k += 1
        if lo < hi:
            result.append((lo, hi))
    return tuple(result)
