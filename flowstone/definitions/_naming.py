"""Names of assets, dependencies, resources and pipelines.

Asset names double as Python parameter names (the function that depends on ``raw_events``
takes a ``raw_events`` parameter), as path segments of the file I/O manager and as node ids
in Mermaid and DOT; so they are restricted to ASCII identifiers, which are safe in all four.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from difflib import get_close_matches

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Pipeline names only label things (graphs, storage rows), so hyphens are allowed too.
_PIPELINE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

IDENTIFIER_RULE = "letters, digits and underscores, not starting with a digit"


def is_identifier(value: object) -> bool:
    """Return True when ``value`` is an ASCII identifier that is not a Python keyword."""
    return (
        isinstance(value, str)
        and _IDENTIFIER.fullmatch(value) is not None
        and not keyword.iskeyword(value)
    )


def is_pipeline_name(value: object) -> bool:
    """Return True when ``value`` is a valid pipeline name."""
    return isinstance(value, str) and _PIPELINE_NAME.fullmatch(value) is not None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidates, or ``""`` if none is close."""
    close = get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"


def suggestion(name: str, candidates: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest candidates, or ``""`` if none is close."""
    hint = did_you_mean(name, candidates)
    return f" ({hint[2:]})" if hint else ""


def quoted_list(names: Iterable[str]) -> str:
    """Return ``'a', 'b', 'c'`` (sorted), or ``(none)`` for an empty collection."""
    items = sorted(names)
    return ", ".join(repr(n) for n in items) if items else "(none)"
