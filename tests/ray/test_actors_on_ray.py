"""The core actor semantics on both backends: a local task, and a named Ray actor in a Ray
worker process. The same tests run on each; the Ray-only tests at the end check what only
Ray has (worker processes, Ray names, Ray never restarting)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import actors
import supervisors

BACKENDS = ["local", pytest.param("ray", marks=pytest.mark.ray)]
SPAWN_TIMEOUT = 60.0  # a Ray worker process starts in ~1 s, more on a loaded machine


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return str(request.param)


class Counter(actors.Actor):
    """Counts casts; crashes on request; writes its terminate reason to a file."""

    async def init(self, start: int = 0, marker: str | None = None) -> None:
        self.count = start
        self.marker = marker

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        if message == "get":
            return self.count
        if message == "pid":
            return os.getpid()
        if message == "crash":
            raise ValueError("asked to crash")
        raise AssertionError(f"unexpected call {message!r}")

    async def handle_cast(self, message: Any) -> None:
        self.count += message

    async def handle_info(self, message: Any) -> None:
        self.count += 1000

    async def terminate(self, reason: Any) -> None:
        if self.marker is not None:
            # A small local file; blocking briefly in terminate is fine for a test.
            Path(self.marker).write_text(actors.format_reason(reason))  # noqa: ASYNC240


class Trapper(actors.Actor):
    """A local actor that traps exits and collects every message it receives."""

    trap_exits = True

    async def init(self, target: actors.ActorRef | None = None, *, monitor: bool = False) -> None:
        self.received: list[Any] = []
        if target is not None:
            if monitor:
                self.monitor(target)
            else:
                self.link(target)

    async def handle_info(self, message: Any) -> None:
        self.received.append(message)

    async def handle_call(self, message: Any, caller: actors.Caller) -> Any:
        return list(self.received)


class Linker(actors.Actor):
    """A local actor that links to ``target`` and crashes on request (not trapping)."""

    async def init(self, target: actors.ActorRef) -> None:
        self.link(target)

    async def handle_cast(self, message: Any) -> None:
        raise RuntimeError("linker crashed")


async def spawn(backend: str, cls: type[actors.Actor], *args: Any, **kwargs: Any) -> Any:
    return await actors.spawn(cls, *args, backend=backend, **kwargs)


def process_killer(backend: str) -> Callable[[actors.ActorRef], Any]:
    """Kill the actor as hard as its backend allows: SIGKILL its Ray worker, or ``kill()``."""

    async def kill(ref: actors.ActorRef) -> None:
        if backend == "ray":
            os.kill(await ref.call("pid", timeout=SPAWN_TIMEOUT), signal.SIGKILL)
        else:
            ref.kill()

    return kill


async def test_a_call_is_answered_after_the_casts_and_sends_sent_before_it(backend: str) -> None:
    """Messages from one sender are handled in the order sent, on either backend."""
    ref = await spawn(backend, Counter, 5)
    for _ in range(50):
        ref.cast(1)
    ref.send("tick")
    assert await ref.call("get", timeout=SPAWN_TIMEOUT) == 1055
    await ref.stop()


async def test_a_crash_in_handle_call_gives_the_caller_noproc_and_becomes_the_exit_reason(
    backend: str,
) -> None:
    """An exception in handle_call exits the actor with it; the caller gets NoProc."""
    ref = await spawn(backend, Counter)
    with pytest.raises(actors.NoProc) as caught:
        await ref.call("crash", timeout=SPAWN_TIMEOUT)
    assert isinstance(caught.value.reason, ValueError)
    reason = await ref.wait()
    assert isinstance(reason, ValueError)
    assert str(reason) == "asked to crash"
    assert not ref.alive
    with pytest.raises(actors.NoProc):
        await ref.call("get")


async def test_stop_runs_terminate_with_the_reason_and_releases_the_name(
    backend: str, tmp_path: Path
) -> None:
    """stop() is orderly: terminate(reason) runs, then whereis forgets the name."""
    marker = tmp_path / "terminated"
    ref = await spawn(backend, Counter, marker=str(marker), name=f"counter-{backend}")
    assert actors.whereis(f"counter-{backend}") == ref
    await ref.stop("shutdown", timeout=SPAWN_TIMEOUT)
    assert marker.read_text() == "'shutdown'"
    assert ref.exit_reason == "shutdown"
    assert actors.whereis(f"counter-{backend}") is None


async def test_kill_exits_at_once_with_reason_killed_and_skips_terminate(
    backend: str, tmp_path: Path
) -> None:
    """kill() is untrappable and immediate; terminate does not run."""
    marker = tmp_path / "terminated"
    ref = await spawn(backend, Counter, marker=str(marker))
    ref.kill()
    assert not ref.alive
    assert await ref.wait() == "killed"
    assert not marker.exists()


async def test_a_crash_reaches_a_linked_trapping_local_actor_as_an_exit(backend: str) -> None:
    """The exit of a (possibly Ray-hosted) actor is an Exit message to a trapping local link."""
    ref = await spawn(backend, Counter)
    trapper = await actors.spawn(Trapper, ref)
    ref.cast("not a number")  # count += "..." raises TypeError in handle_cast
    reason = await ref.wait()
    assert isinstance(reason, TypeError)
    [exit_message] = await trapper.call("received")
    assert exit_message == actors.Exit(ref, reason)
    await trapper.stop()


async def test_a_monitor_receives_down_with_the_exit_reason(backend: str) -> None:
    """A local monitor of a (possibly Ray-hosted) actor gets Down when it stops."""
    ref = await spawn(backend, Counter)
    watcher = await actors.spawn(Trapper, ref, monitor=True)
    await ref.stop(("shutdown", "done"), timeout=SPAWN_TIMEOUT)
    [down] = await watcher.call("received")
    assert isinstance(down, actors.Down)
    assert (down.ref, down.reason) == (ref, ("shutdown", "done"))
    await watcher.stop()


async def test_the_crash_of_a_linked_local_actor_takes_the_actor_down_too(backend: str) -> None:
    """Exit signals travel the other way as well: a local crash kills a non-trapping link."""
    ref = await spawn(backend, Counter)
    linker = await actors.spawn(Linker, ref)
    linker.cast("crash")
    reason = await ref.wait()
    assert isinstance(reason, RuntimeError)
    assert str(reason) == "linker crashed"
    assert isinstance(await linker.wait(), RuntimeError)


async def test_statistics_count_the_messages_handled(backend: str) -> None:
    """ref.statistics() works through the ref whatever the backend."""
    ref = await spawn(backend, Counter)
    ref.cast(1)
    ref.cast(2)
    await ref.call("get", timeout=SPAWN_TIMEOUT)
    stats = ref.statistics()
    assert (stats.actor_class, stats.alive, stats.messages_handled) == ("Counter", True, 3)
    await ref.stop()
    assert ref.statistics().alive is False


async def test_a_killed_process_reaches_a_trapping_link_as_an_abnormal_exit(backend: str) -> None:
    """A worker process killed from outside (SIGKILL) is an exit like any other."""
    ref = await spawn(backend, Counter)
    trapper = await actors.spawn(Trapper, ref)
    await process_killer(backend)(ref)
    reason = await ref.wait()
    assert not actors.is_clean(reason)
    [exit_message] = await trapper.call("received")
    assert exit_message.ref == ref
    assert not actors.is_clean(exit_message.reason)
    await trapper.stop()


async def test_a_supervisor_restarts_a_child_whose_process_was_killed(backend: str) -> None:
    """A local supervisor supervises a Ray-hosted child: a killed worker is restarted."""
    spec = supervisors.ChildSpec("counter", lambda: actors.spawn(Counter, 7, backend=backend))
    sup = await supervisors.Supervisor.start([spec])
    [child] = await sup.which_children()
    first = child.ref
    assert first is not None
    await process_killer(backend)(first)
    await first.wait()
    # The supervisor handles the Exit (queued before wait() returned) before this call.
    [child] = await sup.which_children()
    assert child.ref is not None
    assert child.ref != first
    assert child.ref.alive
    assert await child.ref.call("get", timeout=SPAWN_TIMEOUT) == 7
    await sup.stop("shutdown", timeout=SPAWN_TIMEOUT)
    assert not child.ref.alive


# -- Ray only ------------------------------------------------------------------------------


@pytest.mark.ray
async def test_a_ray_hosted_actor_is_a_named_ray_actor_in_its_own_worker(
    ray_cluster: Any,
) -> None:
    """The actor runs in another OS process and is found in Ray under its name."""
    from actors._backends._ray import ray_name, worker_pid

    ref = await actors.spawn(Counter, backend="ray", name="flowstone:test/counter")
    pid = await ref.call("pid", timeout=SPAWN_TIMEOUT)
    assert pid == worker_pid(ref) != os.getpid()
    assert ray_name(ref) == "flowstone:test/counter"
    assert ray_cluster.ray.get_actor("flowstone:test/counter") is not None
    await ref.stop()


@pytest.mark.ray
async def test_ray_never_restarts_a_hosted_actor_whose_worker_died(ray_cluster: Any) -> None:
    """max_restarts=0: the dead actor stays dead in Ray; only supervisors restart."""
    from ray._private import state

    ref = await actors.spawn(Counter, backend="ray", name="never-restarted")
    os.kill(await ref.call("pid", timeout=SPAWN_TIMEOUT), signal.SIGKILL)
    assert isinstance(await ref.wait(), ray_cluster.ray.exceptions.ActorDiedError)
    [info] = [a for a in state.actors().values() if a["Name"] == "never-restarted"]
    assert info["NumRestarts"] == 0
    assert info["State"] in {"DEAD", "ALIVE"}  # ALIVE only until the GCS notices the death
    assert info["State"] != "RESTARTING"


@pytest.mark.ray
async def test_a_failing_init_on_ray_raises_start_error_with_the_cause(ray_cluster: Any) -> None:
    """init() raising in the worker is a StartError in the driver, as locally."""

    class Failing(actors.Actor):
        async def init(self) -> None:
            raise KeyError("missing setting")

    with pytest.raises(actors.StartError) as caught:
        await actors.spawn(Failing, backend="ray")
    assert isinstance(caught.value.reason, KeyError)


def test_an_unknown_backend_name_is_refused_with_the_known_ones() -> None:
    """A typo in backend= names the backends that exist."""
    from actors._backends import resolve

    with pytest.raises(ValueError, match="expected 'local' or 'ray'"):
        resolve("rey")
