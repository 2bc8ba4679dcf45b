"""Values to PostgreSQL columns and back, for ``PostgresIOManager``.

Internal, not part of the public API. A stored value becomes a ``Frame``: its kind (how to
give it back), its columns with their PostgreSQL types and values, and, for tables, the
pyarrow schema to rebuild it exactly. Types are spelled as PostgreSQL's ``format_type``
prints them, so a stored table's catalog types compare equal to a new value's.

The mapping is documented in docs/postgres.md; keep the two in step.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa

from flowstone.errors import ConfigurationError
from flowstone.tenancy import quote_identifier

from . import _tabular

Kind = Literal["rows", "pyarrow", "pandas", "polars"]
JSONB = "jsonb"
NUMERIC_TYPES = ("smallint", "integer", "bigint", "real", "double precision", "numeric")


@dataclass(frozen=True)
class Column:
    """One value column: its name, PostgreSQL type (None: only NULLs, any type fits) and
    values, already in the form asyncpg encodes for that type."""

    name: str
    pg_type: str | None
    values: list[Any]


@dataclass(frozen=True)
class Frame:
    """A value ready to be written: kind, columns, row count, pyarrow schema (tables)."""

    kind: Kind
    columns: tuple[Column, ...]
    rows: int
    arrow_schema: pa.Schema | None = None


class UnsupportedValue(TypeError):
    """Internal: the value (or one of its columns) has no PostgreSQL mapping."""


# -- values in ---------------------------------------------------------------------------


def to_frame(value: Any) -> Frame:
    """Return the ``Frame`` of a pyarrow Table, pandas/polars DataFrame or list of dicts.

    Raises:
        UnsupportedValue: another kind of value, or a column of an unmapped type.
    """
    if _tabular.table_kind(value) is not None:
        table, kind = _tabular.to_arrow(value)
        _check_names(table.column_names)
        columns = tuple(_arrow_column(name, table.column(name)) for name in table.column_names)
        return Frame(kind, columns, table.num_rows, table.schema)
    if isinstance(value, list | tuple) and all(isinstance(row, Mapping) for row in value):
        return _rows_frame(value)
    raise UnsupportedValue(
        f"expected a pyarrow.Table, a pandas or polars DataFrame, or a list of dicts, got "
        f"{type(value).__module__}.{type(value).__qualname__}"
    )


def _rows_frame(rows: Sequence[Mapping[Any, Any]]) -> Frame:
    names: dict[Any, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    _check_names(list(names))
    columns = []
    for name in names:
        values = [row.get(name) for row in rows]
        pg_type = _python_type(name, values)
        if pg_type == JSONB:
            values = [None if v is None else _json(name, v) for v in values]
        columns.append(Column(name, pg_type, values))
    return Frame("rows", tuple(columns), len(rows))


# Checked in order: bool before int (a bool is an int), datetime before date (likewise).
_PYTHON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),
    (int, "bigint"),
    (float, "double precision"),
    (Decimal, "numeric"),
    (str, "text"),
    ((bytes, bytearray, memoryview), "bytea"),
    (dt.datetime, "timestamp"),
    (dt.date, "date"),
    (dt.time, "time"),
    (dt.timedelta, "interval"),
    (uuid.UUID, "uuid"),
    ((dict, list, tuple), JSONB),
)


def _check_names(names: Sequence[Any]) -> None:
    """Refuse column names that are not plain identifiers, before any SQL is written."""
    for name in names:
        try:
            quote_identifier(name, "column")
        except ConfigurationError as exc:
            raise UnsupportedValue(str(exc)) from None
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise UnsupportedValue(f"column(s) {', '.join(map(repr, duplicated))} appear twice")


def _python_type(name: str, values: list[Any]) -> str | None:
    found: set[str] = set()
    for value in values:
        if value is not None:
            found.add(_python_type_of(name, value))
    if not found:
        return None
    if found == {"bigint", "double precision"}:
        return "double precision"
    if found == {"bigint", "numeric"}:
        return "numeric"
    if len(found) > 1:
        raise UnsupportedValue(
            f"column {name!r} mixes values of PostgreSQL types {', '.join(sorted(found))}; "
            "give each column one type (ints and floats may mix)"
        )
    return found.pop()


def _python_type_of(name: str, value: Any) -> str:
    for python_type, pg_type in _PYTHON_TYPES:
        if isinstance(value, python_type):
            known: Any = value  # isinstance with a tuple of types leaves mypy at `object`
            if pg_type in ("timestamp", "time"):
                zone = "with" if known.utcoffset() is not None else "without"
                return f"{pg_type} {zone} time zone"
            if pg_type == "bigint" and not -(2**63) <= known < 2**63:
                raise UnsupportedValue(
                    f"column {name!r} holds {value}, outside bigint's range; store such "
                    "numbers as decimal.Decimal (numeric)"
                )
            return pg_type
    supported = "bool, int, float, Decimal, str, bytes, datetime, date, time, timedelta, UUID"
    raise UnsupportedValue(
        f"column {name!r} holds a {type(value).__qualname__} ({value!r:.60}), which has no "
        f"PostgreSQL mapping; supported: {supported}, and dict/list (as jsonb)"
    )


def _json(name: str, value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UnsupportedValue(
            f"column {name!r} holds {type(value).__qualname__} values stored as jsonb, but "
            f"one is not JSON ({exc}); keep nested values to dicts, lists, str, int, float, "
            "bool and None"
        ) from exc


# -- pyarrow tables ----------------------------------------------------------------------

_ARROW_SCALARS: tuple[tuple[Callable[[pa.DataType], bool], str], ...] = (
    (pa.types.is_boolean, "boolean"),
    (lambda t: t in (pa.int8(), pa.int16(), pa.uint8()), "smallint"),
    (lambda t: t in (pa.int32(), pa.uint16()), "integer"),
    (lambda t: t in (pa.int64(), pa.uint32()), "bigint"),
    (lambda t: t == pa.uint64(), "numeric(20,0)"),
    (lambda t: t in (pa.float16(), pa.float32()), "real"),
    (lambda t: t == pa.float64(), "double precision"),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "text"),
    (pa.types.is_null, "text"),
    (
        lambda t: (
            pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)
        ),
        "bytea",
    ),
    (pa.types.is_date, "date"),
    (pa.types.is_time, "time without time zone"),
    (pa.types.is_duration, "interval"),
    (
        lambda t: (
            pa.types.is_list(t)
            or pa.types.is_large_list(t)
            or pa.types.is_fixed_size_list(t)
            or pa.types.is_struct(t)
        ),
        JSONB,
    ),
)


def arrow_pg_type(name: str, arrow_type: pa.DataType) -> str:
    """Return the PostgreSQL type a pyarrow column of ``arrow_type`` is stored as."""
    if pa.types.is_dictionary(arrow_type):
        return arrow_pg_type(name, arrow_type.value_type)
    if pa.types.is_timestamp(arrow_type):
        zone = "with" if arrow_type.tz is not None else "without"
        return f"timestamp {zone} time zone"
    if pa.types.is_decimal(arrow_type):
        if arrow_type.precision > 1000:
            raise UnsupportedValue(f"column {name!r}: {arrow_type} exceeds numeric(1000)")
        return f"numeric({arrow_type.precision},{arrow_type.scale})"
    for matches, pg_type in _ARROW_SCALARS:
        if matches(arrow_type):
            return pg_type
    raise UnsupportedValue(
        f"column {name!r} has pyarrow type {arrow_type}, which has no PostgreSQL mapping; "
        "cast it (e.g. table.cast(...)) to a supported type: see docs/postgres.md"
    )


def _arrow_column(name: str, column: pa.ChunkedArray) -> Column:
    pg_type = arrow_pg_type(name, column.type)
    arrow_type = column.type
    if pa.types.is_dictionary(arrow_type):
        column = column.cast(arrow_type.value_type)
        arrow_type = column.type
    # PostgreSQL keeps microseconds; a safe cast refuses to drop non-zero nanoseconds.
    if pa.types.is_timestamp(arrow_type) and arrow_type.unit == "ns":
        column = column.cast(pa.timestamp("us", arrow_type.tz))
    elif pa.types.is_time64(arrow_type) and arrow_type.unit == "ns":
        column = column.cast(pa.time64("us"))
    elif pa.types.is_duration(arrow_type) and arrow_type.unit == "ns":
        column = column.cast(pa.duration("us"))
    elif arrow_type == pa.float16():
        column = column.cast(pa.float32())
    values = column.to_pylist()
    if pg_type == JSONB:
        values = [None if v is None else _json(name, v) for v in values]
    return Column(name, pg_type, values)


# -- values out --------------------------------------------------------------------------


def decode_column(pg_type: str, values: list[Any]) -> list[Any]:
    """Turn fetched values of a column back into Python values (jsonb arrives as text)."""
    if pg_type == JSONB:
        return [None if v is None else json.loads(v) for v in values]
    return values


def rows_value(names: Sequence[str], columns: Sequence[list[Any]]) -> list[dict[str, Any]]:
    """Return stored columns as a list of dicts."""
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def table_value(kind: Kind, schema: pa.Schema, columns: Mapping[str, list[Any]]) -> Any:
    """Rebuild a stored table as ``kind`` from its schema and fetched columns."""
    arrays = []
    for field in schema:
        values = columns[field.name]
        if field.type == pa.uint64():
            values = [None if v is None else int(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    table = pa.Table.from_arrays(arrays, schema=schema)
    return _tabular.from_arrow(table, "pyarrow" if kind == "rows" else kind)


def schema_bytes(schema: pa.Schema) -> bytes:
    """Serialise a pyarrow schema (with its metadata) to store beside the rows."""
    return bytes(schema.serialize())


def schema_from_bytes(data: bytes) -> pa.Schema:
    """Read a schema written by ``schema_bytes``."""
    return pa.ipc.read_schema(pa.py_buffer(data))
