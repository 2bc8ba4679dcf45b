"""Turn pydantic validation errors into one readable line per problem.

Pydantic's own rendering spans several lines per error and links to its website; inside a
``DefinitionError`` bullet list that is noise. Each line here reads ``field: what is wrong
(got <input>)``.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails


def readable_errors(error: ValidationError, model: type[BaseModel] | None = None) -> list[str]:
    """Return one line per error in ``error``, e.g. ``"format: Input should be 'pickle' or
    'json' (got 'csv')"``. ``model`` (when given) lets unknown-field errors list the known
    fields."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(value)"
        lines.append(f"{where}: {_describe(item, model)}")
    return lines


def _describe(item: ErrorDetails, model: type[BaseModel] | None) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        known = _field_names(model.model_fields if model is not None else ())
        return f"unknown option; known options: {known}"
    if kind == "missing":
        return "required option is missing"
    message = item["msg"]
    if kind == "value_error":
        # A validator's own ValueError: its text is already the message.
        message = str(item.get("ctx", {}).get("error", message))
    return f"{message} (got {item.get('input')!r})"


def _field_names(fields: Iterable[str]) -> str:
    names = sorted(fields)
    return ", ".join(names) if names else "(none)"
