"""Tables in and out of Parquet: pyarrow Tables, and pandas / polars DataFrames when installed.

Internal, not part of the public API. The kind of value stored ("pyarrow", "pandas",
"polars") is written into the Parquet file's key-value metadata, so a load gives back the
kind that was stored even without the materialization record.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

TableKind = Literal["pyarrow", "pandas", "polars"]
KIND_KEY = b"flowstone.kind"

_log = logging.getLogger("flowstone.io")


def table_kind(value: Any) -> TableKind | None:
    """Return the kind of a table-like value, or None when it is not one."""
    if isinstance(value, pa.Table):
        return "pyarrow"
    # Look the libraries up only if the program already imported them: a value cannot be a
    # pandas DataFrame otherwise, and importing pandas just to check costs ~0.5 s.
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return "pandas"
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(value, polars.DataFrame):
        return "polars"
    return None


def to_arrow(value: Any) -> tuple[pa.Table, TableKind]:
    """Convert a table-like value to a pyarrow Table tagged with its kind.

    Raises:
        TypeError: the value is not a pyarrow Table, pandas or polars DataFrame.
    """
    kind = table_kind(value)
    if kind is None:
        raise TypeError(
            f"expected a pyarrow.Table, pandas.DataFrame or polars.DataFrame, "
            f"got {type(value).__module__}.{type(value).__qualname__}"
        )
    if kind == "pandas":
        table = pa.Table.from_pandas(value)
    elif kind == "polars":
        table = value.to_arrow()
    else:
        table = value
    metadata = dict(table.schema.metadata or {})
    metadata[KIND_KEY] = kind.encode()
    return table.replace_schema_metadata(metadata), kind


def stored_kind(table: pa.Table) -> TableKind:
    """Return the kind recorded in a table's schema metadata ("pyarrow" when absent)."""
    raw = (table.schema.metadata or {}).get(KIND_KEY, b"pyarrow").decode()
    return raw if raw in ("pandas", "polars") else "pyarrow"


def from_arrow(table: pa.Table, kind: TableKind) -> Any:
    """Give ``table`` back as ``kind``; a pyarrow Table if that library is not installed."""
    if kind == "pyarrow":
        return table
    try:
        if kind == "pandas":
            return table.to_pandas()
        import polars

        return polars.from_arrow(_without_kind(table))
    except ImportError:
        _log.warning(
            "stored as a %s DataFrame but %s is not installed: loading a pyarrow.Table", kind, kind
        )
        return table


def _without_kind(table: pa.Table) -> pa.Table:
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != KIND_KEY}
    return table.replace_schema_metadata(metadata or None)


def schema_text(schema: pa.Schema) -> str:
    """The schema as ``name: type`` lines, without pandas' or FlowStone's metadata."""
    return str(schema.remove_metadata().to_string(show_field_metadata=False))


def schema_fields(schema: pa.Schema) -> list[dict[str, Any]]:
    """The schema as a JSON-friendly list of ``{"name", "type", "nullable"}``."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


def table_metadata(table: pa.Table, kind: TableKind) -> dict[str, Any]:
    """What a materialization records about a stored table."""
    return {
        "kind": kind,
        "rows": table.num_rows,
        "columns": table.num_columns,
        "schema": schema_text(table.schema),
        "fields": schema_fields(table.schema),
    }


def parquet_bytes(
    table: pa.Table, *, compression: str | None = "snappy", compression_level: int | None = None
) -> bytes:
    """Serialise ``table`` as one Parquet file in memory."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=compression, compression_level=compression_level)
    return bytes(sink.getvalue())


def read_parquet_bytes(data: bytes) -> pa.Table:
    """Read one Parquet file held in memory."""
    return pq.read_table(pa.BufferReader(data))
