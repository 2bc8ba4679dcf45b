"""``RunExecutor``: the actor that claims queued runs and executes them.

Internal. It polls the queue every ``poll_interval`` (claiming at most its free slots, within
the cluster and pool limits), runs each claimed run as an asyncio task through the
``RunLauncher``, renews the leases of its runs every ``heartbeat`` seconds, and marks a run
done when its task ends. A renewal that finds a run owned by another daemon (this one was
presumed dead) cancels the local task: the new owner's execution is the one that counts.
On exit (crash, shutdown, drain) it hands its unfinished runs back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import actors
from flowstone.automation._clock import wall_now
from flowstone.automation._context import DaemonContext
from flowstone.automation._crash import crash_point
from flowstone.automation._records import Claim, Limits

log = logging.getLogger("flowstone.automation")


@dataclass(frozen=True)
class _Finished:
    run_id: str
    task: asyncio.Task[str]


@dataclass(frozen=True)
class Drain:
    """Call message: stop claiming, wait up to ``timeout`` s, then hand runs back."""

    timeout: float


class RunExecutor(actors.Actor):
    """Claims and executes queued runs for one daemon (see the module docstring)."""

    async def init(self, ctx: DaemonContext) -> None:
        self.ctx = ctx
        self.config = ctx.config
        self.tasks: dict[str, asyncio.Task[str]] = {}
        self.draining = False
        self.executed = 0
        self._later(0.0, "poll")
        self._later(self.config.heartbeat, "renew")

    def _later(self, delay: float, message: object) -> None:
        ref = self.ref
        actors.get_clock().call_later(delay, lambda: ref.send(message))

    async def handle_info(self, message: object) -> None:
        if message == "poll":
            await self._poll()
            self._later(self.config.poll_interval, "poll")
        elif message == "renew":
            await self._renew()
            self._later(self.config.heartbeat, "renew")
        elif isinstance(message, _Finished):
            await self._finished(message)

    async def handle_call(self, message: object, caller: actors.Caller) -> object:
        if message == "held":
            return sorted(self.tasks)
        if message == "poll":
            await self._poll()
            return sorted(self.tasks)
        if isinstance(message, Drain):
            return await self._drain(message.timeout)
        if message == "statistics":
            return {"running": len(self.tasks), "executed": self.executed}
        raise ValueError(f"RunExecutor does not understand {message!r}")

    # -- claiming ---------------------------------------------------------------------------

    async def _poll(self) -> None:
        free = self.config.max_runs - len(self.tasks)
        if self.draining or free <= 0:
            return
        now = wall_now()
        pipeline = self.ctx.definitions.current.pipeline.name
        config = self.config
        limits = Limits(free, config.max_cluster_runs, dict(config.pool_limits), pipeline)
        lease_until = now + timedelta(seconds=self.config.lease)
        version = self.ctx.definitions.current.code_version
        claims = await self.ctx.store.claim(
            self.config.daemon_id, now, lease_until, limits, version
        )
        observer = self.ctx.observer
        for claim in claims:
            crash_point("run_claimed")
            observer.run_claimed(claim.takeover)
            await self._start(claim)
        if observer.counts_queue:
            await self._count_queue(pipeline)

    async def _count_queue(self, pipeline: str) -> None:
        # Counted here, on the actor, not in the metric callback: the SDK collects on its
        # own thread, which must never wait for (or fail on) the record store.
        try:
            total, pools = await self.ctx.store.queue_depth(pipeline)
        except Exception:
            log.debug("could not count the queue of %s", pipeline, exc_info=True)
            return
        self.ctx.observer.queue_depth(pipeline, total, pools)

    async def _start(self, claim: Claim) -> None:
        if claim.claims > self.config.max_claims:
            await self._give_up(claim)
            return
        if claim.takeover:
            log.info("taking over run %s (claim %d)", claim.run_id, claim.claims)
        task = asyncio.get_running_loop().create_task(
            self.ctx.launcher.resume(claim.run_id), name=f"flowstone-run-{claim.run_id}"
        )
        self.tasks[claim.run_id] = task
        self.ctx.observer.run_started()
        ref, run_id = self.ref, claim.run_id

        def finished(done: asyncio.Task[str]) -> None:
            ref.send(_Finished(run_id, done))

        task.add_done_callback(finished)

    async def _give_up(self, claim: Claim) -> None:
        # A run whose daemons keep dying (it exhausts memory, say) must not take every
        # daemon down in turn: after max_claims it is failed, with the reason.
        reason = (
            f"run {claim.run_id} was claimed {claim.claims} times without finishing "
            f"(its daemons died or were killed while running it); giving up"
        )
        log.error(reason)
        await self.ctx.store.abandon(self.config.daemon_id, claim.run_id, wall_now(), reason)

    # -- finishing --------------------------------------------------------------------------

    async def _finished(self, message: _Finished) -> None:
        if self.tasks.get(message.run_id) is not message.task:
            return  # lost or handed back already
        del self.tasks[message.run_id]
        task = message.task
        if task.cancelled():
            return  # handed back (drain) or taken over: not ours to finish
        error = task.exception()
        if error is not None:
            log.error("run %s could not be executed: %r", message.run_id, error)
            reason = f"{type(error).__name__}: {error}"
            await self.ctx.store.abandon(self.config.daemon_id, message.run_id, wall_now(), reason)
        else:
            await self.ctx.store.finish(self.config.daemon_id, message.run_id)
        self.executed += 1
        self.ref.send("poll")  # a slot is free: claim again without waiting a full interval

    # -- leases -----------------------------------------------------------------------------

    async def _renew(self) -> None:
        now = wall_now()
        until = now + timedelta(seconds=self.config.lease)
        renewal = await self.ctx.store.renew(self.config.daemon_id, list(self.tasks), now, until)
        for run_id in renewal.lost:
            task = self.tasks.pop(run_id, None)
            if task is not None:
                log.warning("lost the lease of run %s; stopping its local execution", run_id)
                task.cancel()
        for run_id in renewal.cancel:
            if await self.ctx.launcher.cancel(run_id):
                log.info("run %s cancelled on request", run_id)

    # -- draining ---------------------------------------------------------------------------

    async def _drain(self, timeout: float) -> list[str]:
        self.draining = True
        pending = list(self.tasks.values())
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        # Record the runs that finished while draining now, not when their completion
        # messages come round after this call: the caller is about to stop the daemon.
        for run_id, task in list(self.tasks.items()):
            if task.done():
                await self._finished(_Finished(run_id, task))
        return await self._hand_back()

    async def _hand_back(self) -> list[str]:
        handed: list[str] = []
        for run_id, task in list(self.tasks.items()):
            if task.done():
                continue
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self.tasks.pop(run_id, None)
            if await self.ctx.store.release(self.config.daemon_id, run_id):
                handed.append(run_id)
                self.ctx.observer.run_handed_back()
        return handed

    async def terminate(self, reason: object) -> None:
        try:
            await self._hand_back()
        except Exception:  # the store may be the reason we are exiting
            log.exception("could not hand runs back; their leases will expire")
