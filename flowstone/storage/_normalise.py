"""The one normalisation that makes every record storable by every backend.

Internal, not part of the public API. PostgreSQL refuses a NUL character in ``text`` and in
``jsonb``, and ``jsonb`` refuses NaN and Infinity; SQLite (through ``sqlite3``) cannot encode
a lone surrogate; the memory backend takes anything. A record any backend refuses would be a
"poison record" (issue 12): the writer that commits it fails, over and over. So values are
normalised here, once, before any backend sees them, and every backend stores and returns
the same thing:

- **Free text** (error messages and tracebacks, metadata strings and keys, ``triggered_by``,
  ``user``, ``host``, ``code_version``): NUL and lone surrogates become U+FFFD, the Unicode
  replacement character. A readable message matters more than one unprintable character.
- **Non-finite floats** in metadata become the strings ``"NaN"``, ``"Infinity"`` and
  ``"-Infinity"`` (the spellings Python's ``json`` module writes), so the fact survives.
- **Metadata keys** become strings as JSON would make them (``1`` -> ``"1"``, ``None`` ->
  ``"null"``); other values JSON cannot hold are stored as their ``str()``.
- **Keys** (ids, asset names, partition keys, pipeline and tenant names, input references)
  are never rewritten, since a changed key would point at another record: holding NUL or a
  lone surrogate, they are refused with ``StorageError`` before anything is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flowstone.errors import StorageError

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Return ``text`` with NUL and lone surrogates replaced by U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text  # the usual case, checked without a regex
    return _UNSTORABLE.sub(REPLACEMENT, text)


def clean_optional(text: str | None) -> str | None:
    """Return ``clean_text(text)``, or None for None."""
    return None if text is None else clean_text(text)


def jsonable(value: Any) -> Any:
    """Return ``value`` as plain JSON data every store accepts (see the module doc)."""
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite(value)
    if isinstance(value, Mapping):
        return {_json_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return clean_text(str(value))


def _non_finite(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _json_key(key: Any) -> str:
    # The conversions json.dumps applies to keys, done here so that keys of mixed types can
    # still be sorted (json's sort_keys compares the original keys and fails on 1 vs "a").
    if isinstance(key, str):
        return clean_text(key)
    if key is None or isinstance(key, bool):
        return {None: "null", True: "true", False: "false"}[key]
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, float):
        return repr(float(key)) if math.isfinite(key) else _non_finite(key)
    return clean_text(str(key))


def require_storable(what: str, values: Iterable[str | None]) -> None:
    """Refuse key text no store can hold (NUL, lone surrogates); keys are never rewritten."""
    for value in values:
        if value is not None and not (value.isascii() and "\x00" not in value):
            found = _UNSTORABLE.search(value)
            if found is not None:
                raise StorageError(
                    f"{what} {value!r} holds {_describe(found.group())}, which no record "
                    f"store can hold in a key; use printable text (keys are never rewritten, "
                    f"so that a record cannot end up under another record's key)"
                )


def _describe(char: str) -> str:
    return "a NUL character" if char == "\x00" else f"the lone surrogate {char!r}"
