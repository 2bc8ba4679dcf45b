"""Does a value fit the table it is stored into? Checks of ``PostgresIOManager``.

Internal, not part of the public API. A table is created from the first value stored into
it; later values must keep its layout (partition and tenant columns) and its value columns.
Every refusal names the table, what differs and how to go on.
"""

from __future__ import annotations

from flowstone.errors import IOManagerError

from ._postgres_sql import ROW_COLUMN, Described, Target
from ._postgres_types import NUMERIC_TYPES, Frame

_FIX = (
    "store a value with the table's columns, change the table (ALTER TABLE, or drop it to "
    "have it created again from the next value), or store into another table with "
    "io_options={'table': ...}"
)


def check_reserved(target: Target, frame: Frame, asset: str) -> None:
    """Refuse value columns named like the table's partition, tenant or row columns."""
    reserved = set(target.layout_columns)
    clashes = [column.name for column in frame.columns if column.name in reserved]
    if clashes:
        roles = []
        if target.partition_column in clashes:
            roles.append(f"{target.partition_column!r} holds the partition key")
        if target.tenant_column in clashes:
            roles.append(f"{target.tenant_column!r} holds the tenant")
        if ROW_COLUMN in clashes:
            roles.append(f"{ROW_COLUMN!r} holds each row's position")
        raise IOManagerError(
            f"cannot store asset {asset!r} into {target.name}: the value has column(s) "
            f"{', '.join(map(repr, clashes))}, which FlowStone uses itself "
            f"({'; '.join(roles)}); rename or drop them (the partition key and tenant are "
            f"filled in from the partition), or choose other names with "
            f"io_options={{'partition_column': ...}} / PostgresIOManager(tenant_column=...)",
            asset=asset,
        )


def check_layout(target: Target, described: Described, asset: str, verb: str = "store") -> None:
    """Refuse a table FlowStone did not create, or one laid out for other partitions."""
    layout = described.layout
    if layout is None or ROW_COLUMN not in described.columns:
        raise IOManagerError(
            f"cannot {verb} asset {asset!r} in table {target.name}: it exists but was not "
            f"created by PostgresIOManager (no {ROW_COLUMN!r} column or FlowStone comment); "
            "store into another table with io_options={'table': ...}, or drop it",
            asset=asset,
        )
    stored = (layout.get("partition_column"), layout.get("tenant_column"))
    wanted = (target.partition_column, target.tenant_column)
    if stored != wanted:
        raise IOManagerError(
            f"cannot {verb} asset {asset!r} in {target.name}: the table was created "
            f"{_describe_layout(*stored)}, but this value is {_describe_layout(*wanted)}; "
            f"did the asset's partitions or its io_options change? Store into another table with "
            f"io_options={{'table': ...}}, or drop the table",
            asset=asset,
        )


def _describe_layout(partition_column: str | None, tenant_column: str | None) -> str:
    if partition_column is None:
        text = "unpartitioned"
    else:
        text = f"partitioned by column {partition_column!r}"
    if tenant_column is not None:
        text += f" with tenant column {tenant_column!r}"
    return text


def insert_types(target: Target, described: Described, frame: Frame, asset: str) -> dict[str, str]:
    """Check the value's columns against the table's; return the type of every column to
    insert (the table's), layout columns included."""
    layout = set(target.layout_columns)
    table = {name: kind for name, kind in described.columns.items() if name not in layout}
    given = {column.name: column.pg_type for column in frame.columns}
    added = [name for name in given if name not in table]
    removed = [name for name in table if name not in given] if frame.kind != "rows" else []
    changed = [
        f"{name!r} is {table[name]} in the table but {kind} in the value"
        for name, kind in given.items()
        if name in table and not _fits(kind, table[name], frame.kind)
    ]
    if added or removed or changed:
        problems = []
        if added:
            problems.append(f"new column(s) {', '.join(map(repr, added))}")
        if removed:
            problems.append(f"missing column(s) {', '.join(map(repr, removed))}")
        problems.extend(changed)
        raise IOManagerError(
            f"cannot store asset {asset!r} into {target.name}: the value does not match the "
            f"table's columns: {'; '.join(problems)}. To go on, {_FIX}",
            asset=asset,
        )
    return {name: described.columns[name] for name in (*target.layout_columns, *given)}


def _fits(value_type: str | None, table_type: str, kind: str) -> bool:
    if value_type is None or value_type == table_type:
        return True
    # Lists of dicts carry no declared types: a column of ints is also a fine float or
    # numeric column, and Decimals fit any numeric(p,s).
    if kind == "rows" and value_type == "bigint":
        return table_type.split("(")[0] in NUMERIC_TYPES
    if kind == "rows" and value_type == "numeric":
        return table_type.split("(")[0] == "numeric"
    return False
