"""Commands that materialize: ``materialize`` and ``backfill``."""

from __future__ import annotations

import sys
from typing import Any

import click

from flowstone.cli._interrupt import interrupted_report
from flowstone.cli._output import console, emit_json, err_console, esc, fmt_duration, label
from flowstone.cli._state import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    State,
    errors_to_exit_codes,
    json_option,
    require_partition,
    require_partitioned,
)
from flowstone.errors import BackfillInterrupted


@click.command()
@click.argument("asset")
@click.option("--partition", "-p", help="Partition key, e.g. 2025-01-15.")
@click.option("--with-upstream", is_flag=True, help="Materialize the upstream closure too.")
@json_option
@click.pass_obj
def materialize(state: State, asset: str, partition: str | None, with_upstream: bool) -> None:
    """Materialize ASSET (and with --with-upstream its whole upstream closure)."""
    with errors_to_exit_codes():
        require_partition(state.pipeline(), asset, partition)
        with state.runtime(read_only=False) as rt:
            run = (rt.materialize_all if with_upstream else rt.materialize)(asset, partition)
    if state.json:
        emit_json(run)
        return
    out = console()
    for m in run.materializations:
        out.print(
            f"[green]✓[/green] {label(m.asset, m.partition_key)}  "
            f"{fmt_duration(m.duration)}  attempt {m.attempt}"
        )
    out.print(f"run {esc(run.run_id)} succeeded ({len(run.materializations)} materializations)")


@click.command()
@click.argument("asset")
@click.argument("keys", nargs=-1)
@click.option("--from", "first", help="First partition of a range.")
@click.option("--to", "last", help="Last partition of a range (inclusive).")
@click.option("--max-parallel", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--force", is_flag=True, help="Re-run partitions that already succeeded.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
@json_option
@click.pass_obj
def backfill(
    state: State,
    asset: str,
    keys: tuple[str, ...],
    first: str | None,
    last: str | None,
    max_parallel: int,
    force: bool,
    progress: bool | None,
) -> None:
    """Backfill ASSET over KEYS or --from/--to; skips partitions that already succeeded.

    Ctrl-C cancels the backfill as a whole (partitions in flight recorded as cancelled, no
    new one started), prints what was done and left, and exits 130; the same command
    resumes.
    """
    if keys and (first or last):
        raise click.UsageError("give partition KEYS or --from/--to, not both")
    if bool(first) != bool(last):
        raise click.UsageError("--from and --to go together")
    partitions: Any = list(keys) if keys else f"{first}..{last}" if first else None
    if partitions is None:
        raise click.UsageError("give partition KEYS or a range with --from and --to")
    show = sys.stderr.isatty() if progress is None else progress
    with errors_to_exit_codes():
        require_partitioned(state.pipeline(), asset)
    with errors_to_exit_codes(), state.runtime(read_only=False) as rt:
        result = _run_backfill(rt, asset, partitions, max_parallel, force, show and not state.json)
    if state.json:
        emit_json(result)
    else:
        out = console()
        out.print(
            f"backfill {esc(result.backfill_id)}: {len(result.succeeded)} succeeded, "
            f"{len(result.failed)} failed, {len(result.skipped)} skipped (already succeeded)"
        )
        for key, error in list(result.errors.items())[:20]:
            out.print(f"  [red]✗[/red] {esc(key)}: {esc(error)}", soft_wrap=True)
    if result.failed:
        sys.exit(EXIT_FAILED)


def _run_backfill(
    rt: Any, asset: str, partitions: Any, max_parallel: int, force: bool, progress: bool
) -> Any:
    """Run the backfill; on Ctrl-C report what was done and left, and exit 130."""
    try:
        return rt.backfill(asset, partitions, max_parallel, force=force, progress=progress)
    except BackfillInterrupted as interrupted:
        # The runtime cancelled the backfill as a whole before raising: the counts are final.
        err = err_console()
        for line in interrupted_report(interrupted.result, asset):
            err.print(esc(line), soft_wrap=True)
        sys.exit(EXIT_INTERRUPTED)
