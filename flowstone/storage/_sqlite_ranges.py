"""Status ranges in SQLite: maintained inside the write transaction, read and rebuilt on the
backend's threads (see ``_ranges`` for the scheme).

Internal, not part of the public API. Everything here is synchronous.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping

from flowstone.storage._codec import decode_pkey
from flowstone.storage._ranges import (
    PartitionOrdinals,
    RangeSummary,
    StatusRange,
    clip,
    rewrite,
    run_length,
    spans,
)

_CONTAINING = (
    "SELECT first, last, status FROM partition_ranges "
    "WHERE pipeline = ? AND asset = ? AND first <= ? ORDER BY first DESC LIMIT 1"
)
_STARTING = (
    "SELECT first, last, status FROM partition_ranges "
    "WHERE pipeline = ? AND asset = ? AND first > ? AND first <= ? ORDER BY first"
)
_ORDERING = "SELECT ordering FROM partition_orders WHERE pipeline = ? AND asset = ?"
_INSERT = (
    "INSERT INTO partition_ranges (pipeline, asset, first, last, status) VALUES (?, ?, ?, ?, ?)"
)


def maintain(
    conn: sqlite3.Connection,
    pipeline: str,
    keys: Iterable[tuple[str, str]],
    orders: Mapping[str, PartitionOrdinals],
) -> None:
    """Bring the ranges of the assets in ``keys`` (``(asset, pkey)`` pairs of ``pipeline``
    just written) up to date with ``asset_partitions``; inside the caller's transaction."""
    by_asset: dict[str, list[str]] = {}
    for asset, pkey in keys:
        if asset in orders:
            by_asset.setdefault(asset, []).append(pkey)
    for asset, pkeys in by_asset.items():
        order = orders[asset]
        row = conn.execute(_ORDERING, (pipeline, asset)).fetchone()
        if row is None:
            continue  # no ranges yet: rebuild_partition_ranges starts them
        if row[0] != order.fingerprint:
            drop(conn, pipeline, asset)  # stale: the numbering changed; rebuilt on demand
            continue
        _apply(conn, pipeline, asset, order, pkeys)


def _apply(
    conn: sqlite3.Connection,
    pipeline: str,
    asset: str,
    order: PartitionOrdinals,
    pkeys: list[str],
) -> None:
    statuses = dict(
        conn.execute(
            "SELECT pkey, latest_status FROM asset_partitions "
            "WHERE pipeline = ? AND asset = ? AND pkey IN (SELECT value FROM json_each(?))",
            (pipeline, asset, json.dumps(pkeys)),
        ).fetchall()
    )
    changes: dict[int, str | None] = {}
    for pkey in pkeys:
        ordinal = order.ordinal(decode_pkey(pkey))
        if ordinal is not None:
            changes[ordinal] = statuses.get(pkey)
    if not changes:
        return
    around: set[StatusRange] = set()
    for a, b in spans(changes):
        around.update(_window(conn, pipeline, asset, a, b))
    doomed, added = rewrite(list(around), changes)
    conn.executemany(
        "DELETE FROM partition_ranges WHERE pipeline = ? AND asset = ? AND first = ?",
        [(pipeline, asset, r.first) for r in doomed],
    )
    conn.executemany(_INSERT, [(pipeline, asset, r.first, r.last, r.status) for r in added])


def _window(
    conn: sqlite3.Connection, pipeline: str, asset: str, a: int, b: int
) -> list[StatusRange]:
    """The ranges meeting ``a..b``: the one containing ``a`` and those starting after it."""
    found = [StatusRange(*row) for row in conn.execute(_CONTAINING, (pipeline, asset, a))]
    found = [r for r in found if r.last >= a]
    found.extend(StatusRange(*row) for row in conn.execute(_STARTING, (pipeline, asset, a, b)))
    return found


def drop(conn: sqlite3.Connection, pipeline: str, asset: str) -> None:
    """Forget the ranges of ``asset`` and the ordering they followed."""
    for table in ("partition_ranges", "partition_orders"):
        conn.execute(f"DELETE FROM {table} WHERE pipeline = ? AND asset = ?", (pipeline, asset))


def read(
    conn: sqlite3.Connection, pipeline: str, asset: str, first: int | None, last: int | None
) -> RangeSummary:
    """Return the ranges of ``asset`` within ``first..last`` (None: unbounded)."""
    conn.execute("BEGIN")  # one snapshot for the fingerprint and the ranges
    try:
        row = conn.execute(_ORDERING, (pipeline, asset)).fetchone()
        if row is None:
            return RangeSummary(None)
        hi = last if last is not None else 2**62
        if first is None:
            rows = conn.execute(
                "SELECT first, last, status FROM partition_ranges "
                "WHERE pipeline = ? AND asset = ? AND first <= ? ORDER BY first",
                (pipeline, asset, hi),
            )
            found = [StatusRange(*r) for r in rows]
        else:
            found = _window(conn, pipeline, asset, first, hi)
        return RangeSummary(row[0], clip(found, first, last))
    finally:
        conn.execute("COMMIT")


def orderings(conn: sqlite3.Connection, pipeline: str) -> dict[str, str]:
    """Return, per asset of ``pipeline`` that has ranges, the fingerprint they follow."""
    rows = conn.execute(
        "SELECT asset, ordering FROM partition_orders WHERE pipeline = ?", (pipeline,)
    )
    return {str(asset): str(ordering) for asset, ordering in rows}


def rebuild(conn: sqlite3.Connection, pipeline: str, asset: str, order: PartitionOrdinals) -> None:
    """Recompute the ranges of ``asset``; runs inside the caller's write transaction."""
    points = []
    rows = conn.execute(
        "SELECT pkey, latest_status FROM asset_partitions WHERE pipeline = ? AND asset = ?",
        (pipeline, asset),
    )
    for pkey, status in rows:
        ordinal = order.ordinal(decode_pkey(pkey))
        if ordinal is not None:
            points.append((ordinal, status))
    drop(conn, pipeline, asset)
    conn.executemany(
        _INSERT, [(pipeline, asset, r.first, r.last, r.status) for r in run_length(points)]
    )
    conn.execute(
        "INSERT INTO partition_orders (pipeline, asset, ordering) VALUES (?, ?, ?)",
        (pipeline, asset, order.fingerprint),
    )
