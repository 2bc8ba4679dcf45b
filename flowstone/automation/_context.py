"""What every actor of a daemon's tree is given: its configuration, the stores, the current
definitions and the run launcher.

Internal. ``RunLauncher`` is the narrow interface through which the daemon executes a
claimed run: the runtime layer implements it with ``AsyncRuntime.resume(run_id)``, so this
wing never imports the runtime.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flowstone.automation._observer import NO_OBSERVER, DaemonObserver
from flowstone.automation._store import AutomationStore
from flowstone.errors import StorageError
from flowstone.storage import Storage


class RunLauncher(Protocol):
    """Executes recorded runs for a daemon."""

    async def resume(self, run_id: str) -> str:
        """Execute (or continue) the recorded run ``run_id``; return its final status.

        Nodes already succeeded in this run are not redone. Runs in the daemon's executor
        actor, one asyncio task per run; an exception is recorded as the run's failure.
        """
        ...

    async def cancel(self, run_id: str) -> bool:
        """Cancel the run if it executes here; return whether it did."""
        ...


@dataclass(frozen=True)
class Definitions:
    """One loaded version of the pipeline: what new ticks and runs use."""

    pipeline: Any
    code_version: str
    resources: Mapping[str, Any] = field(default_factory=dict)


class DefinitionsHolder:
    """The current ``Definitions``; reload swaps it, actors read it at each tick."""

    def __init__(self, definitions: Definitions) -> None:
        self.current = definitions
        self.reload_error: str | None = None


def default_daemon_id() -> str:
    """``host-pid-random``: unique per process, readable in `flowstone daemons`."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class DaemonConfig:
    """How a daemon behaves. Seconds everywhere.

    Attributes:
        daemon_id: the id in heartbeat rows and run leases.
        max_runs: runs this daemon executes at once.
        max_cluster_runs: runs executing at once across all daemons (None: no limit).
        pool_limits: per pool, runs executing at once across all daemons.
        lease: how long a claim (of a run or a tick) lasts without renewal; a dead daemon's
            runs are taken over after at most this long.
        heartbeat: how often leases and the heartbeat row are renewed (< lease / 2).
        poll_interval: how often the queue is polled for runs to claim.
        tick_interval: the longest a schedule waits between looks at its state.
        tick_grace: a schedule tick later than this is "missed" (see ``catch_up``).
        automation_interval: seconds between evaluations of ``automation=`` policies.
        drain_timeout: on SIGTERM, how long running runs may take before they are handed
            back to the queue.
        max_claims: a run claimed this many times (its daemons kept dying) is failed.
        max_restarts, max_seconds: restart intensity of the daemon's supervisors.
    """

    daemon_id: str = field(default_factory=default_daemon_id)
    max_runs: int = 4
    max_cluster_runs: int | None = None
    pool_limits: Mapping[str, int] = field(default_factory=dict)
    lease: float = 30.0
    heartbeat: float = 5.0
    poll_interval: float = 1.0
    tick_interval: float = 5.0
    tick_grace: float = 60.0
    automation_interval: float = 30.0
    drain_timeout: float = 30.0
    max_claims: int = 5
    max_restarts: int = 5
    max_seconds: float = 30.0


@dataclass
class DaemonContext:
    """Shared by the actors of one daemon (read-only for them, but ``definitions``).

    ``storage`` must serve the pipeline (see ``require_serves``): sensors and automation
    policies read materializations through it.
    """

    config: DaemonConfig
    store: AutomationStore
    storage: Storage
    definitions: DefinitionsHolder
    launcher: RunLauncher
    observer: DaemonObserver = NO_OBSERVER
    """Told of claims, ticks and heartbeats (the telemetry wing's daemon metrics)."""

    def __post_init__(self) -> None:
        require_serves(self.storage, self.definitions.current.pipeline)

    @property
    def pipeline_name(self) -> str:
        """The pipeline's name: what its ticks, state, run keys and decisions are keyed by
        in the automation store (several pipelines may share it)."""
        return str(self.definitions.current.pipeline.name)


def require_serves(storage: Storage, pipeline: Any) -> None:
    """Refuse a record store that does not serve ``pipeline``'s records.

    A store reads only the materializations of the pipeline it was opened for (a store
    opened without one is the pipeline ``""``), so through another pipeline's store a
    sensor or policy would see none of this pipeline's materializations, and a queue could
    not find the runs it submitted.

    Raises:
        StorageError: ``storage.pipeline`` is not ``pipeline.name``.
    """
    name = pipeline.name
    if storage.pipeline != name:
        raise StorageError(
            f"the record store {storage.url} serves pipeline {storage.pipeline!r}, not "
            f"{name!r}, whose records the automation reads and writes; open it with "
            f"open_storage(url, pipeline={name!r}) or storage.for_pipeline({name!r})"
        )


def code_version_of(pipeline: Any) -> str:
    """A digest of the source files of the pipeline's assets (what reload compares)."""
    digest = hashlib.sha256()
    files = sorted({a.file for a in pipeline.assets.values() if a.file})
    for path in files:
        try:
            with open(path, "rb") as handle:
                digest.update(handle.read())
        except OSError:
            digest.update(path.encode())
    return digest.hexdigest()[:12]
