"""Errors of the automation wing (all ``FlowStoneError``s)."""

from __future__ import annotations

from flowstone.errors import FlowStoneError


class RunNotFound(FlowStoneError, LookupError):
    """Raised when a run id is not in the record store."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"no run {run_id!r} in the record store; list runs with `flowstone runs` or rt.runs()"
        )


class WaitTimeout(FlowStoneError, TimeoutError):
    """Raised by ``rt.wait(run_id, timeout=...)`` when the run is still not finished."""

    def __init__(self, run_id: str, status: str, timeout: float) -> None:
        self.run_id, self.status, self.timeout = run_id, status, timeout
        super().__init__(
            f"run {run_id!r} is still {status} after {timeout:g} s; wait longer, or check "
            f"that a daemon is running (`flowstone daemons`)"
        )
