"""The records of the automation wing: queue entries, claims, daemons, ticks, decisions.

Internal, not part of the public API except where ``flowstone.automation`` re-exports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flowstone.storage import RunRecord


class QueueState(StrEnum):
    """Where a run is in the queue (the run record keeps its own status)."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    DONE = "done"


class TickStatus(StrEnum):
    """The outcome of one tick of a schedule, sensor or the automation evaluator."""

    CLAIMED = "claimed"  # a daemon is working on it (under a lease)
    REQUESTED = "requested"  # runs were created (possibly none, all run keys being known)
    SKIPPED = "skipped"  # nothing to do
    FAILED = "failed"  # the evaluation raised; ``error`` holds the traceback


@dataclass(frozen=True, slots=True)
class QueuedRun:
    """A run to enqueue: its ``queued`` run record, the pools it occupies, its priority."""

    record: RunRecord
    pools: tuple[str, ...] = ()
    priority: int = 0
    code_version: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """What a claim may take: ``free`` local slots, a cluster-wide maximum of claimed runs
    (None: none), per-pool maxima across all daemons, and only runs of ``pipeline`` (None:
    of any pipeline; a daemon claims only its own pipeline's runs)."""

    free: int
    cluster: int | None = None
    pools: Mapping[str, int] = field(default_factory=dict)
    pipeline: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """One run a daemon claimed; ``takeover`` when its previous owner's lease had expired."""

    run_id: str
    claims: int
    takeover: bool


@dataclass(frozen=True, slots=True)
class Renewal:
    """The answer to a heartbeat: runs this daemon no longer owns, and runs whose
    cancellation was requested."""

    lost: frozenset[str] = frozenset()
    cancel: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One row of the run queue."""

    run_id: str
    state: str
    priority: int
    enqueued_at: datetime
    owner: str | None
    lease_until: datetime | None
    claims: int
    cancel_requested: bool
    code_version: str | None
    pools: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DaemonRecord:
    """One daemon's heartbeat row and the runs it holds."""

    daemon_id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    status: str  # "running" | "draining" | "stopped"
    info: Mapping[str, Any] = field(default_factory=dict)
    runs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TickRecord:
    """One tick of a schedule or sensor."""

    origin: str
    tick_at: datetime
    status: str
    owner: str | None
    updated_at: datetime
    run_ids: tuple[str, ...] = ()
    cursor: str | None = None
    error: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AutomationState:
    """The persisted state of one schedule or sensor: on/off, cursor, and since when it is
    on (missed ticks before ``since`` are never caught up)."""

    origin: str
    enabled: bool
    cursor: str | None
    since: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """One evaluation of an asset partition's automation policy, with its reason."""

    asset: str
    partition: str | None
    evaluated_at: datetime
    policy: str
    requested: bool
    reason: str
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class TickOutcome:
    """What a tick ends with: its status, the runs to create (each with an optional run
    key), a new cursor (None keeps it), an error text, extra information."""

    status: str
    runs: tuple[tuple[QueuedRun, str | None], ...] = ()
    cursor: str | None = None
    error: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
