"""``flowstone logs RUN_ID``: the log lines captured during a run."""

from __future__ import annotations

from typing import Any

import click

from flowstone.cli._commands import EXIT_USAGE, State, _fail, with_runtime
from flowstone.cli._output import emit_json, err_console, label


@click.command()
@click.argument("run_id")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest LIMIT lines.")
@with_runtime
def logs(state: State, rt: Any, run_id: str, limit: int | None) -> None:
    """Print the log lines captured during run RUN_ID, oldest first."""
    if rt._call(rt.aio.storage.get_run(run_id)) is None:
        _fail(
            f"no run {run_id!r} is recorded in {rt.aio.storage.url}; "
            f"`flowstone runs` lists the recorded runs",
            EXIT_USAGE,
        )
    lines = rt.logs(run_id, limit=limit)
    if state.json:
        emit_json(lines)
        return
    if not lines:
        err_console.print(f"run {run_id} has no captured log lines")
        return
    for line in lines:
        where = label(line.asset, line.partition) if line.asset else "-"
        attempt = f" #{line.attempt}" if line.attempt is not None else ""
        at = line.at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        click.echo(f"{at} {line.level:<8} {where}{attempt} {line.logger}: {line.message}")
