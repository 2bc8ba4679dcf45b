"""A FlowStone backfill across a two-node Ray cluster on this machine: the head and one
worker node, started with `ray start` by cluster/start-local-two-node.sh, and the driver
run exactly as the RayJob of cluster/kuberay/rayjob.yaml runs it (its entrypoint script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.twonode, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "cluster"


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[tuple[str, dict[str, str]]]:
    """Start the two-node cluster; yield its address and the environment to reach it."""
    # A fresh shell's environment: no RAY_ADDRESS, no RAY_AUTH_MODE (the scripts and the
    # driver must cope with Ray's token authentication themselves).
    env = {k: v for k, v in os.environ.items() if k not in {"RAY_ADDRESS", "RAY_AUTH_MODE"}}
    env["FLOWSTONE_RAY_DIR"] = f"/tmp/fs-2n-{uuid.uuid4().hex[:6]}"
    env["FLOWSTONE_EXAMPLE_PIN"] = "1"  # events on the head, scores on the worker
    started = subprocess.run(
        [str(CLUSTER / "start-local-two-node.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    try:
        assert started.returncode == 0, f"the cluster did not start:\n{started.stderr}"
        yield started.stdout.strip().splitlines()[-1], env
    finally:
        subprocess.run(
            [str(CLUSTER / "stop-local.sh")], env=env, capture_output=True, timeout=120, check=False
        )


def backfill(address: str, env: dict[str, str], work: Path) -> dict[str, Any]:
    """Run the RayJob entrypoint against the cluster; return its JSON summary."""
    summary = work / f"summary-{uuid.uuid4().hex[:6]}.json"
    command = [
        sys.executable,
        str(CLUSTER / "flowstone_backfill.py"),
        "--pipeline",
        "example_pipeline:pipeline",
        "--python-path",
        str(CLUSTER),
        "--asset",
        "scores",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-12",
        "--max-parallel",
        "4",
        "--base-dir",
        str(work),
        "--fs-dir",
        str(work / "values"),
        "--ray-address",
        address,
        "--summary",
        str(summary),
    ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, f"the backfill failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(summary.read_text())
    return result


def test_a_backfill_runs_its_ray_steps_on_both_nodes_and_resumes(
    two_nodes: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """12 partitions x 3 Ray assets spread over the head and the worker node; running the
    job again skips every partition."""
    address, env = two_nodes
    first = backfill(address, env, tmp_path)
    assert (first["succeeded"], first["failed"], first["skipped"]) == (12, 0, 0)
    assert len(first["ray_nodes"]) == 2
    assert sum(first["ray_nodes"].values()) == 36
    again = backfill(address, env, tmp_path)
    assert (again["succeeded"], again["failed"], again["skipped"]) == (0, 0, 12)
