"""Text forms of partition keys: dates, instants, escaped multi-key components.

Every key kind has one canonical string (what ``encode`` writes and the record store keeps)
and a few accepted input forms (what ``validate`` parses). Parsing here only checks *shape*;
whether a key belongs to a definition is the definition's business.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

# The multi-key separators. A dimension value is escaped so that a static key such as
# "a|b=c" survives a round trip through "tenant=a\|b\=c|date=2024-01-01".
PAIR_SEPARATOR = "|"
NAME_SEPARATOR = "="
ESCAPE = "\\"
_SPECIAL = (ESCAPE, PAIR_SEPARATOR, NAME_SEPARATOR)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
# "2025-01-15T03:00", "2025-01-15 03:00:00+01:00", "2025-01-15T03:00Z"
_ISO_INSTANT = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:\d{2}(?::\d{2})?)?"
)
# Dagster's hourly form "2025-01-15-03:00", optionally with an offset
_DASHED_INSTANT = re.compile(r"(\d{4}-\d{2}-\d{2})-(\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})?")


def has_control_characters(text: str) -> bool:
    """Return whether ``text`` holds a control character (or a lone surrogate, which no
    storage encoding can write)."""
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


def escape(text: str) -> str:
    """Escape the multi-key separators in one dimension value."""
    for special in _SPECIAL:  # the escape character first, so later escapes stay single
        text = text.replace(special, ESCAPE + special)
    return text


def split_multi(text: str) -> list[tuple[str, str]] | None:
    """Split ``"a=x|b=y"`` into ``[("a", "x"), ("b", "y")]``, unescaping values.

    Returns None when the text is not of that shape (a pair without an unescaped ``=``,
    or a dangling escape character)."""
    pairs: list[tuple[str, str]] = []
    name: str | None = None
    current: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == ESCAPE:
            nxt = next(chars, None)
            if nxt is None:
                return None
            current.append(nxt)
        elif ch == NAME_SEPARATOR and name is None:
            name, current = "".join(current), []
        elif ch == PAIR_SEPARATOR:
            if name is None:
                return None
            pairs.append((name, "".join(current)))
            name, current = None, []
        else:
            current.append(ch)
    if name is None:
        return None
    pairs.append((name, "".join(current)))
    return pairs


def parse_date(text: str) -> date | str:
    """Parse a strict ``YYYY-MM-DD`` date; return the date, or why it is not one."""
    if not _DATE.fullmatch(text):
        return "is not a 'YYYY-MM-DD' date"
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        return f"is not a valid date ({exc})"


def parse_month(text: str) -> date | None:
    """Parse ``YYYY-MM`` as the first day of that month, or None."""
    match = _MONTH.fullmatch(text)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), 1)
    except ValueError:
        return None


def parse_instant(text: str) -> datetime | str:
    """Parse an ISO-like date and time, with or without a UTC offset.

    Returns a naive datetime when no offset is given (wall-clock time, to be read in the
    definition's timezone), an aware one otherwise, or a string saying why it failed."""
    match = _ISO_INSTANT.fullmatch(text) or _DASHED_INSTANT.fullmatch(text)
    if not match:
        return "is not a date and time like '2025-01-15T03:00' or '2025-01-15T03:00+01:00'"
    day, clock, offset = match.groups()
    try:
        return datetime.fromisoformat(f"{day}T{clock}{offset or ''}")
    except ValueError as exc:
        return f"is not a valid date and time ({exc})"


def format_instant(moment: datetime) -> str:
    """Format an aware datetime as ``2024-10-27T02:00+01:00`` (a naive one without offset).

    The UTC offset is always written: in the hour that repeats when clocks go back, it is
    the only thing telling the two hours apart."""
    spec = "minutes" if moment.second == 0 and moment.microsecond == 0 else "auto"
    return moment.isoformat(timespec=spec)


def show(value: Any) -> str:
    """Render a user-supplied key for an error message: strings, dates and datetimes quoted
    in their text form, anything else as its repr."""
    if isinstance(value, datetime):
        return repr(format_instant(value))
    if isinstance(value, date):
        return repr(value.isoformat())
    return repr(value)


def type_name(value: Any) -> str:
    """Name the type of ``value`` with an article, for messages ("an int", "a list")."""
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiouAEIOU' else 'a'} {name}"
