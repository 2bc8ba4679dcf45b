"""Where Parquet partitions live: hive-style directories, and the schema check across them.

Internal, not part of the public API. An asset partition is the directory
``<asset>/<column>=<value>/`` (one level per dimension of a multi-partition key) holding
``part-0.parquet``; values are %-escaped the way pyarrow's hive partitioning decodes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import pyarrow as pa

FILE_NAME = "part-0.parquet"
# Kept readable in directory names; everything else is %-escaped ('/', '=', '+', ' '...).
_SAFE_IN_SEGMENT = "-_.:"


def default_column(key: Any) -> str:
    """The partition column of a single-dimension key when none is configured."""
    if isinstance(key, dt.datetime):
        return "datetime"
    if isinstance(key, dt.date):
        return "date"
    return "partition"


def key_text(value: Any) -> str:
    """A key (or one dimension of it) as text: ISO forms for dates and times."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def partition_columns(key: Any, column: str | None) -> list[tuple[str, Any]]:
    """The ``(column, value)`` pairs of a partition key, outermost directory first."""
    if key is None:
        return []
    if isinstance(key, Mapping):
        return [(str(name), value) for name, value in key.items()]
    return [(column or default_column(key), key)]


def partition_dir(asset_dir: str, key: Any, column: str | None) -> str:
    """The directory of one asset partition, relative to the base path."""
    segments = [
        f"{quote(name, safe=_SAFE_IN_SEGMENT)}={quote(key_text(value), safe=_SAFE_IN_SEGMENT)}"
        for name, value in partition_columns(key, column)
    ]
    return "/".join([asset_dir, *segments])


def with_partition_columns(table: pa.Table, key: Any, column: str | None) -> pa.Table:
    """Append the partition's columns (typed from the key) unless the data has them."""
    for name, value in partition_columns(key, column):
        if name not in table.column_names:
            table = table.append_column(name, pa.repeat(pa.scalar(value), table.num_rows))
    return table


def schema_changes(expected: pa.Schema, found: pa.Schema) -> list[str]:
    """Describe how ``found`` differs from ``expected``: changed, added, dropped columns."""
    before = {f.name: f.type for f in expected}
    after = {f.name: f.type for f in found}
    changes = [
        f"column {name!r} is {after[name]} (was {kind})"
        for name, kind in before.items()
        if name in after and after[name] != kind
    ]
    changes += [f"column {name!r} was added" for name in after if name not in before]
    changes += [f"column {name!r} was dropped" for name in before if name not in after]
    if not changes and not expected.equals(found):
        nullable = {f.name: f.nullable for f in expected}
        changes += [
            f"column {f.name!r} is {'' if f.nullable else 'not '}nullable now"
            for f in found
            if nullable[f.name] != f.nullable
        ]
        changes = changes or ["the columns are in another order"]
    return changes


def schema_differences(labels: Sequence[str], tables: Sequence[pa.Table]) -> str | None:
    """Say how the schemas of ``tables`` differ from the first one's (None when they match).

    ``labels`` name the tables (partition keys, file names) in the message.
    """
    first = tables[0].schema.remove_metadata()
    problems = []
    for label, table in zip(labels[1:], tables[1:], strict=True):
        changes = schema_changes(first, table.schema.remove_metadata())
        if changes:
            problems.append(f"{label!r} differs from {labels[0]!r}: " + ", ".join(changes))
    if not problems:
        return None
    more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
    return "; ".join(problems[:5]) + more
