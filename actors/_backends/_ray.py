"""The Ray backend: actors living in Ray worker processes, behind the same ``ActorRef``.

Internal, and the only module of ``actors`` that imports Ray (lazily, on first spawn).

Each Ray-hosted actor is a named Ray async actor (an ``ActorHost`` from ``_ray_host``) that
runs the user's actor with the local backend inside the worker. In this process a
``RayProcess`` stands for it: it implements ``actors.abc.ProcessBackend``, so links,
monitors and supervisors treat it as any other actor.

Supervision belongs to FlowStone's supervisors alone, so Ray never restarts or retries
(``max_restarts=0``, ``max_task_retries=0``). Ray has no death notification; as recommended
in docs/adr/0020-ray-executor-and-actor-backend.md, one ``wait()`` call per actor stays
outstanding, and its result (the exit reason) or its failure (``ActorDiedError`` when the
worker process died) is this process's signal that the actor exited. Every exit is then
handled once, in ``_finalize``, exactly as the local backend does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actors import _registry
from actors._backends._ray_host import ActorHost, portable
from actors._clock import get_clock
from actors._exceptions import NoProc, StartError
from actors._messages import KILLED, NOPROC, Down, format_reason
from actors._peers import Peers
from actors._ref import ActorRef
from actors._statistics import ActorStatistics

if TYPE_CHECKING:
    from actors._actor import Actor
    from actors.abc import ProcessBackend

log = logging.getLogger("actors.ray")

# One Ray actor class per user actor class, so `ray list actors` shows the user's class name.
_remote_classes: dict[type, Any] = {}


def _ray() -> Any:
    import ray

    return ray


class RayBackend:
    """Run actors as named Ray actors: ``actors.spawn(Cls, ..., backend=RayBackend(...))``.

    ``backend="ray"`` is ``RayBackend()``. Ray must be initialised (``ray.init``) in this
    process, or it is initialised with Ray's defaults on the first spawn.

    Args:
        num_cpus, num_gpus, memory, resources: what each actor reserves on the cluster
            (None leaves Ray's defaults: an actor needs one CPU to be placed, none to run).
        runtime_env: a Ray runtime environment for the actor's worker.
        namespace: the Ray namespace of the actor names (None: this driver's namespace).
    """

    name = "ray"

    def __init__(
        self,
        *,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: int | None = None,
        resources: dict[str, float] | None = None,
        runtime_env: dict[str, Any] | None = None,
        namespace: str | None = None,
    ) -> None:
        given = {
            "num_cpus": num_cpus,
            "num_gpus": num_gpus,
            "memory": memory,
            "resources": resources,
            "runtime_env": runtime_env,
            "namespace": namespace,
        }
        self.options = {key: value for key, value in given.items() if value is not None}

    async def spawn(
        self,
        actor_class: type[Actor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None,
    ) -> ActorRef:
        """Start ``actor_class`` in a Ray worker; return its ref once ``init`` has run."""
        ray = await _initialised()
        proc = RayProcess(actor_class, name)
        options = {
            **self.options,
            "name": proc.ray_name,
            "max_restarts": 0,  # FlowStone's supervisors are the only restarters
            "max_task_retries": 0,
        }
        try:
            proc.handle = _remote_class(ray, actor_class).options(**options).remote()
        except Exception as error:
            raise StartError(
                f"could not create the Ray actor {proc.ray_name!r} for {proc.display_name}: "
                f"{format_reason(error)}",
                reason=error,
            ) from error
        if name is not None:
            _registry.register(name, proc)  # type: ignore[arg-type]
        _registry.add_live(proc)  # type: ignore[arg-type]
        await proc.start(actor_class, args, kwargs)
        return proc.ref

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"RayBackend({options})"


async def _initialised() -> Any:
    ray = _ray()
    if not ray.is_initialized():
        # ray.init blocks for seconds; keep the event loop (and every other actor) running.
        await asyncio.to_thread(ray.init)
    return ray


def _remote_class(ray: Any, actor_class: type) -> Any:
    remote = _remote_classes.get(actor_class)
    if remote is None:
        host = type(actor_class.__name__, (ActorHost,), {"__module__": ActorHost.__module__})
        remote = ray.remote(host)
        _remote_classes[actor_class] = remote
    return remote


class RayProcess(Peers):
    """Internal: this process's stand-in for an actor hosted by a Ray worker."""

    runnable = False  # its work happens in another process, never on this loop

    def __init__(self, actor_class: type[Actor], name: str | None) -> None:
        self.pid = _registry.next_pid()
        self.name = name
        self.actor_class = actor_class
        self.ray_name = name if name is not None else f"{actor_class.__name__}#{self.pid}"
        self.ref = ActorRef._create(self)
        self.alive = True
        self.reason: Any = None
        self.loop = asyncio.get_running_loop()
        self.handle: Any = None
        self.worker_pid: int | None = None
        """The operating-system pid of the Ray worker hosting the actor."""
        self._seq = 0
        self._links: set[ProcessBackend] = set()
        self._monitored_by: dict[int, ProcessBackend] = {}
        self._callers: dict[asyncio.Future[Any], Any] = {}
        self._exited: asyncio.Future[Any] = self.loop.create_future()
        self._watcher: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    async def start(
        self, actor_class: type[Actor], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        """Run ``init`` in the worker; raise ``StartError`` (after exiting) if it fails."""
        try:
            status, detail = await self.handle.start.remote(actor_class, args, kwargs, self.name)
        except asyncio.CancelledError:
            self.kill()  # nobody will receive the ref: the actor must not outlive the request
            raise
        except Exception as error:  # the worker died, or the arguments could not be sent
            self._finalize(error)
            raise StartError(
                f"{self.display_name} failed to start on Ray: {format_reason(error)}",
                reason=error,
            ) from error
        if status != "ok":
            text, reason = detail
            self._finalize(reason)
            failed = StartError(
                f"{self.display_name} failed to start on Ray: {text}", reason=reason
            )
            if isinstance(reason, BaseException):
                failed.__cause__ = reason
            raise failed
        self.worker_pid = detail
        self._watcher = self.loop.create_task(self._watch(), name=f"watch {self.display_name}")

    async def _watch(self) -> None:
        """Wait for the actor's exit: a clean reason, or the worker process dying."""
        try:
            reason = await self.handle.wait.remote()
        except asyncio.CancelledError:
            return
        except Exception as error:  # ActorDiedError: the process died (crash, OOM, kill)
            reason = error
        self._finalize(reason)

    def _finalize(self, reason: Any) -> None:
        """Do the exit bookkeeping exactly once: name, callers, links, monitors, worker."""
        if not self.alive:
            return
        self.alive = False
        self.reason = reason
        if self.name is not None:
            _registry.unregister(self.name, self)  # type: ignore[arg-type]
        _registry.remove_live(self)  # type: ignore[arg-type]
        self._fail_callers(reason)
        self._notify_peers(reason)
        self._exited.set_result(reason)
        if self._watcher is not None and self._watcher is not asyncio.current_task():
            self._watcher.cancel()
        self._release()

    def _release(self) -> None:
        # The worker has reported the exit (or is dead): free the process and the Ray name.
        if self.handle is None:
            return
        try:
            _ray().kill(self.handle, no_restart=True)
        except Exception:  # already gone
            log.debug("could not kill the Ray actor of %s", self.display_name, exc_info=True)

    # -- used through ActorRef ------------------------------------------------------------------

    async def call(self, message: Any, timeout: float | None) -> Any:
        """Relay a call and wait for the reply (or NoProc / CallTimeout)."""
        if not self.alive:
            raise NoProc(
                f"call {message!r} to {self.ref!r} failed: the actor is not alive "
                f"(it exited: {format_reason(self.reason)})",
                ref=self.ref,
                reason=NOPROC,
                request=message,
            )
        reply: asyncio.Future[Any] = self.loop.create_future()
        remote = self._submit(lambda seq: self.handle.call.remote(seq, message))
        asyncio.wrap_future(remote.future(), loop=self.loop).add_done_callback(
            lambda done: self._on_reply(done, reply)
        )
        self._callers[reply] = message
        timer = None
        if timeout is not None and timeout != float("inf"):
            timer = get_clock().call_later(
                timeout, lambda: _expire(reply, self.ref, message, timeout)
            )
        try:
            return await reply
        finally:
            self._callers.pop(reply, None)
            if timer is not None:
                timer.cancel()

    def _on_reply(self, done: asyncio.Future[Any], reply: asyncio.Future[Any]) -> None:
        if done.cancelled():
            return
        error = done.exception()
        if error is not None:  # the worker died while the call was pending
            self._finalize(error)
            return
        status, value = done.result()
        if status == "noproc":  # the actor exited in the worker; its reason came with it
            self._finalize(value)
        elif not reply.done():
            reply.set_result(value)

    def cast(self, message: Any) -> None:
        """Relay a cast; dropped if the actor is dead."""
        if self.alive:
            self._fire("cast", lambda seq: self.handle.cast.remote(seq, message))

    def send(self, message: Any) -> None:
        """Relay a plain message; dropped if the actor is dead."""
        if self.alive:
            self._fire("send", lambda seq: self.handle.send.remote(seq, message))

    async def stop(self, reason: Any, timeout: float | None) -> None:
        """Stop in order in the worker; kill after ``timeout`` seconds of the runtime clock."""
        if not self.alive:
            return
        self._fire("stop", lambda seq: self.handle.stop.remote(seq, reason))
        timer = None
        if timeout is not None and timeout != float("inf"):
            timer = get_clock().call_later(timeout, self.kill)
        try:
            await asyncio.shield(self._exited)
        finally:
            if timer is not None:
                timer.cancel()

    def kill(self) -> None:
        """Exit at once with reason ``killed``: the Ray actor's process is killed."""
        self._finalize(KILLED)

    async def wait(self) -> Any:
        """Wait for the exit and return its reason."""
        return await asyncio.shield(self._exited)

    def statistics(self) -> ActorStatistics:
        """A snapshot from the worker, with the links and monitors held in this process."""
        snapshot = None
        if self.alive:
            try:
                snapshot = _ray().get(self.handle.statistics.remote(), timeout=10.0)
            except Exception:  # it died meanwhile: report what this process knows
                snapshot = None
        if snapshot is None:
            snapshot = ActorStatistics(
                pid=self.pid,
                name=self.name,
                actor_class=self.actor_class.__name__,
                alive=False,
                trap_exits=bool(self.actor_class.trap_exits),
                mailbox_depth=0,
                peak_mailbox_depth=0,
                messages_handled=0,
                pending_calls=0,
                links=0,
                monitors=0,
                monitored_by=0,
            )
        return dataclasses.replace(
            snapshot,
            pid=self.pid,
            alive=self.alive,
            pending_calls=sum(1 for f in self._callers if not f.done()),
            links=len(self._links),
            monitored_by=len(self._monitored_by),
        )

    # -- used by peer processes -------------------------------------------------------------------

    def exit_signal(self, sender: ActorRef, reason: Any) -> None:
        """Relay the exit of a linked process to the hosted actor (trapped, ignored or fatal)."""
        if self.alive:
            label, pid, portable_reason = repr(sender), sender.pid, portable(reason)
            self._fire(
                "exit signal",
                lambda seq: self.handle.exit_signal.remote(seq, pid, label, portable_reason),
            )

    def down_signal(self, down: Down) -> None:
        """Relay a ``Down`` to the hosted actor's ``handle_info``."""
        if self.alive:
            label, pid, reason = repr(down.ref), down.ref.pid, portable(down.reason)
            self._fire(
                "down",
                lambda seq: self.handle.down.remote(seq, down.monitor_id, pid, label, reason),
            )

    # -- plumbing --------------------------------------------------------------------------------

    def _submit(self, submit: Callable[[int], Any]) -> Any:
        """Submit one ordered operation; its sequence number is used only if it was sent."""
        remote = submit(self._seq)
        self._seq += 1
        return remote

    def _fire(self, what: str, submit: Callable[[int], Any]) -> None:
        """Submit a fire-and-forget operation; a message Ray cannot send is logged, not raised."""
        try:
            self._submit(submit)
        except Exception:
            log.exception("could not relay a %s to %s", what, self.display_name)

    @property
    def display_name(self) -> str:
        """``Class 'name' #pid`` or ``Class #pid``, marked as running on Ray."""
        label = self.actor_class.__name__
        base = f"{label} {self.name!r} #{self.pid}" if self.name else f"{label} #{self.pid}"
        return f"{base} on Ray"

    def __repr__(self) -> str:
        return f"<RayProcess {self.display_name} {'alive' if self.alive else 'dead'}>"


def _expire(reply: asyncio.Future[Any], ref: ActorRef, message: Any, timeout: float) -> None:
    from actors._exceptions import CallTimeout

    if not reply.done():
        reply.set_exception(CallTimeout(ref, message, timeout))


def ray_name(ref: ActorRef) -> str | None:
    """The Ray actor name of a Ray-hosted actor (None for a local one)."""
    proc = ref._process
    return proc.ray_name if isinstance(proc, RayProcess) else None


def worker_pid(ref: ActorRef) -> int | None:
    """The operating-system pid of the Ray worker hosting ``ref`` (None for a local actor)."""
    proc = ref._process
    return proc.worker_pid if isinstance(proc, RayProcess) else None


if TYPE_CHECKING:  # the Ray backend implements the backend interface
    _backend_check: type[ProcessBackend] = RayProcess
