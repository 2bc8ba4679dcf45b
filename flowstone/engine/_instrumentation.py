"""The engine's instrumentation hook: what the engine reports, to whoever observes it.

Internal, not part of the public API. The engine calls an ``Instrumentation`` at a fixed set
of points (a run, an attempt, an I/O load or store, a lineage commit, a restart) and never
knows what listens: the telemetry wing (``flowstone.telemetry``) implements it with
OpenTelemetry and run-log capture; ``NO_INSTRUMENTATION`` is the default. The engine passes
objects it already holds (the run spec, the job), never attributes built for the occasion,
so the default costs a method call and a ``with`` per point.

Every hook runs on the engine's event loop, in the task doing the work (``io`` may run in
the worker thread of a blocking attempt). An implementation must not raise: the engine does
not guard the calls, and an exception would fail the attempt or the run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from flowstone.engine._materializer import Job
    from flowstone.engine._planning import RunSpec
    from flowstone.storage import MaterializationRecord


class Scope(Protocol):
    """One observed piece of work, opened by ``with`` (attempt, I/O, commit)."""

    def __enter__(self) -> Scope: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def finish(self, status: str, error: BaseException | None = None) -> None:
        """Say how the work ended (else the exit decides: an exception is an error)."""

    def carrier(self) -> Mapping[str, str]:
        """The trace context to hand to another process (a Ray task); empty when none."""


class RunScope(Protocol):
    """One run, opened by ``async with`` (its end may write captured logs)."""

    async def __aenter__(self) -> RunScope: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def finish(self, status: str, error: BaseException | None = None) -> None:
        """Say how the run ended."""

    def metadata(self) -> Mapping[str, Any]:
        """What to keep on the run record (its trace context), so a resumed run continues
        the same trace; empty when nothing is observed."""


class WorkerHook(Protocol):
    """Travels to Ray workers inside the bundle (picklable); wraps one step there."""

    def run(self, trace: Mapping[str, str] | None, step: Any, call: Callable[[], Any]) -> Any:
        """Return ``call()`` observed as the step ``step`` (asset, node, run id, attempt)."""

    def io(self, operation: str, asset: str, partition_key: str | None) -> Scope:
        """Observe one load or store in the worker."""


class Instrumentation(Protocol):
    """What the engine reports (see the module doc for where each hook runs)."""

    def run(self, spec: RunSpec, stored: Mapping[str, Any] | None = None) -> RunScope:
        """A run starts; ``stored`` is the metadata of a run record being resumed."""

    def attempt(self, job: Job, attempt: int) -> Scope:
        """One attempt of one node starts (its load, call, store and record)."""

    def io(self, operation: str, asset: str, partition_key: str | None, run_id: str) -> Scope:
        """One I/O manager ``load`` or ``store`` starts."""

    def commit(self, runs: int, materializations: Sequence[MaterializationRecord]) -> Scope:
        """The lineage writer commits one batch."""

    def restarted(self, run_id: str | None, child: str, reason: str) -> None:
        """A supervisor restarted ``child`` ("materializer", "lineage") after ``reason``."""

    def remote(self, payload: Any) -> None:
        """What a Ray worker's ``WorkerHook`` sent back with a step (spans, log lines)."""

    def carrier(self) -> Mapping[str, str]:
        """The trace context of the work in progress in this task (the attempt a Ray task
        is submitted for), to hand to another process; empty when none."""

    @property
    def worker_hook(self) -> WorkerHook | None:
        """The hook Ray workers use, or None when nothing is observed there."""


class _NoScope:
    """Observes nothing (shared: it holds no state)."""

    __slots__ = ()

    def __enter__(self) -> _NoScope:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    async def __aenter__(self) -> _NoScope:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def finish(self, status: str, error: BaseException | None = None) -> None:
        return None

    def carrier(self) -> Mapping[str, str]:
        return _EMPTY

    def metadata(self) -> Mapping[str, Any]:
        return _EMPTY


_EMPTY: Mapping[str, Any] = {}
NO_SCOPE = _NoScope()


class NoInstrumentation:
    """The default: every hook returns at once."""

    worker_hook: WorkerHook | None = None

    def run(self, spec: RunSpec, stored: Mapping[str, Any] | None = None) -> RunScope:
        return NO_SCOPE

    def attempt(self, job: Job, attempt: int) -> Scope:
        return NO_SCOPE

    def io(self, operation: str, asset: str, partition_key: str | None, run_id: str) -> Scope:
        return NO_SCOPE

    def commit(self, runs: int, materializations: Sequence[MaterializationRecord]) -> Scope:
        return NO_SCOPE

    def restarted(self, run_id: str | None, child: str, reason: str) -> None:
        return None

    def remote(self, payload: Any) -> None:
        return None

    def carrier(self) -> Mapping[str, str]:
        return _EMPTY


NO_INSTRUMENTATION = NoInstrumentation()

REMOTE_KEY = "__flowstone_telemetry__"
"""Key of a worker's telemetry payload in a Ray step's result (popped before recording), and
attribute carrying it on an exception the step raised."""
