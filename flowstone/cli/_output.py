"""Human and ``--json`` rendering for the CLI.

Every piece of user data (asset names, partition keys, error messages, run ids) reaches rich
either escaped (``esc``) or as a ``Text`` object: rich reads ``[eu]`` in a string as a style
tag and drops it, so ``raw[eu]`` would print as ``raw``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# Piped output is read by people and by grep: wide enough not to fold table cells and
# messages mid-word (a terminal's own width is used when there is one).
PIPE_WIDTH = 200


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(file=stream, stderr=stderr, highlight=False, width=width)


def console() -> Console:
    """The console of standard output, bound to the current ``sys.stdout``."""
    return _console(stderr=False)


def err_console() -> Console:
    """The console of standard error, bound to the current ``sys.stderr``."""
    return _console(stderr=True)


def esc(value: object) -> str:
    """``str(value)`` with rich markup escaped, to embed user data in a markup string."""
    return escape(str(value))


def to_jsonable(value: Any) -> Any:
    """Turn records, dates and tuples into JSON-compatible values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout."""
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=False))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a rich table; cells are shown literally (``Text``), never read as markup."""
    t = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        t.add_column(column)
    for row in rows:
        t.add_row(*(Text("" if v is None else str(v)) for v in row))
    console().print(t)


def fmt_time(value: dt.datetime | None) -> str:
    """A compact local rendering of a timestamp."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def fmt_duration(seconds: float | None) -> str:
    """Seconds as ``12 ms`` / ``1.3 s``."""
    if seconds is None:
        return ""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def fmt_key(key: object) -> str:
    """A partition key as the store encodes it: ``2025-01-15``, ``region=eu|date=2025-01-15``.

    Keys of multi partitions arrive decoded as dicts in dimension order; dates and datetimes
    in ISO form; everything else as ``str``.
    """
    if isinstance(key, Mapping):
        return "|".join(f"{name}={fmt_key(value)}" for name, value in key.items())
    if isinstance(key, dt.datetime | dt.date):
        return key.isoformat(timespec="minutes") if isinstance(key, dt.datetime) else str(key)
    return str(key)


def label(asset: str, partition: object) -> str:
    """``asset`` or ``asset[partition]``, escaped for rich markup."""
    return esc(asset if partition is None else f"{asset}[{fmt_key(partition)}]")


# What flowstone.engine._ray adds to an error raised in a Ray worker (a note, kept in the
# recorded traceback), then Ray's own report: "ray::<task>() (pid=<pid>, ip=<ip>".
_RAY_NOTE = "raised in a Ray worker:"
_RAY_ORIGIN = re.compile(r"\(pid=(\d+), ip=([^,)\s]+)")


def ray_origin(traceback: str | None) -> str | None:
    """``Ray worker pid 4242 on 10.0.0.5`` when the recorded ``traceback`` is of an error
    raised in a Ray worker, else None."""
    if not traceback or _RAY_NOTE not in traceback:
        return None
    found = _RAY_ORIGIN.search(traceback, traceback.rindex(_RAY_NOTE))
    return f"Ray worker pid {found[1]} on {found[2]}" if found else "a Ray worker"


def describe_error(error: Any) -> str:
    """``Type: message`` of a recorded error, with where it was raised if in a Ray worker."""
    text = f"{error.type}: {error.message}"
    where = ray_origin(getattr(error, "traceback", None))
    return f"{text} (raised in {where})" if where else text
