"""``rt.wait(run_id)``: block until a run is neither running nor waiting at a gate.

The run may be continued by another process (whoever decides its gate), so this reads
the record store, not this process's memory, every ``poll`` seconds of the runtime clock.
"""

from __future__ import annotations

from collections.abc import Callable

import actors
from flowstone.engine._results import Materialization, RunResult
from flowstone.errors import RunNotFound, WaitTimeout
from flowstone.storage import MaterializationRecord, Storage

UNFINISHED = frozenset({"queued", "pending", "running", "waiting"})
"""Run statuses ``wait`` keeps waiting through."""

DEFAULT_POLL = 0.05


async def wait_for_run(
    storage: Storage,
    run_id: str,
    convert: Callable[[MaterializationRecord], Materialization],
    *,
    timeout: float | None = None,
    poll: float = DEFAULT_POLL,
) -> RunResult:
    """Return the run's result once its status is final.

    Raises:
        RunNotFound: no run has this id.
        WaitTimeout: ``timeout`` seconds passed first (the run goes on).
    """
    clock = actors.get_clock()
    deadline = None if timeout is None else clock.now() + timeout
    while True:
        run = await storage.get_run(run_id)
        if run is None:
            raise RunNotFound(run_id)
        if run.status not in UNFINISHED:
            records = await storage.materializations(run_id=run_id)
            return RunResult(run_id, str(run.status), [convert(r) for r in reversed(records)])
        if deadline is not None and clock.now() >= deadline:
            raise WaitTimeout(
                f"run {run_id} is still {run.status} after {timeout:g} s; call wait() again "
                f"later, or {_HINTS.get(str(run.status), _HINTS['waiting'])}"
            )
        await actors.sleep(poll)


#: What a run still unfinished may be waiting for, per status.
_HINTS = {
    "queued": "check that a daemon is running (`flowstone daemons`): it runs queued runs",
    "waiting": "see its gates with rt.approvals.pending()",
}
