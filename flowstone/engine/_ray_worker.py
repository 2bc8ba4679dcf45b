"""What runs inside a Ray worker for one attempt of a Ray asset: load the inputs through
their I/O managers, call the asset function, store its value. Values never leave the worker
except through the I/O manager, so a large value never passes through the driver.

Internal. The driver (``flowstone.engine._ray``) sends a small ``TaskSpec`` per attempt; everything
that is the same for every attempt (asset functions, I/O managers, their options, resources)
is a ``Bundle``, deserialized once per worker however many tasks it runs. A small bundle is
bound into the task function itself (``bound_task``), which Ray exports once per runtime and
each worker imports once, so a task carries no reference at all. A large one goes to the
object store and each task carries its ``ObjectRef`` (``task_by_reference``); workers keep the
bundles they have fetched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import os
import pickle
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flowstone.definitions._context import AssetContext
from flowstone.engine._node import Node, Upstream, shape, value_key
from flowstone.io._manager import IOContext, IOManager
from flowstone.partitions import PartitionKey

_BUNDLES_KEPT = 8  # runtimes whose bundles a worker keeps (one per driver, in practice)
_bundles: OrderedDict[str, Bundle] = OrderedDict()
_loop: asyncio.AbstractEventLoop | None = None


@dataclass(frozen=True)
class AssetPlan:
    """What a worker needs to know about one asset: how to store (and load) its value and,
    for a Ray asset, the function to call and the resources it declared."""

    name: str
    io_manager: str
    io_template: IOContext
    fn: Callable[..., Any] | None = None
    resources: Mapping[str, Any] = field(default_factory=dict)
    definition: Any = None


@dataclass(frozen=True)
class Bundle:
    """Everything that is the same for every attempt of one runtime's Ray assets."""

    pipeline: str
    assets: Mapping[str, AssetPlan]
    managers: Mapping[str, IOManager]


class TaskSpec(NamedTuple):
    """One attempt of one Ray asset partition, as sent to the worker (a tuple: the cheapest
    thing to pickle, once per task)."""

    asset: str
    node: Node
    run_id: str
    attempt: int
    upstreams: list[Upstream]
    task_name: str


def pack(spec: TaskSpec) -> TaskSpec | bytes:
    """The spec as the task's argument: plain tuples pickled here by the standard pickler
    (Ray sends bytes as they are, where it would run its own, slower pickler over the
    spec's objects), or the spec itself if a partition key only cloudpickle can pickle."""
    node = spec.node
    ups = tuple(
        (up.dep, up.single, tuple((n.asset, n.key, n.encoded) for n in up.nodes))
        for up in spec.upstreams
    )
    wire = (spec.asset, node.key, node.encoded, spec.run_id, spec.attempt, ups, spec.task_name)
    try:
        return pickle.dumps(wire, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return spec


def unpack(spec: TaskSpec | bytes) -> TaskSpec:
    """The inverse of ``pack``, in the worker."""
    if not isinstance(spec, bytes):
        return spec
    asset, key, encoded, run_id, attempt, ups, task_name = pickle.loads(spec)
    upstreams = [
        Upstream(dep, tuple(Node(a, PartitionKey(k, e)) for a, k, e in nodes), single)
        for dep, single, nodes in ups
    ]
    node = Node(asset, PartitionKey(key, encoded))
    return TaskSpec(asset, node, run_id, attempt, upstreams, task_name)


def bound_task(bundle: Bundle) -> Callable[[TaskSpec | bytes], dict[str, Any]]:
    """Return the task function with ``bundle`` bound into it (pickled with the function)."""

    def materialize(spec: TaskSpec | bytes) -> dict[str, Any]:
        return materialize_in_worker(bundle, unpack(spec))

    return materialize


def task_by_reference(spec: TaskSpec | bytes, token: str, ref: list[Any]) -> dict[str, Any]:
    """The task function for a bundle in the object store: ``ref`` is ``[ObjectRef]`` (in a
    list so Ray does not resolve it for every task), fetched once per worker."""
    return materialize_in_worker(_bundle(token, ref), unpack(spec))


def materialize_in_worker(bundle: Bundle, spec: TaskSpec) -> dict[str, Any]:
    """Run one attempt in this worker; return the metadata to record.

    Raises whatever the asset function or an I/O manager raises: the driver records it as
    the attempt's error, and the asset's retry policy decides what happens next.
    """
    plan = bundle.assets[spec.asset]
    inputs: dict[str, Any] = {}
    for up in spec.upstreams:
        loaded = {value_key(n): _load(bundle, n, spec.run_id) for n in up.nodes}
        inputs[up.dep] = shape(up, loaded)
    context = AssetContext(
        asset=spec.asset,
        partition=spec.node.key,
        partition_key=spec.node.encoded,
        run_id=spec.run_id,
        attempt=spec.attempt,
        resources=plan.resources,
        pipeline=bundle.pipeline,
        definition=plan.definition,
    )
    if plan.fn is None:
        raise RuntimeError(f"asset {spec.asset!r} has no function in the Ray bundle")
    value = _resolve(plan.fn(context, **inputs))
    manager = bundle.managers[plan.io_manager]
    stored = _resolve(manager.store(_io_context(plan, spec.node, spec.run_id), value))
    return {
        "io_manager": plan.io_manager,
        **(dict(stored) if stored else {}),
        **context.metadata,
        **_ray_facts(spec.task_name),
    }


def _bundle(token: str, ref: list[Any]) -> Bundle:
    bundle = _bundles.get(token)
    if bundle is None:
        import ray

        bundle = ray.get(ref[0])
        _bundles[token] = bundle
        while len(_bundles) > _BUNDLES_KEPT:
            _bundles.popitem(last=False)
    else:
        _bundles.move_to_end(token)
    return bundle


def _load(bundle: Bundle, node: Node, run_id: str) -> Any:
    plan = bundle.assets[node.asset]
    manager = bundle.managers[plan.io_manager]
    return _resolve(manager.load(_io_context(plan, node, run_id)))


def _io_context(plan: AssetPlan, node: Node, run_id: str) -> IOContext:
    return dataclasses.replace(
        plan.io_template, partition=node.key, partition_key=node.encoded, run_id=run_id
    )


def _resolve(value: Any) -> Any:
    """Run a coroutine (an async asset function or I/O manager method) to completion.

    One event loop per worker, kept between tasks, so clients an I/O manager caches (an S3
    client, a connection pool) stay bound to the loop they were created on.
    """
    if not inspect.isawaitable(value):
        return value
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop.run_until_complete(_await(value))


async def _await(value: Any) -> Any:
    return await value


def _ray_facts(task_name: str) -> dict[str, Any]:
    """Where the attempt ran, recorded with the materialization."""
    global _where
    pid = os.getpid()
    if _where is None or _where[1] != pid:
        import ray

        _where = (ray.get_runtime_context().get_node_id(), pid)
    return {"ray_task": task_name, "ray_node_id": _where[0], "ray_worker_pid": pid}


_where: tuple[str, int] | None = None  # (node id, pid) of this worker process
