"""The ``flowstone`` command line.

Exit codes: 0 success; 1 an asset failed (run failed, or a backfill with failed partitions);
2 bad usage or input (unknown asset, invalid partition, missing upstream); 3 the pipeline
definition is invalid; 4 configuration or storage cannot be used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from flowstone.cli._config import Settings, import_object, load_settings
from flowstone.cli._output import (
    console,
    emit_json,
    err_console,
    fmt_duration,
    fmt_time,
    label,
    table,
)
from flowstone.errors import (
    AssetNotFound,
    ConfigurationError,
    DefinitionError,
    InvalidPartition,
    MissingUpstream,
    RunFailed,
    StorageError,
)

EXIT_FAILED, EXIT_USAGE, EXIT_DEFINITION, EXIT_CONFIG = 1, 2, 3, 4


class State:
    """What every command needs: settings, output mode, and lazily the pipeline/runtime."""

    def __init__(self, settings: Settings, as_json: bool) -> None:
        self.settings = settings
        self.json = as_json

    def pipeline(self) -> Any:
        if not self.settings.pipeline:
            raise ConfigurationError(
                'no pipeline configured: add `pipeline = "module:attribute"` under '
                "[flowstone] in flowstone.toml, set FLOWSTONE_PIPELINE, or pass --pipeline"
            )
        return import_object(self.settings.pipeline, self.settings.root, self.settings.python_path)

    def runtime(self) -> Any:
        from flowstone.runtime._sync_runtime import Runtime

        s = self.settings
        kwargs: dict[str, Any] = {}
        if s.runtime:
            kwargs = dict(import_object(s.runtime, s.root, s.python_path)())
        base_dir = (s.root / s.base_dir).resolve()
        storage = s.storage
        if storage and storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
            storage = f"sqlite:///{(s.root / storage[len('sqlite:///') :]).resolve()}"
        return Runtime(self.pipeline(), storage=storage, base_dir=base_dir, **kwargs)


@contextmanager
def errors_to_exit_codes() -> Iterator[None]:
    """Print FlowStone errors readably and exit with the documented code."""
    try:
        yield
    except DefinitionError as exc:
        _fail(str(exc), EXIT_DEFINITION)
    except (AssetNotFound, InvalidPartition, MissingUpstream) as exc:
        _fail(str(exc), EXIT_USAGE)
    except RunFailed as exc:
        _fail(str(exc), EXIT_FAILED)
    except (ConfigurationError, StorageError) as exc:
        _fail(str(exc), EXIT_CONFIG)


def _fail(message: str, code: int) -> None:
    err_console.print(f"[bold red]error:[/bold red] {message}", markup=True)
    sys.exit(code)


def with_runtime(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command body receiving (state, runtime, ...)."""

    @click.pass_obj
    def wrapper(state: State, *args: Any, **kwargs: Any) -> Any:
        with errors_to_exit_codes():
            rt = state.runtime()
            try:
                return fn(state, rt, *args, **kwargs)
            finally:
                rt.close()

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@click.group()
@click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), help="flowstone.toml to use."
)
@click.option("--pipeline", help="The pipeline as module:attribute (overrides the config).")
@click.option("--storage", help="Storage URL (sqlite:///PATH, memory, postgresql://...).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
@click.pass_context
def cli(
    ctx: click.Context,
    config: Path | None,
    pipeline: str | None,
    storage: str | None,
    as_json: bool,
) -> None:
    """FlowStone: asset-first data orchestration."""
    with errors_to_exit_codes():
        settings = load_settings(config, {"pipeline": pipeline, "storage": storage})
    ctx.obj = State(settings, as_json)


@cli.command()
@click.pass_obj
def check(state: State) -> None:
    """Validate the pipeline definition (exit 3 with every problem listed if invalid)."""
    with errors_to_exit_codes():
        rt = state.runtime()
        n = len(rt.pipeline.assets)
        rt.close()
    if state.json:
        emit_json({"ok": True, "assets": n})
    else:
        console.print(f"ok: pipeline is valid ({n} assets)")


@cli.command(name="list")
@click.pass_obj
def list_assets(state: State) -> None:
    """List the assets with their partitions, dependencies and I/O manager."""
    with errors_to_exit_codes():
        pipeline = state.pipeline()
        graph = pipeline.validate()
    rows = []
    for name in graph.topological_order():
        a = pipeline.get(name)
        rows.append(
            {
                "asset": name,
                "depends_on": list(a.dep_names()),
                "partitions": a.partitions.describe() if a.partitions else None,
                "io_manager": a.io_manager,
                "executor": a.executor,
                "group": getattr(a, "group", None),
                "description": a.description,
            }
        )
    if state.json:
        emit_json(rows)
        return
    table(
        f"pipeline {pipeline.name}",
        ["asset", "depends on", "partitions", "io", "executor", "description"],
        [
            [
                r["asset"],
                ", ".join(r["depends_on"]),
                r["partitions"] or "-",
                r["io_manager"],
                r["executor"],
                r["description"] or "",
            ]
            for r in rows
        ],
    )


@cli.command()
@click.argument("asset", required=False)
@click.option("--format", "fmt", type=click.Choice(["ascii", "mermaid", "dot"]), default="ascii")
@click.pass_obj
def graph(state: State, asset: str | None, fmt: str) -> None:
    """Render the asset graph (optionally only ASSET's upstream closure)."""
    with errors_to_exit_codes():
        pipeline = state.pipeline()
        g = pipeline.validate()
        if asset is not None:
            pipeline.get(asset)
            g = g.subgraph(g.upstream_closure([asset]))
    text = {"ascii": g.render_ascii, "mermaid": g.render_mermaid, "dot": g.render_dot}[fmt]()
    if state.json:
        emit_json({"format": fmt, "graph": text})
    else:
        click.echo(text)


@cli.command()
@click.argument("asset")
@click.option("--partition", "-p", help="Partition key, e.g. 2025-01-15.")
@click.option("--with-upstream", is_flag=True, help="Materialize the upstream closure too.")
@with_runtime
def materialize(
    state: State, rt: Any, asset: str, partition: str | None, with_upstream: bool
) -> None:
    """Materialize ASSET (and with --with-upstream its whole upstream closure)."""
    run = (rt.materialize_all if with_upstream else rt.materialize)(asset, partition)
    if state.json:
        emit_json(run)
        return
    for m in run.materializations:
        console.print(
            f"[green]✓[/green] {label(m.asset, m.partition_key)}  "
            f"{fmt_duration(m.duration)}  attempt {m.attempt}"
        )
    console.print(f"run {run.run_id} succeeded ({len(run.materializations)} materializations)")


@cli.command()
@click.argument("asset")
@click.argument("keys", nargs=-1)
@click.option("--from", "first", help="First partition of a range.")
@click.option("--to", "last", help="Last partition of a range (inclusive).")
@click.option("--max-parallel", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--force", is_flag=True, help="Re-run partitions that already succeeded.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
@with_runtime
def backfill(
    state: State,
    rt: Any,
    asset: str,
    keys: tuple[str, ...],
    first: str | None,
    last: str | None,
    max_parallel: int,
    force: bool,
    progress: bool | None,
) -> None:
    """Backfill ASSET over KEYS or --from/--to; skips partitions that already succeeded."""
    if keys and (first or last):
        raise click.UsageError("give partition KEYS or --from/--to, not both")
    if bool(first) != bool(last):
        raise click.UsageError("--from and --to go together")
    partitions: Any = list(keys) if keys else f"{first}..{last}" if first else None
    if partitions is None:
        raise click.UsageError("give partition KEYS or a range with --from and --to")
    show = sys.stderr.isatty() if progress is None else progress
    result = rt.backfill(
        asset, partitions, max_parallel, force=force, progress=show and not state.json
    )
    if state.json:
        emit_json(result)
    else:
        console.print(
            f"backfill {result.backfill_id}: {len(result.succeeded)} succeeded, "
            f"{len(result.failed)} failed, {len(result.skipped)} skipped (already succeeded)"
        )
        for key, error in list(result.errors.items())[:20]:
            console.print(f"  [red]✗[/red] {key}: {error}")
    if result.failed:
        sys.exit(EXIT_FAILED)


@cli.command()
@click.argument("asset")
@click.option("--partition", "-p")
@click.option("--downstream", is_flag=True, help="Recorded downstream instead of upstream.")
@click.option("--impact", is_flag=True, help="What is affected if ASSET changes (definitions).")
@click.option("--stale", is_flag=True, help="Downstream materializations that are stale.")
@with_runtime
def lineage(
    state: State,
    rt: Any,
    asset: str,
    partition: str | None,
    downstream: bool,
    impact: bool,
    stale: bool,
) -> None:
    """Show where ASSET (PARTITION) came from, what consumed it, or what it impacts."""
    if stale:
        entries: Any = rt.lineage.stale(asset if asset != "*" else None)
        if state.json:
            emit_json(entries)
        else:
            for s in entries:
                console.print(f"{label(s.asset, s.partition)}: {s.reason}")
            if not entries:
                console.print("nothing is stale")
        return
    if impact:
        entries = rt.lineage.impact(asset, partition)
    elif downstream:
        entries = rt.lineage.downstream(asset, partition)
    else:
        entries = rt.lineage.upstream(asset, partition)
    if state.json:
        emit_json(entries)
        return
    direction = "impact of" if impact else "downstream of" if downstream else "upstream of"
    console.print(f"{direction} {label(asset, partition)}:")
    for entry in entries:
        console.print("  " + (label(*entry) if isinstance(entry, tuple) else str(entry)))
    if not entries:
        console.print("  (nothing recorded)")


@cli.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--status")
@with_runtime
def runs(state: State, rt: Any, limit: int, status: str | None) -> None:
    """List recent runs, newest first."""
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


@cli.command()
@click.argument("asset")
@click.option("--partition", "-p")
@click.option("--limit", default=20, show_default=True)
@with_runtime
def materializations(state: State, rt: Any, asset: str, partition: str | None, limit: int) -> None:
    """List recorded materializations of ASSET, newest first."""
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


@cli.group()
def storage() -> None:
    """Maintain the record store."""


@storage.command()
@click.option(
    "--older-than",
    required=True,
    help="Age such as 90d, 12h or 30m: delete materializations finished before now minus it.",
)
@with_runtime
def prune(state: State, rt: Any, older_than: str) -> None:
    """Delete old materialization records of this pipeline, keeping the latest of every
    (asset, partition) and everything lineage still points to."""
    import datetime as dt

    cutoff = dt.datetime.now(dt.UTC) - parse_age(older_than)
    deleted = rt._call(rt.aio.storage.prune(cutoff))
    if state.json:
        emit_json({"deleted": deleted, "cutoff": cutoff})
    else:
        console.print(
            f"deleted {deleted} materialization records finished before {cutoff:%Y-%m-%d %H:%M} UTC"
        )


def parse_age(text: str) -> Any:
    """Parse ``90d`` / ``12h`` / ``30m`` / ``45s`` into a timedelta."""
    import datetime as dt

    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise click.BadParameter(
            f"expected a number followed by d, h, m or s (e.g. 90d), got {text!r}",
            param_hint="--older-than",
        )
    return dt.timedelta(**{units[unit]: int(number)})


def main() -> None:
    """Entry point of the ``flowstone`` console script."""
    cli(prog_name="flowstone")
