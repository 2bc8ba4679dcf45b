"""``PostgresOptions``: the per-asset options of ``PostgresIOManager``.

Internal, not part of the public API (the class is reachable as
``PostgresIOManager.options_model``).
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator, model_validator

from flowstone.errors import ConfigurationError
from flowstone.tenancy import quote_identifier

from ._manager import IOOptions
from ._postgres_sql import PARTITIONS_TABLE, ROW_COLUMN


class PostgresOptions(IOOptions):
    """Per-asset options of ``PostgresIOManager``.

    Attributes:
        table: the table; default: the asset name. May be schema-qualified
            (``"analytics.orders"``).
        schema: the table's schema; default: the manager's ``schema``.
        partition_column: the column holding the partition key (default ``partition_key``).
    """

    model_config = ConfigDict(populate_by_name=True)

    table: str | None = None
    db_schema: str | None = Field(default=None, alias="schema")
    partition_column: str = "partition_key"

    @field_validator("table")
    @classmethod
    def _table_name(cls, table: str | None) -> str | None:
        if table is None:
            return None
        parts = table.split(".")
        if len(parts) > 2:
            raise ValueError(f"table {table!r} has more than one '.'; write 'schema.table'")
        if len(parts) == 2:
            quote_identifier(parts[0], "schema")
        quote_identifier(parts[-1], "table")
        check_not_reserved(parts[-1])
        return table

    @field_validator("db_schema")
    @classmethod
    def _schema_name(cls, schema: str | None) -> str | None:
        if schema is not None:
            quote_identifier(schema, "schema")
        return schema

    @field_validator("partition_column")
    @classmethod
    def _partition_column(cls, column: str) -> str:
        quote_identifier(column, "partition_column")
        if column == ROW_COLUMN:
            raise ValueError(f"partition_column cannot be {ROW_COLUMN!r} (FlowStone's own)")
        return column

    @model_validator(mode="after")
    def _one_schema(self) -> PostgresOptions:
        if self.table and "." in self.table and self.db_schema is not None:
            named = self.table.split(".", 1)[0]
            if named != self.db_schema:
                raise ValueError(
                    f"table {self.table!r} names schema {named!r} but schema is "
                    f"{self.db_schema!r}; give the schema once"
                )
        return self


def check_not_reserved(table: str) -> None:
    """Refuse FlowStone's bookkeeping table as an asset table."""
    if table == PARTITIONS_TABLE:
        raise ConfigurationError(
            f"table {table!r} is FlowStone's bookkeeping table; choose another table name"
        )
