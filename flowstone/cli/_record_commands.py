"""Commands that read the records: ``lineage``, ``runs``, ``materializations``, and the
``storage`` maintenance group. None of them creates a store or sets a resource up."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from flowstone.cli._output import (
    console,
    describe_error,
    emit_json,
    esc,
    fmt_duration,
    fmt_key,
    fmt_time,
    label,
    table,
)
from flowstone.cli._state import State, errors_to_exit_codes, json_option, require_partition


def encoded(pipeline: Any, asset: str, key: Any) -> str | None:
    """The key of ``asset`` as the store encodes it (``None`` for an unpartitioned asset)."""
    if key is None:
        return None
    definition = pipeline.get(asset).partitions
    return definition.encode(key) if definition is not None else fmt_key(key)


@click.command()
@click.argument("asset")
@click.option("--partition", "-p", help="Partition key, e.g. 2025-01-15.")
@click.option("--downstream", is_flag=True, help="Recorded downstream instead of upstream.")
@click.option("--impact", is_flag=True, help="What is affected if ASSET changes (definitions).")
@click.option("--stale", is_flag=True, help="Downstream materializations that are stale.")
@json_option
@click.pass_obj
def lineage(
    state: State,
    asset: str,
    partition: str | None,
    downstream: bool,
    impact: bool,
    stale: bool,
) -> None:
    """Show where ASSET (PARTITION) came from, what consumed it, or what it impacts."""
    with errors_to_exit_codes():
        if not (stale or impact):
            require_partition(state.pipeline(), asset, partition)
        with state.runtime(read_only=True) as rt:
            if stale:
                _stale(state, rt, asset)
                return
            if impact:
                entries: Any = rt.lineage.impact(asset, partition)
            else:
                query = rt.lineage.downstream if downstream else rt.lineage.upstream
                entries = query(asset, partition)
    if state.json:
        emit_json(entries)
        return
    out = console()
    direction = "impact of" if impact else "downstream of" if downstream else "upstream of"
    out.print(f"{direction} {label(asset, partition)}:")
    for entry in entries:
        if isinstance(entry, tuple):
            name, key = entry
            out.print("  " + label(name, encoded(state.pipeline(), name, key)))
        else:
            out.print("  " + esc(entry))
    if not entries:
        out.print("  (nothing recorded)")


def _stale(state: State, rt: Any, asset: str) -> None:
    entries = rt.lineage.stale(asset if asset != "*" else None)
    if state.json:
        emit_json(entries)
        return
    out = console()
    for s in entries:
        where = label(s.asset, encoded(state.pipeline(), s.asset, s.partition))
        out.print(f"{where}: {esc(s.reason)}")
    if not entries:
        out.print("nothing is stale")


@click.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--status")
@json_option
@click.pass_obj
def runs(state: State, limit: int, status: str | None) -> None:
    """List recent runs, newest first."""
    with errors_to_exit_codes(), state.runtime(read_only=True) as rt:
        records = rt.runs(limit, status)
    if state.json:
        emit_json(records)
        return
    table(
        "runs",
        ["run", "kind", "targets", "partition", "status", "started", "triggered by"],
        [
            [
                r.run_id,
                r.kind,
                ",".join(r.targets),
                r.partition,
                r.status,
                fmt_time(r.started_at),
                r.triggered_by,
            ]
            for r in records
        ],
    )


@click.command()
@click.argument("asset")
@click.option("--partition", "-p")
@click.option("--limit", default=20, show_default=True)
@json_option
@click.pass_obj
def materializations(state: State, asset: str, partition: str | None, limit: int) -> None:
    """List recorded materializations of ASSET, newest first, with the errors of failed
    attempts."""
    with errors_to_exit_codes():
        state.pipeline().get(asset)
        with state.runtime(read_only=True) as rt:
            records = rt.materializations(asset, partition, limit=limit)
    if state.json:
        emit_json(records)
        return
    table(
        f"materializations of {asset}",
        ["partition", "status", "attempt", "run", "finished", "duration", "inputs"],
        [
            [
                m.partition_key,
                m.status,
                m.attempt,
                m.run_id,
                fmt_time(m.finished_at),
                fmt_duration(m.duration),
                len(m.inputs),
            ]
            for m in records
        ],
    )
    out = console()
    for m in records:
        if m.error is not None:
            where = label(asset, m.partition_key)
            out.print(
                f"  [red]✗[/red] {where} attempt {m.attempt} ({m.status}): "
                f"{esc(describe_error(m.error))}",
                soft_wrap=True,
            )


@click.group()
def storage() -> None:
    """Maintain the record store."""


@storage.command()
@click.option(
    "--older-than",
    required=True,
    help="Age such as 90d, 12h or 30m: delete materializations finished before now minus it.",
)
@json_option
@click.pass_obj
def prune(state: State, older_than: str) -> None:
    """Delete old materialization records of this pipeline, keeping the latest of every
    (asset, partition) and everything lineage still points to."""
    cutoff = dt.datetime.now(dt.UTC) - parse_age(older_than)
    with errors_to_exit_codes(), state.runtime(read_only=True) as rt:
        deleted = rt._call(rt.aio.storage.prune(cutoff))
    if state.json:
        emit_json({"deleted": deleted, "cutoff": cutoff})
    else:
        console().print(
            f"deleted {deleted} materialization records finished before {cutoff:%Y-%m-%d %H:%M} UTC"
        )


def parse_age(text: str) -> dt.timedelta:
    """Parse ``90d`` / ``12h`` / ``30m`` / ``45s`` into a timedelta."""
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise click.BadParameter(
            f"expected a number followed by d, h, m or s (e.g. 90d), got {text!r}",
            param_hint="--older-than",
        )
    return dt.timedelta(**{units[unit]: int(number)})
