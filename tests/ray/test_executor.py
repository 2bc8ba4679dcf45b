"""``executor="ray"``: Ray assets run as named Ray tasks that load, compute and store in the
worker; FlowStone's retry policy, not Ray, retries them; a killed worker is a failed attempt.

One local Ray cluster with the dashboard serves the module (the task-name test reads the
state API). Asset functions live at module level: workers import this module to run them.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import flowstone as fs

pytestmark = pytest.mark.ray

REGIONS = fs.StaticPartitions(["eu", "us"])
STATE_API_DEADLINE = 60.0  # task events reach the dashboard about a second after the task

# -- a chain: local -> ray -> ray ----------------------------------------------------------

chain = fs.Pipeline("chain")


@chain.asset(partitioned_by=REGIONS)
def source(context: Any) -> dict[str, Any]:
    return {"region": context.partition, "made_by": os.getpid()}


@chain.asset(
    depends_on=["source"],
    partitioned_by=REGIONS,
    executor="ray",
    ray_options=fs.RayOptions(num_cpus=0.5, memory=64 * 2**20),
)
def enriched(context: Any, source: dict[str, Any]) -> dict[str, Any]:
    context.add_metadata(region=source["region"])
    return {**source, "enriched_by": os.getpid()}


@chain.asset(depends_on=["enriched"], partitioned_by=REGIONS, executor="ray")
def summary(context: Any, enriched: dict[str, Any]) -> str:
    made, by = enriched["made_by"], enriched["enriched_by"]
    return f"{enriched['region']}: made by {made}, enriched by {by}"


# -- a large value that must never reach the driver ----------------------------------------

big = fs.Pipeline("big")
PAYLOAD = 32 * 2**20


def _rebuild(forbidden_pid: int, payload: bytes) -> DriverTrap:
    if os.getpid() == forbidden_pid:
        raise AssertionError("a Ray asset's value was unpickled in the driver")
    return DriverTrap(forbidden_pid, payload)


class DriverTrap:
    """A value that refuses to be unpickled in the driver process."""

    def __init__(self, forbidden_pid: int, payload: bytes) -> None:
        self.forbidden_pid = forbidden_pid
        self.payload = payload

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.forbidden_pid, self.payload))


@big.asset(executor="ray", resources=["driver_pid"])
def blob(context: Any) -> DriverTrap:
    return DriverTrap(context.resources["driver_pid"], b"x" * PAYLOAD)


@big.asset(depends_on=["blob"], executor="ray")
def blob_size(context: Any, blob: DriverTrap) -> int:
    return len(blob.payload)


# -- failures -------------------------------------------------------------------------------

crashing = fs.Pipeline("crashing")
failing = fs.Pipeline("failing")


@crashing.asset(
    executor="ray",
    resources=["rendezvous"],
    retry=fs.RetryPolicy(max_retries=1, delay=0),
)
def crashes_once(context: Any) -> str:
    if context.attempt == 1:
        # Tell the test which process to kill, then wait to be killed.
        context.resources["rendezvous"].put(os.getpid())
        time.sleep(300)
    return f"attempt {context.attempt} survived"


@failing.asset(executor="ray", retry=fs.RetryPolicy(max_retries=1, delay=0, retry_on=(KeyError,)))
def raises_once(context: Any) -> str:
    if context.attempt == 1:
        raise KeyError("first attempt fails")
    return "second attempt"


@failing.asset(executor="ray", timeout=0.5)
def too_slow(context: Any) -> None:
    time.sleep(300)


in_memory = fs.Pipeline("in_memory")


@in_memory.asset(executor="ray", io_manager="memory")
def kept_in_memory(context: Any) -> int:
    return 1


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def cluster(ray_cluster_with_dashboard: Any) -> Any:
    return ray_cluster_with_dashboard


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Callable[..., fs.AsyncRuntime]]:
    made: list[fs.AsyncRuntime] = []

    def make(pipeline: fs.Pipeline, **kwargs: Any) -> fs.AsyncRuntime:
        rt = fs.AsyncRuntime(
            pipeline,
            storage="memory",
            base_dir=tmp_path,
            io_managers={"fs": fs.io.FilesystemIOManager(tmp_path / "values")},
            **kwargs,
        )
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.close()


async def eventually(probe: Callable[[], Any], what: str) -> Any:
    """Poll ``probe`` (in a thread: the state API blocks) until it returns something."""
    deadline = time.monotonic() + STATE_API_DEADLINE
    while True:
        found = await asyncio.to_thread(probe)
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {STATE_API_DEADLINE:g} s")
        await asyncio.sleep(0.25)


# -- tests ------------------------------------------------------------------------------------


async def test_ray_assets_run_in_ray_workers_and_read_their_inputs_there(runtime: Any) -> None:
    """A local asset feeds a Ray asset which feeds another; each Ray step runs in a worker."""
    rt = runtime(chain)
    result = await rt.materialize_all("summary", "eu")
    assert result.success
    [mat] = await rt.materializations("enriched", "eu")
    assert mat.metadata["ray_worker_pid"] != os.getpid()
    assert mat.metadata["region"] == "eu"  # context.add_metadata in the worker is recorded
    assert mat.metadata["io_manager"] == "fs"
    [stored] = await rt.materializations("summary", "eu")
    value = pickle.loads(await asyncio.to_thread(Path(stored.metadata["path"]).read_bytes))
    assert value == f"eu: made by {os.getpid()}, enriched by {mat.metadata['ray_worker_pid']}"


async def test_tasks_are_named_after_pipeline_asset_and_partition(
    runtime: Any, cluster: Any
) -> None:
    """The state API (and so `ray list tasks` and the dashboard) shows each attempt by name,
    with the resources asked for in RayOptions; the name has no run id, so `ray summary
    tasks` groups the attempts of one asset partition."""
    from ray.util.state import list_tasks

    rt = runtime(chain)
    result = await rt.materialize_all("enriched", "us")
    assert result.success
    name = "flowstone:chain/enriched/us"
    [task] = await eventually(
        lambda: [
            t
            for t in list_tasks(cluster.dashboard, filters=[("name", "=", name)], detail=True)
            if t.state == "FINISHED"
        ],
        f"a finished task named {name!r}",
    )
    assert task.required_resources == {"CPU": 0.5, "memory": float(64 * 2**20)}


async def test_a_large_value_goes_from_worker_to_worker_without_passing_through_the_driver(
    runtime: Any,
) -> None:
    """32 MB stored and loaded in workers: never unpickled here, no driver memory for it."""
    rt = runtime(big, resources={"driver_pid": os.getpid()})
    await rt.start()
    tracemalloc.start()
    try:
        result = await rt.materialize_all("blob_size")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.success
    assert peak < PAYLOAD / 4
    [mat] = await rt.materializations("blob_size")
    assert mat.metadata["size"] > 0


async def test_a_worker_killed_mid_step_is_a_failed_attempt_that_the_retry_policy_retries(
    runtime: Any, cluster: Any
) -> None:
    """SIGKILL of the worker process running the step: WorkerCrashedError, then a retry."""
    from ray.util.queue import Queue

    rendezvous = Queue(actor_options={"num_cpus": 0})
    rt = runtime(crashing, resources={"rendezvous": rendezvous})
    run = asyncio.ensure_future(rt.materialize("crashes_once"))
    worker_pid = await rendezvous.get_async(timeout=STATE_API_DEADLINE)
    os.kill(worker_pid, signal.SIGKILL)
    result = await run
    assert result.success
    second, first = await rt.materializations("crashes_once")
    assert (first.attempt, first.status) == (1, "failed")
    assert first.error is not None
    assert first.error.type == "WorkerCrashedError"
    assert (second.attempt, second.status) == (2, "succeeded")
    cluster.ray.kill(rendezvous.actor)


async def test_an_exception_in_a_worker_is_recorded_with_its_own_type_and_retried(
    runtime: Any,
) -> None:
    """Ray's RayTaskError wrapper is removed: retry_on=(KeyError,) matches the real error."""
    rt = runtime(failing)
    assert (await rt.materialize("raises_once")).success
    second, first = await rt.materializations("raises_once")
    assert first.error is not None
    assert first.error.type == "KeyError"
    assert "raised in a Ray worker" in first.error.traceback
    assert second.status == "succeeded"


async def test_a_ray_step_over_its_timeout_fails_as_a_timeout(runtime: Any) -> None:
    """The asset's timeout applies to Ray steps too (the Ray task is cancelled)."""
    rt = runtime(failing)
    with pytest.raises(fs.RunFailed):
        await rt.materialize("too_slow")
    [mat] = await rt.materializations("too_slow")
    assert mat.error is not None
    assert mat.error.type == "AssetTimeout"


async def test_the_memory_io_manager_is_refused_for_ray_assets_with_a_way_out(
    runtime: Any,
) -> None:
    """Values kept in the driver's memory are out of the workers' reach: the Runtime refuses
    the pipeline when it is built, and says what to use."""
    with pytest.raises(fs.DefinitionError) as caught:
        runtime(in_memory)
    message = str(caught.value)
    assert "asset 'kept_in_memory' runs on Ray but its io manager 'memory'" in message
    assert "use 'fs' (a shared filesystem), 's3', 'parquet' or 'postgres'" in message


def test_importing_flowstone_and_actors_does_not_import_ray() -> None:
    """Ray is imported only when a Ray asset runs or a Ray-hosted actor is spawned."""
    code = "import sys, flowstone, actors, supervisors; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


LIFECYCLE = """
import sys, tempfile
import flowstone as fs

p = fs.Pipeline("lifecycle")

@p.asset()
def local_step(context):
    return 1

@p.asset(executor="ray")
def ray_step(context):
    return 2

base = tempfile.mkdtemp()
first = fs.Runtime(p, base_dir=base + "/first")
second = fs.Runtime(p, base_dir=base + "/second")
first.materialize("local_step")
print("imported after a local asset:", "ray" in sys.modules)
first.materialize("ray_step")
second.materialize("ray_step")
import ray
print("initialised:", ray.is_initialized())
first.close()
print("after closing one runtime:", ray.is_initialized())
second.close()
print("after closing both:", ray.is_initialized())
"""


@pytest.mark.timeout(180)
def test_ray_address_none_starts_a_local_cluster_on_first_use_and_stops_it_after_the_last_runtime(
    tmp_path: Path,
) -> None:
    """No Ray until a Ray asset runs; runtimes of one process share the cluster FlowStone
    started; it stops when the last of them closes."""
    script = tmp_path / "lifecycle.py"
    script.write_text(LIFECYCLE)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=170
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines() == [
        "imported after a local asset: False",
        "initialised: True",
        "after closing one runtime: True",
        "after closing both: False",
    ]
