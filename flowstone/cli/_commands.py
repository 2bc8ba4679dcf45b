"""The ``flowstone`` command line: the group, its global options and the definition
commands (``check``, ``list``, ``graph``); runs and records are in ``_run_commands`` and
``_record_commands``.

Exit codes: 0 success; 1 an asset failed (run failed, or a backfill with failed partitions);
2 bad usage or input (unknown asset, invalid partition, missing upstream); 3 the pipeline
definition is invalid; 4 configuration, storage or a resource cannot be used; 130
interrupted (Ctrl-C). Any other FlowStone error exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flowstone.cli import _logging
from flowstone.cli._config import load_settings
from flowstone.cli._output import console, emit_json, table
from flowstone.cli._record_commands import lineage, materializations, runs, storage
from flowstone.cli._run_commands import backfill, materialize
from flowstone.cli._state import State, errors_to_exit_codes, json_option


def _version() -> str:
    from flowstone import __version__

    return __version__


@click.group()
@click.version_option(_version(), "--version", "-V", prog_name="flowstone")
@click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), help="flowstone.toml to use."
)
@click.option("--pipeline", help="The pipeline as module:attribute (overrides the config).")
@click.option("--storage", help="Storage URL (sqlite:///PATH, memory, postgresql://...).")
@click.option(
    "--ray-address",
    help="Ray cluster for Ray assets: auto, ray://HOST:10001, HOST:6379 (default: a local Ray).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
@click.option("--verbose", "-v", is_flag=True, help="Show INFO logs and full tracebacks.")
@click.pass_context
def cli(
    ctx: click.Context,
    config: Path | None,
    pipeline: str | None,
    storage: str | None,
    ray_address: str | None,
    as_json: bool,
    verbose: bool,
) -> None:
    """FlowStone: asset-first data orchestration."""
    with errors_to_exit_codes():
        overrides = {"pipeline": pipeline, "storage": storage, "ray_address": ray_address}
        settings = load_settings(config, overrides)
    ctx.obj = State(settings, as_json)
    ctx.call_on_close(_logging.install(verbose))


@cli.command()
@json_option
@click.pass_obj
def check(state: State) -> None:
    """Validate the pipeline definition (exit 3 with every problem listed if invalid).

    Opens no store and sets no resource up: it works with the database down.
    """
    with errors_to_exit_codes():
        n = len(state.validate().assets)
    if state.json:
        emit_json({"ok": True, "assets": n})
    else:
        console().print(f"ok: pipeline is valid ({n} assets)")


@cli.command(name="list")
@json_option
@click.pass_obj
def list_assets(state: State) -> None:
    """List the assets with their partitions, dependencies and I/O manager."""
    with errors_to_exit_codes():
        pipeline = state.pipeline()
        graph = pipeline.validate()
    rows = [_describe(pipeline.get(name)) for name in graph.topological_order()]
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


def _describe(a: Any) -> dict[str, Any]:
    return {
        "asset": a.name,
        "depends_on": list(a.dep_names()),
        "partitions": a.partitions.describe() if a.partitions else None,
        "io_manager": a.io_manager,
        "executor": a.executor,
        "group": getattr(a, "group", None),
        "description": a.description,
    }


@cli.command()
@click.argument("asset", required=False)
@click.option("--format", "fmt", type=click.Choice(["ascii", "mermaid", "dot"]), default="ascii")
@json_option
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


cli.add_command(materialize)
cli.add_command(backfill)
cli.add_command(lineage)
cli.add_command(runs)
cli.add_command(materializations)
cli.add_command(storage)


def main() -> None:
    """Entry point of the ``flowstone`` console script."""
    cli(prog_name="flowstone")
