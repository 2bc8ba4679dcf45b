"""Tenant isolation: act as one tenant, and the row-level security that enforces it.

Two halves that meet in one transaction-local PostgreSQL setting, ``flowstone.tenant``:

- In Python, ``tenant_scope("acme")`` marks the code inside it (and the tasks it starts) as
  acting for tenant ``acme``; ``current_tenant()`` reads it. The Postgres I/O manager refuses
  to touch another tenant's partitions inside a scope and, in every transaction it opens,
  sets ``flowstone.tenant`` to the tenant it acts for (``set_tenant``).
- In PostgreSQL, a policy on every tenant table keeps only the rows whose ``tenant`` column
  equals that setting, for reads (``USING``) and writes (``WITH CHECK``).
  ``tenant_policy_sql`` writes the statements; ``record_store_*_sql`` apply the same to
  FlowStone's own record tables.

The setting is transaction-local (``set_config(..., true)``, as ``SET LOCAL``): it ends with
the transaction, so a pooled connection never carries one tenant's setting into the next
borrower's work. See docs/postgres.md and docs/adr/0015-tenant-isolation-with-rls.md.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Sequence
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, Protocol

from flowstone.errors import ConfigurationError, TenantIsolationError

TENANT_SETTING = "flowstone.tenant"
"""The PostgreSQL setting the tenant policies compare the ``tenant`` column with."""

POLICY_NAME = "flowstone_tenant"
"""The name of the row-level security policy FlowStone creates on a tenant table."""

RECORD_TABLES = ("runs", "materializations", "materialization_inputs", "asset_partitions")
"""The record store tables that hold per-partition data, and so get a tenant column."""

POLICY_TABLES = (*RECORD_TABLES, "run_logs")
"""The tables ``record_store_policy_sql`` confines by default: the record tables and the
runs' captured log lines (which carry their run's tenant, and may quote its data)."""

_current: ContextVar[str | None] = ContextVar("flowstone.tenant", default=None)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# -- acting as one tenant ------------------------------------------------------------------


def without_tenant() -> contextvars.Context:
    """Return a copy of the current context with no tenant in scope.

    Long-lived runtime tasks (the supervision tree, the lineage writer) start in it, so a
    tenant scope around the first call never leaks into work done for every tenant.
    """
    context = contextvars.copy_context()
    context.run(_current.set, None)
    return context


def current_tenant() -> str | None:
    """Return the tenant the calling code acts for, or None outside any ``tenant_scope``."""
    return _current.get()


class TenantScope:
    """Act as one tenant inside a ``with`` or ``async with`` block (see ``tenant_scope``).

    The tenant is held in a context variable: asyncio tasks created inside the block inherit
    it, threads do not (run them with ``contextvars.copy_context().run``). Scopes nest only
    for the same tenant; entering another tenant's scope inside one raises
    ``TenantIsolationError``, so code handed a scope cannot step out of it by opening a
    second one.
    """

    __slots__ = ("_tokens", "tenant")

    def __init__(self, tenant: str) -> None:
        self.tenant = check_tenant(tenant)
        self._tokens: list[Token[str | None]] = []

    def __enter__(self) -> TenantScope:
        acting = _current.get()
        if acting is not None and acting != self.tenant:
            raise TenantIsolationError(
                f"cannot enter tenant_scope({self.tenant!r}): this code already acts for "
                f"tenant {acting!r}, and a scope cannot switch tenants; leave the "
                f"{acting!r} scope first",
                tenant=acting,
                owner=self.tenant,
            )
        self._tokens.append(_current.set(self.tenant))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _current.reset(self._tokens.pop())

    async def __aenter__(self) -> TenantScope:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    def __repr__(self) -> str:
        return f"<TenantScope {self.tenant!r}{' active' if self._tokens else ''}>"


def tenant_scope(tenant: str) -> TenantScope:
    """Return a context manager that makes the code inside it act for ``tenant``.

    Example::

        with fs.tenant_scope("acme"):
            rows = await manager.load(context)   # only acme's partitions; others refused

    Raises:
        ConfigurationError: ``tenant`` is not a non-empty string without NUL characters.
    """
    return TenantScope(tenant)


def check_tenant(tenant: Any) -> str:
    """Return ``tenant`` if it can name a tenant, else raise ``ConfigurationError``."""
    if not isinstance(tenant, str) or not tenant or "\x00" in tenant:
        raise ConfigurationError(
            f"a tenant must be a non-empty string without NUL characters, got {tenant!r}; "
            "pass the tenant's key, e.g. tenant_scope('acme')"
        )
    return tenant


# -- the transaction-local setting ---------------------------------------------------------


class _Connection(Protocol):
    def is_in_transaction(self) -> bool: ...

    async def execute(self, query: str, *args: Any) -> str: ...


async def set_tenant(connection: _Connection, tenant: str | None = None) -> None:
    """Set ``flowstone.tenant`` for the rest of the open transaction of an asyncpg connection.

    ``tenant`` defaults to ``current_tenant()``; None (outside any scope) clears it, so the
    tenant policies show nothing. The value is a bound parameter, never spliced into SQL.

    Raises:
        TenantIsolationError: no transaction is open (a session-wide setting would outlive
            the caller's work on a pooled connection; use ``async with conn.transaction():``),
            or ``tenant`` differs from the tenant of the enclosing ``tenant_scope``.
    """
    if not connection.is_in_transaction():
        raise TenantIsolationError(
            "set_tenant() needs an open transaction: the setting is transaction-local so "
            "that it cannot leak to the next user of a pooled connection; call it inside "
            "`async with connection.transaction():`",
            tenant=tenant,
        )
    acting = current_tenant()
    if tenant is not None and acting is not None and check_tenant(tenant) != acting:
        raise TenantIsolationError(
            f"cannot set tenant {tenant!r} inside tenant_scope({acting!r}): code acting for "
            f"one tenant cannot act for another; leave the scope first",
            tenant=acting,
            owner=tenant,
        )
    value = acting if tenant is None else check_tenant(tenant)
    await connection.execute("SELECT set_config($1, $2, true)", TENANT_SETTING, value or "")


# -- row-level security --------------------------------------------------------------------


def quote_identifier(name: str, what: str = "identifier") -> str:
    """Return ``name`` double-quoted after checking it is a plain SQL identifier.

    Raises:
        ConfigurationError: ``name`` is not letters, digits and underscores starting with a
            letter or underscore, or is longer than PostgreSQL's 63 bytes.
    """
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or len(name) > 63:
        raise ConfigurationError(
            f"{what} {name!r} is not a plain SQL identifier: use 1 to 63 letters, digits and "
            "underscores, starting with a letter or underscore (e.g. 'daily_orders')"
        )
    return f'"{name}"'


def tenant_policy_sql(
    table: str,
    *,
    schema: str = "public",
    column: str = "tenant",
    force: bool = True,
    shared_rows: bool = False,
) -> tuple[str, ...]:
    """Return the statements that confine ``schema.table`` to the current tenant's rows.

    A row is visible, and may be written, only when its ``column`` equals the
    ``flowstone.tenant`` setting; with no setting nothing is visible. Run them as the table's
    owner, in one transaction; running them again replaces the policy (idempotent).

    Args:
        table, schema: the table; plain identifiers, quoted in the SQL.
        column: the tenant column.
        force: also subject the table's owner to the policy (``FORCE ROW LEVEL SECURITY``).
            Superusers and roles with ``BYPASSRLS`` are never subject to it.
        shared_rows: also let every tenant read (not write) rows whose tenant is NULL,
            i.e. rows of assets without a tenant dimension.
    """
    qualified = f"{quote_identifier(schema, 'schema')}.{quote_identifier(table, 'table')}"
    own = f"{quote_identifier(column, 'column')} = current_setting('{TENANT_SETTING}', true)"
    statements = [
        f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {qualified} {'' if force else 'NO '}FORCE ROW LEVEL SECURITY",
        f'DROP POLICY IF EXISTS "{POLICY_NAME}" ON {qualified}',
        f'CREATE POLICY "{POLICY_NAME}" ON {qualified} USING ({own}) WITH CHECK ({own})',
        f'DROP POLICY IF EXISTS "{POLICY_NAME}_shared" ON {qualified}',
    ]
    if shared_rows:
        shared = f"{quote_identifier(column, 'column')} IS NULL"
        statements.append(
            f'CREATE POLICY "{POLICY_NAME}_shared" ON {qualified} FOR SELECT USING ({shared})'
        )
    return tuple(statements)


def record_store_tenant_columns_sql(
    schema: str = "flowstone", *, column: str = "tenant", tables: Sequence[str] = RECORD_TABLES
) -> tuple[str, ...]:
    """Return statements that give the record store's tables a nullable tenant column.

    ``PostgresStorage`` adds these columns itself (schema version 2 of the record store,
    applied when it opens), so this is needed only for tables managed by hand, or to prepare
    an older store ahead of the upgrade (the migration then keeps what it finds). The column
    holds the record's tenant (NULL for shared records); an index per table keeps the
    policy's filter cheap. Idempotent.
    """
    quoted_schema = quote_identifier(schema, "schema")
    quoted_column = quote_identifier(column, "column")
    statements: list[str] = []
    for table in tables:
        qualified = f"{quoted_schema}.{quote_identifier(table, 'table')}"
        statements.append(f"ALTER TABLE {qualified} ADD COLUMN IF NOT EXISTS {quoted_column} text")
        statements.append(
            f'CREATE INDEX IF NOT EXISTS "{table}_by_{column}" ON {qualified} ({quoted_column})'
        )
    return tuple(statements)


def record_store_policy_sql(
    schema: str = "flowstone",
    *,
    column: str = "tenant",
    shared_rows: bool = True,
    tables: Sequence[str] = POLICY_TABLES,
) -> tuple[str, ...]:
    """Return the statements that apply tenant policies to the record store's tables
    (``POLICY_TABLES``: the record tables and the captured run logs).

    The owner is not forced under the policies (``force=False``): the runtime's lineage
    writer owns these tables and commits records of many tenants in one transaction (group
    commit), so it must act for all of them. Every other role (dashboards, tenant-facing
    APIs, analysts) sees only its tenant's records, plus, with ``shared_rows``, the records
    of assets without a tenant dimension. Needs the tenant columns: open the store with
    ``PostgresStorage`` first (it migrates them in), or run
    ``record_store_tenant_columns_sql``. ``PostgresStorage`` sets ``flowstone.tenant`` in
    every transaction it runs inside ``tenant_scope``, so a store opened as a confined role
    reads and writes one tenant's records.
    """
    statements: list[str] = []
    for table in tables:
        statements.extend(
            tenant_policy_sql(
                table, schema=schema, column=column, force=False, shared_rows=shared_rows
            )
        )
    return tuple(statements)


__all__ = (
    "POLICY_NAME",
    "POLICY_TABLES",
    "RECORD_TABLES",
    "TENANT_SETTING",
    "TenantScope",
    "check_tenant",
    "current_tenant",
    "quote_identifier",
    "record_store_policy_sql",
    "record_store_tenant_columns_sql",
    "set_tenant",
    "tenant_policy_sql",
    "tenant_scope",
    "without_tenant",
)
