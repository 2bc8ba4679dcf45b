"""The values that cross a gate: a JSON-able view of the input for reviewers, content
digests for the audit trail, and the checking of a modified value against the gate's type.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from flowstone.errors import InvalidDecision

#: Longest text kept for a value JSON cannot hold as it is (shown as its repr).
MAX_REPR = 2000

#: Largest JSON view stored with a request; a larger input is summarised instead.
MAX_VIEW = 64 * 1024


def json_view(value: Any) -> Any:
    """Return a JSON-able view of ``value`` (models, dataclasses, dates, sets, frames...)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_view(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): json_view(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [json_view(v) for v in items]
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return json_view(value.value)
    to_dict = getattr(value, "to_dict", None)  # pandas / pyarrow tables
    if callable(to_dict):
        try:
            return json_view(to_dict())
        except Exception:
            pass
    text = repr(value)
    return text if len(text) <= MAX_REPR else text[:MAX_REPR] + "..."


def bounded_view(value: Any, limit: int = MAX_VIEW) -> Any:
    """Return ``json_view(value)``, or a summary when its JSON exceeds ``limit`` bytes.

    A gate's input may be a large table: reviewers get its type, size, digest and the
    start of its text, and the approvals table stays small.
    """
    view = json_view(value)
    text = _canonical(view)
    if len(text) <= limit:
        return view
    return {
        "truncated": True,
        "type": type(value).__qualname__,
        "json_bytes": len(text),
        "digest": "sha256:" + hashlib.sha256(text.encode()).hexdigest(),
        "head": text[:MAX_REPR],
    }


def _canonical(view: Any) -> str:
    return json.dumps(view, sort_keys=True, separators=(",", ":"), default=str)


def digest(value: Any) -> str:
    """Return ``sha256:<hex>`` of the canonical JSON of ``value`` (sorted keys, compact)."""
    return "sha256:" + hashlib.sha256(_canonical(json_view(value)).encode()).hexdigest()


def type_name(value_type: Any) -> str:
    """Return a readable name of a declared type."""
    return getattr(value_type, "__name__", None) or repr(value_type)


def checked_value(value: Any, value_type: Any, checkpoint: str) -> Any:
    """Return ``value`` validated against ``value_type`` (None: any value).

    Raises:
        InvalidDecision: the value does not fit; the message names the expected type and
            what was wrong.
    """
    if value_type is None:
        return value
    try:
        return TypeAdapter(value_type).validate_python(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidDecision(
            f"the modified value for checkpoint {checkpoint!r} must be a "
            f"{type_name(value_type)}, got {_short(value)} ({problems})"
        ) from None


def restored_value(stored: Any, value_type: Any) -> Any:
    """Return the value a modification stored as JSON, rebuilt as ``value_type``."""
    if value_type is None:
        return stored
    return TypeAdapter(value_type).validate_python(stored)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
