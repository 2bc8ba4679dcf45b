"""Fixtures of the Ray suite: one local Ray cluster per test module, small and quiet.

Ray 2.60 starts a local cluster in ~3.5 s (~4 s with the dashboard), so each module shares
one. ``address="local"`` makes sure a test never joins a cluster someone else started with
``ray start`` on this machine (``ray.init()`` with no address would). Other Ray clusters may
run on the machine at the same time (benchmarks, the two-node test), so everything that
looks a cluster up (the state API) is given this cluster's address explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flowstone.engine._ray import LOCAL_CLUSTER_OPTIONS
from tests.services import require_module

NUM_CPUS = 2
# Workers import the test modules (asset functions and actor classes are pickled by
# reference), so they need this directory on their path, as a cluster needs the user's code.
HERE = str(Path(__file__).resolve().parent)


@dataclass(frozen=True)
class LocalRay:
    """The ``ray`` module, initialised, and where this test module's cluster listens."""

    ray: Any
    address: str  # the GCS address, for drivers in other processes
    dashboard: str | None  # http://host:port of the dashboard (the state API), if started


def start_local_ray(*, dashboard: bool = False) -> LocalRay:
    """Start a private local Ray cluster for this process (token auth, as Ray defaults)."""
    ray: Any = require_module("ray", "Ray is not installed")
    if ray.is_initialized():
        ray.shutdown()
    # Through the environment the raylet inherits rather than a job runtime_env: workers
    # started with a runtime_env are not taken from Ray's prestarted pool, which makes
    # every actor spawn ~1 s slower.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", _worker_path())
        context = ray.init(
            address="local",
            num_cpus=NUM_CPUS,
            include_dashboard=dashboard,
            log_to_driver=False,
            configure_logging=False,
            **LOCAL_CLUSTER_OPTIONS,  # as the executor starts its own (metrics off)
        )
    url = f"http://{context.dashboard_url}" if context.dashboard_url else None
    return LocalRay(ray, context.address_info["gcs_address"], url)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[LocalRay]:
    """A local Ray cluster without the dashboard (the state API is not needed)."""
    cluster = start_local_ray(dashboard=False)
    yield cluster
    cluster.ray.shutdown()


@pytest.fixture(scope="module")
def ray_cluster_with_dashboard() -> Iterator[LocalRay]:
    """A local Ray cluster with the dashboard, for tests that read the state API."""
    cluster = start_local_ray(dashboard=True)
    yield cluster
    cluster.ray.shutdown()


def _worker_path() -> str:
    current = os.environ.get("PYTHONPATH")
    return HERE if not current else os.pathsep.join([HERE, current])
