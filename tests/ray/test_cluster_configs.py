"""The cluster configurations of cluster/ are valid for the tools that read them: the
`ray up` YAML passes Ray's own schema, the KubeRay manifests name what they must, and the
RayJob's entrypoint arguments parse with the entrypoint script's own parser."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path
from typing import Any

from tests.services import require_module

yaml = require_module("yaml", "PyYAML is not installed")

CLUSTER = Path(__file__).resolve().parents[2] / "cluster"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_the_ray_up_yaml_passes_rays_cluster_schema() -> None:
    """What `ray up` checks before it starts anything."""
    require_module("ray", "Ray is not installed")
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(load(CLUSTER / "ray-cluster.yaml"))
    validate_config(config)
    assert config["head_node_type"] in config["available_node_types"]
    # Every node presents the token: without it a worker's join fails after ~20 s.
    for commands in (config["head_start_ray_commands"], config["worker_start_ray_commands"]):
        assert any("RAY_AUTH_MODE=token" in command for command in commands)


def test_the_kuberay_cluster_gives_every_pod_the_token_and_the_shared_stores() -> None:
    """Head and every worker group run with token auth and reach the same record store."""
    cluster = load(CLUSTER / "kuberay" / "raycluster.yaml")
    assert (cluster["apiVersion"], cluster["kind"]) == ("ray.io/v1", "RayCluster")
    spec = cluster["spec"]
    pods = [spec["headGroupSpec"]] + spec["workerGroupSpecs"]
    for pod in pods:
        [container] = pod["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert {"RAY_AUTH_TOKEN", "FLOWSTONE_STORAGE"} <= env.keys()


def test_the_rayjob_runs_the_backfill_entrypoint_with_arguments_it_accepts() -> None:
    """The RayJob's entrypoint names the script in cluster/ with valid arguments."""
    job = load(CLUSTER / "kuberay" / "rayjob.yaml")
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    python, script, *arguments = shlex.split(job["spec"]["entrypoint"])
    assert python == "python"
    assert script == "/app/cluster/flowstone_backfill.py"
    args = entrypoint_parser().parse_args(arguments)
    assert (args.pipeline, args.asset, args.ray_address) == (
        "example_pipeline:pipeline",
        "scores",
        "auto",
    )
    assert (CLUSTER / "example_pipeline.py").is_file()


def entrypoint_parser() -> Any:
    spec = importlib.util.spec_from_file_location(
        "flowstone_backfill", CLUSTER / "flowstone_backfill.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._parser()
