"""The PostgreSQL privileges of an application role on the approvals tables.

The tables' owner (the role that migrates the store) is not confined by grants, so the
append-only audit rests first on the triggers, which refuse UPDATE, DELETE and TRUNCATE
whoever asks. An application role should in addition hold only what it needs: on the
audit table INSERT and SELECT, nothing else.
"""

from __future__ import annotations

from flowstone.tenancy import quote_identifier


def app_role_grants_sql(role: str, schema: str = "flowstone") -> tuple[str, ...]:
    """Return the statements granting ``role`` what the approvals wing needs, and no more.

    ``approval_audit``: SELECT and INSERT only (the database refuses the rest anyway);
    ``approvals``: SELECT, INSERT and UPDATE (decisions are conditional updates; a trigger
    refuses changes to decided rows); no DELETE or TRUNCATE on either.
    """
    s, r = quote_identifier(schema), quote_identifier(role)
    return (
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"REVOKE ALL ON {s}.approval_audit, {s}.approvals FROM {r}",
        f"GRANT SELECT, INSERT ON {s}.approval_audit TO {r}",
        f"GRANT SELECT, INSERT, UPDATE ON {s}.approvals TO {r}",
    )
