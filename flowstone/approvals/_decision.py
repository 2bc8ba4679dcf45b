"""The decisions ``auto_decide`` returns: ``fs.Approve()``, ``fs.Modify(value)``,
``fs.Reject(reason)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, final

from flowstone.errors import InvalidDecision


@final
@dataclass(frozen=True, slots=True)
class Approve:
    """Pass the gate with its own value (what its function returns for the input)."""

    reason: str | None = None


@final
@dataclass(frozen=True, slots=True)
class Modify:
    """Pass the gate with ``value`` instead (validated against the gate's declared type)."""

    value: Any
    reason: str | None = None


@final
@dataclass(frozen=True, slots=True)
class Reject:
    """Stop at the gate: its run fails with ``fs.CheckpointRejected`` carrying ``reason``.

    Raises:
        InvalidDecision: ``reason`` is empty (a rejection always says why).
    """

    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise InvalidDecision(
                f"a rejection needs a reason, got {self.reason!r}; write "
                "fs.Reject('totals do not match the ledger')"
            )


Decision = Approve | Modify | Reject
"""What ``auto_decide`` may return (or None to ask a person)."""
