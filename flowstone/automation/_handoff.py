"""``ResumeHandOff``: how a decision at a checkpoint gate continues its run, through the run
queue (docs/approvals.md, "How a decision resumes a run").

Internal. The runtime gives one to its approvals wing. After a decision the wing calls
``enqueue(run_id)``: the run is put (back) on the run queue as a row for the same run id
(``_handoff_sql``). When a live daemon serves the pipeline, that is all: a daemon claims the
row and resumes the run. Otherwise the deciding process claims that same row itself
(``run_here``) and resumes the run in-process. Either way one claim stands between a
decision and the resumption, so two deciders (or two daemons) never run a run's remaining
nodes at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

import actors
from flowstone.automation._clock import wall_now
from flowstone.automation._records import DaemonRecord
from flowstone.automation._store import AutomationStore

log = logging.getLogger("flowstone.automation")

Resume = Callable[[str], Coroutine[Any, Any, Any]]
StoreOf = Callable[[], Awaitable[AutomationStore]]

#: What ``enqueue`` answers: the daemons will resume the run, or this process should.
DAEMONS = "daemons"
HERE = "here"


def is_live(daemon: DaemonRecord, pipeline: str, now: datetime) -> bool:
    """Whether ``daemon`` serves ``pipeline`` and its heartbeat is within its lease."""
    lease = float(daemon.info.get("lease", 30.0))
    return (
        daemon.status == "running"
        and daemon.info.get("pipeline") == pipeline
        and daemon.heartbeat_at + timedelta(seconds=lease) >= now
    )


class ResumeHandOff:
    """Hands runs continued by a decision to the run queue (see the module docstring).

    Args:
        pipeline: the name of the pipeline whose runs are continued.
        store: returns the (opened) automation store of the record store.
        resume: resumes a run in this process (``AsyncRuntime.resume``).
        lease: seconds a claim made here lasts without renewal.
    """

    def __init__(self, pipeline: str, store: StoreOf, resume: Resume, *, lease: float = 30.0):
        self.pipeline = pipeline
        self._store = store
        self._resume = resume
        self.lease = lease
        self.owner = f"decider:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def enqueue(self, run_id: str, *, here: bool = False) -> str:
        """Queue ``run_id`` to be resumed; return who continues it: ``"daemons"``,
        ``"here"`` (call ``run_here``), or the queue's word when nobody needs to
        (``"claimed"``: a resumption in flight looks again when it ends; ``"finished"``).

        Args:
            here: resume in this process even when daemons are live (a rejection or an
                expiry, which only fails the run).
        """
        store = await self._store()
        now = wall_now()
        state = await store.hand_off(run_id, now)
        if state != "queued":
            return state
        if here or not await self.daemons_live(now):
            return HERE
        return DAEMONS

    async def daemons_live(self, now: datetime | None = None) -> bool:
        """Whether a daemon of this pipeline has a heartbeat within its lease."""
        at = now if now is not None else wall_now()
        daemons = await (await self._store()).daemons()
        return any(is_live(d, self.pipeline, at) for d in daemons)

    async def run_here(self, run_id: str) -> int:
        """Claim ``run_id``'s queue row and resume the run here, again while the finish
        queues it again (a decision came in meanwhile); return how many times it ran.
        Stops as soon as another process holds the row."""
        store = await self._store()
        ran = 0
        while True:
            now = wall_now()
            claim = await store.claim_run(
                run_id, self.owner, now, now + timedelta(seconds=self.lease)
            )
            if claim is None:
                return ran
            ran += 1
            if not await self._resume_claimed(store, run_id):
                return ran

    async def _resume_claimed(self, store: AutomationStore, run_id: str) -> bool:
        """Resume under the claim, renewing its lease; True when the row was finished."""
        loop = asyncio.get_running_loop()
        task: asyncio.Task[Any] = loop.create_task(self._resume(run_id))
        lost = asyncio.Event()
        renewer = loop.create_task(self._renew(store, run_id, task, lost))
        try:
            await task
        except asyncio.CancelledError:
            if not lost.is_set():
                raise  # this call itself was cancelled (the runtime closes)
            return False  # lease lost: the process that took over finishes the row
        except Exception:
            # The decision is stored; the next decision (or `flowstone runs resume`)
            # continues the run. Finishing without looking again avoids a retry loop.
            log.exception("resuming run %s after a decision failed", run_id)
            await store.finish(self.owner, run_id, look_again=False)
            return False
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        return await store.finish(self.owner, run_id)

    async def _renew(
        self, store: AutomationStore, run_id: str, task: asyncio.Task[Any], lost: asyncio.Event
    ) -> None:
        while True:
            await actors.sleep(self.lease / 3)
            now = wall_now()
            try:
                renewal = await store.renew(
                    self.owner, [run_id], now, now + timedelta(seconds=self.lease)
                )
            except Exception:
                log.exception("could not renew the lease of run %s", run_id)
                continue
            if run_id in renewal.lost:
                log.warning("lost the lease of run %s; stopping its resumption here", run_id)
                lost.set()
                task.cancel()
                return
