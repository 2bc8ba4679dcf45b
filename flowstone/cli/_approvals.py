"""``flowstone approvals ...`` and ``flowstone audit``: the approval queue and the audit
report from the command line.

A decision made here puts its run on the run queue: when a daemon of the pipeline is
live, the daemon continues it and the CLI says "queued for the daemons"; otherwise the
CLI resumes it in this process (and waits until the run is done or waits at another gate),
so approving from a terminal continues a run started anywhere. Exit codes as for every
command, plus: 1 the approval was already decided (someone else won), 2 unknown approval
id or an invalid decision.
"""

from __future__ import annotations

import datetime as dt
import functools
import getpass
import json
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from flowstone.approvals import Approval
from flowstone.approvals._report import audit_json
from flowstone.approvals._report_format import to_csv, to_markdown
from flowstone.cli._output import console, emit_json, esc, fmt_time, label, table
from flowstone.cli._state import (
    EXIT_FAILED,
    EXIT_USAGE,
    State,
    errors_to_exit_codes,
    fail,
    json_option,
)
from flowstone.errors import ApprovalAlreadyDecided, ApprovalNotFound, InvalidDecision

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def default_actor() -> str:
    """``user@host`` of whoever runs the command (recorded as the decider)."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


@contextmanager
def decision_errors() -> Iterator[None]:
    """Map decision errors to exit codes with a readable message (others as every command
    does)."""
    with errors_to_exit_codes():
        try:
            yield
        except ApprovalAlreadyDecided as exc:
            fail(str(exc), EXIT_FAILED)
        except (ApprovalNotFound, InvalidDecision) as exc:
            fail(str(exc), EXIT_USAGE)


def with_runtime(*, read_only: bool) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate a command body receiving (state, runtime, ...): the runtime is built for
    the command (``read_only`` refuses a store that does not exist) and closed after it;
    errors exit with the documented codes."""

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        @click.pass_obj
        @functools.wraps(fn)
        def command(state: State, *args: Any, **kwargs: Any) -> None:
            with decision_errors(), state.runtime(read_only=read_only) as rt:
                fn(state, rt, *args, **kwargs)

        return command

    return decorate


def _age(text: str | None) -> dt.timedelta | None:
    if text is None:
        return None
    found = _AGE.match(text.strip())
    if found is None:
        raise click.BadParameter(f"expected an age such as 30m, 2h or 1d, got {text!r}")
    return dt.timedelta(**{_UNITS[found.group(2)]: float(found.group(1))})


def _row(a: Approval) -> list[Any]:
    return [
        a.id,
        label(a.checkpoint, a.partition_key),
        a.status,
        a.run_id,
        fmt_time(a.requested_at),
        fmt_time(a.timeout_at) or "-",
        a.escalated_to or "",
        (a.message or "")[:60],
    ]


_COLUMNS = ["id", "gate", "status", "run", "requested", "deadline", "escalated to", "message"]


@click.group()
def approvals() -> None:
    """List and decide checkpoint approvals."""


@approvals.command(name="list")
@click.option("--checkpoint", "-c", help="Only this checkpoint.")
@click.option("--partition", "-p", help="Only this partition key.")
@click.option("--from", "first", help="First partition of a range (needs --checkpoint).")
@click.option("--to", "last", help="Last partition of a range, inclusive.")
@click.option("--older-than", help="Only requests at least this old: 30m, 2h, 1d.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@json_option
@with_runtime(read_only=True)
def list_approvals(
    state: State,
    rt: Any,
    checkpoint: str | None,
    partition: str | None,
    first: str | None,
    last: str | None,
    older_than: str | None,
    limit: int | None,
) -> None:
    """List open approvals (pending and escalated), oldest first."""
    found = rt.approvals.pending(
        checkpoint,
        partition,
        partition_range=(first, last) if first or last else None,
        older_than=_age(older_than),
        limit=limit,
    )
    if state.json:
        emit_json([a.to_json() for a in found])
        return
    table(f"{len(found)} open approval(s)", _COLUMNS, [_row(a) for a in found])


@approvals.command()
@click.argument("approval_id")
@json_option
@with_runtime(read_only=True)
def show(state: State, rt: Any, approval_id: str) -> None:
    """Show one approval, the value under review and its audit trail."""
    approval = rt.approvals.get(approval_id)
    trail = rt._call(rt.aio.gates.store.audit(approval_id=approval_id))
    data = {**approval.to_json(), "audit": [audit_json(e) for e in trail]}
    if state.json:
        emit_json(data)
        return
    for key in (
        "id",
        "checkpoint",
        "partition",
        "run_id",
        "status",
        "message",
        "requested_at",
        "timeout_at",
        "decided_by",
        "decided_at",
        "reason",
        "escalated_to",
        "escalation_count",
    ):
        shown = data[key] if data[key] is not None else "-"
        console().print(f"[bold]{key}[/bold]: {esc(shown)}")
    console().print("[bold]value[/bold]:")
    console().print_json(json.dumps(data["value"], default=str))
    table(
        "audit trail",
        ["seq", "event", "actor", "at", "reason"],
        [[e["seq"], e["event"], e["actor"], e["at"], e["reason"] or ""] for e in data["audit"]],
    )


def _after_decision(state: State, rt: Any, decided: list[Approval], wait: bool) -> None:
    if wait:
        # Runs this process resumes (no daemon is live): let them finish. Runs handed to
        # live daemons are not waited for.
        rt._call(rt.aio.gates.settle())
    if state.json:
        emit_json([a.to_json() for a in decided])
        return
    for a in decided:
        where = label(a.checkpoint, a.partition_key)
        console().print(esc(f"{a.status}: {where} ({a.id}, run {a.run_id})"))
    for run_id in sorted({a.run_id for a in decided} & rt.aio.gates.handed_to_daemons):
        console().print(esc(f"run {run_id}: queued for the daemons"))


_BY = click.option("--by", default=default_actor, show_default="user@host", help="Who decides.")
_WAIT = click.option(
    "--no-wait", "no_wait", is_flag=True, help="Do not wait for the resumed run(s)."
)


@approvals.command()
@click.argument("approval_ids", nargs=-1)
@click.option("--checkpoint", "-c", help="Bulk: every open approval of this checkpoint ...")
@click.option("--from", "first", help="... with a partition from this key ...")
@click.option("--to", "last", help="... to this key (inclusive) ...")
@click.option("--older-than", help="... requested at least this long ago (30m, 2h, 1d).")
@_BY
@click.option("--reason", help="Why (recorded in the audit trail).")
@_WAIT
@json_option
@with_runtime(read_only=False)
def approve(
    state: State,
    rt: Any,
    approval_ids: tuple[str, ...],
    checkpoint: str | None,
    first: str | None,
    last: str | None,
    older_than: str | None,
    by: str,
    reason: str | None,
    no_wait: bool,
) -> None:
    """Approve APPROVAL_IDS, or in bulk every open approval of --checkpoint matching the
    filters (each one decided and audited separately)."""
    if bool(approval_ids) == bool(checkpoint):
        raise click.UsageError("give approval ids, or --checkpoint for a bulk approval")
    decided: list[Approval] = []
    if checkpoint:
        bulk = rt.approvals.approve_all(
            checkpoint,
            by=by,
            reason=reason,
            partition_range=(first, last) if first or last else None,
            older_than=_age(older_than),
        )
        decided = bulk.decided
        for approval_id, why in bulk.skipped:
            console().print(esc(f"skipped {approval_id}: {why}"))
    else:
        decided = [rt.approvals.approve(i, by=by, reason=reason) for i in approval_ids]
    _after_decision(state, rt, decided, not no_wait)


@approvals.command()
@click.argument("approval_id")
@click.option("--value", "value_text", required=True, help="The new value as JSON, or @FILE.")
@_BY
@click.option("--reason", help="Why (recorded in the audit trail).")
@_WAIT
@json_option
@with_runtime(read_only=False)
def modify(
    state: State,
    rt: Any,
    approval_id: str,
    value_text: str,
    by: str,
    reason: str | None,
    no_wait: bool,
) -> None:
    """Approve APPROVAL_ID with another value (checked against the gate's type)."""
    text = Path(value_text[1:]).read_text() if value_text.startswith("@") else value_text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"--value is not valid JSON: {exc}") from None
    decided = [rt.approvals.modify(approval_id, value, by=by, reason=reason)]
    _after_decision(state, rt, decided, not no_wait)


@approvals.command()
@click.argument("approval_id")
@_BY
@click.option("--reason", required=True, help="Why (required; recorded and shown in the run).")
@_WAIT
@json_option
@with_runtime(read_only=False)
def reject(state: State, rt: Any, approval_id: str, by: str, reason: str, no_wait: bool) -> None:
    """Reject APPROVAL_ID: its run fails with the reason."""
    decided = [rt.approvals.reject(approval_id, by=by, reason=reason)]
    _after_decision(state, rt, decided, not no_wait)


@click.command()
@click.argument("asset")
@click.option("--partition", "-p", help="Partition key, e.g. 2025-01-15.")
@click.option("--json", "fmt", flag_value="json", help="JSON (as the global --json).")
@click.option("--markdown", "fmt", flag_value="markdown", help="A Markdown report (default).")
@click.option("--csv", "fmt", flag_value="csv", help="CSV, one row per event.")
@with_runtime(read_only=True)
def audit(state: State, rt: Any, asset: str, partition: str | None, fmt: str | None) -> None:
    """Audit report of ASSET: executions, lineage, approvals, content digests."""
    report = rt.audit.report(asset, partition)
    if state.json or fmt == "json":
        emit_json(report)
    elif fmt == "csv":
        click.echo(to_csv(report), nl=False)
    else:
        click.echo(to_markdown(report), nl=False)
