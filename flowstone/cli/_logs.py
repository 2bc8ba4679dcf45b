"""``flowstone logs RUN_ID``: the log lines captured during a run (read-only)."""

from __future__ import annotations

import click

from flowstone.cli._output import emit_json, err_console, esc
from flowstone.cli._state import EXIT_USAGE, State, errors_to_exit_codes, fail, json_option


@click.command()
@click.argument("run_id")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest LIMIT lines.")
@json_option
@click.pass_obj
def logs(state: State, run_id: str, limit: int | None) -> None:
    """Print the log lines captured during run RUN_ID, oldest first."""
    with errors_to_exit_codes(), state.runtime(read_only=True) as rt:
        known = rt._call(rt.aio.storage.get_run(run_id)) is not None
        url = rt.aio.storage.url
        lines = rt.logs(run_id, limit=limit) if known else []
    if not known:
        fail(f"no run {run_id!r} is recorded in {url}; `flowstone runs` lists them", EXIT_USAGE)
    if state.json:
        emit_json(lines)
        return
    if not lines:
        err_console().print(f"run {esc(run_id)} has no captured log lines")
        return
    for line in lines:
        where = line.asset or "-"
        if line.asset and line.partition is not None:
            where = f"{line.asset}[{line.partition}]"
        attempt = f" #{line.attempt}" if line.attempt is not None else ""
        at = line.at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        # Plain text: a log message is the user's, never markup.
        click.echo(f"{at} {line.level:<8} {where}{attempt} {line.logger}: {line.message}")
