"""The checkpoint hook: how a gate node asks for a decision without the engine knowing
the approvals wing.

An ``AssetDefinition`` whose ``checkpoint`` attribute is set is a gate. When its node runs,
the job loads its inputs as for any asset and, instead of calling the function, asks the
runtime's ``GateKeeper``: ``Proceed`` stores the value and records the node succeeded;
``Wait`` records it ``waiting`` (nothing holds a process, a thread or an actor while it
waits: the run ends ``waiting`` and is resumed later with ``rt.resume``); a raised
``CheckpointRejected`` fails the node (never retried).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from flowstone.errors import ConfigurationError

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition
    from flowstone.definitions._context import AssetContext


@dataclass(frozen=True)
class GateRequest:
    """A gate's node was reached in a run: what the gatekeeper decides on."""

    definition: AssetDefinition
    partition: Any
    partition_key: str | None
    run_id: str
    attempt: int
    context: AssetContext
    inputs: Mapping[str, Any]
    """The loaded input values, by dependency name."""


@dataclass(frozen=True)
class Proceed:
    """Pass the gate: ``value`` is stored as the gate's output."""

    value: Any
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Wait:
    """Pause the run until approval ``approval_id`` is decided."""

    approval_id: str


class GateKeeper(Protocol):
    """Decides what happens when a run reaches a gate (the approvals wing implements it)."""

    async def reached(self, request: GateRequest) -> Proceed | Wait:
        """Return ``Proceed`` or ``Wait``; raise ``CheckpointRejected`` to fail the node.

        Runs in the gate's materializer job, on the runtime's event loop; an exception other
        than ``CheckpointRejected`` is a failed attempt like any asset's.
        """
        ...


class NoGateKeeper:
    """The gatekeeper of a runtime built without the approvals wing."""

    async def reached(self, request: GateRequest) -> Proceed | Wait:
        """Refuse: a gate needs a gatekeeper."""
        raise ConfigurationError(
            f"checkpoint {request.definition.name!r} was reached but this runtime has no "
            "gatekeeper; build the runtime with approvals enabled"
        )


def is_gate(asset: AssetDefinition) -> bool:
    """True when ``asset`` is a checkpoint gate."""
    return getattr(asset, "checkpoint", None) is not None
