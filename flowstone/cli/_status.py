"""``flowstone status ASSET``: the status of every partition of an asset, as ranges."""

from __future__ import annotations

from typing import Any

import click

from flowstone.cli._output import emit_json
from flowstone.cli._state import State, errors_to_exit_codes, json_option


@click.command()
@click.argument("asset")
@click.option(
    "--limit",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="Ranges shown per status (the counts always cover every partition).",
)
@json_option
@click.pass_obj
def status(state: State, asset: str, limit: int) -> None:
    """Show the status of every partition of ASSET as ranges, with counts per status."""
    with errors_to_exit_codes():
        state.pipeline().get(asset)  # an unknown asset is a usage error, store or not
        with state.runtime(read_only=True) as rt:
            _show(state, rt.partition_status(asset), asset, limit)


def _show(state: State, summary: Any, asset: str, limit: int) -> None:
    encode = summary.order.encoded_at
    by_status = {
        name: [
            {"first": encode(r.first_ordinal), "last": encode(r.last_ordinal), "count": r.count}
            for r in ranges
        ]
        for name, ranges in summary.ranges.items()
    }
    if state.json:
        emit_json({**summary.to_json(), "ranges": by_status})
        return
    # Plain lines, not a table: ranges are long and a wrapped table cuts keys in half.
    click.echo(f"{asset}: {summary.total} partition(s)")
    width = max(len(name) for name in summary.counts)
    for name, count in summary.counts.items():
        shown = by_status.get(name, [])[:limit]
        spans = ", ".join(_span(r) for r in shown)
        more = len(by_status.get(name, [])) - len(shown)
        if more > 0:
            spans += f", ... {more} more range(s)"
        click.echo(f"  {name:<{width}}  {count:>9}  {spans}".rstrip())


def _span(r: dict[str, Any]) -> str:
    first, last = r["first"] or "(unpartitioned)", r["last"] or "(unpartitioned)"
    return first if r["count"] == 1 else f"{first} .. {last} ({r['count']})"
