"""The engine's checkpoint hook, as documented for the redesigned engine (engine/_gate.py).

Until that engine lands on this branch these dataclasses stand in for it, field for
field; when it does, this module becomes re-exports of ``flowstone.engine``'s own
``GateRequest``, ``Proceed`` and ``Wait`` and nothing else changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flowstone.definitions._asset import AssetDefinition
from flowstone.definitions._context import AssetContext


@dataclass(frozen=True)
class GateRequest:
    """A run reached a gate: the node, its inputs, and where it sits."""

    definition: AssetDefinition
    partition: Any
    partition_key: str | None
    run_id: str
    attempt: int
    context: AssetContext
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class Proceed:
    """Pass the gate: ``value`` is stored and recorded like any asset's value."""

    value: Any
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Wait:
    """The gate waits for a decision on ``approval_id``; the run ends "waiting"."""

    approval_id: str


class GateKeeper(Protocol):
    """What the engine calls when a run reaches a gate (may raise CheckpointRejected)."""

    async def reached(self, request: GateRequest) -> Proceed | Wait:
        """Decide whether the gate passes now or waits."""
        ...
