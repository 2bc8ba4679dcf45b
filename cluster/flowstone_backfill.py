"""Run a FlowStone backfill as a Ray job: the entrypoint of cluster/kuberay/rayjob.yaml.

It runs on a node of the cluster (a RayJob's head pod, or ``ray submit``) as the FlowStone
driver: it connects to the cluster (``ray_address="auto"``: the address in RAY_ADDRESS,
else the cluster this node belongs to), backfills the asset, shows progress and prints a
JSON summary to stdout (and to ``--summary``); exits 0 when every partition succeeded.

Re-running the same command resumes: partitions whose latest materialization succeeded in
the record store are skipped. Use a record store every driver can reach (PostgreSQL) for
that to hold across pods.

    python cluster/flowstone_backfill.py --pipeline example_pipeline:pipeline \\
        --python-path cluster --asset scores --from 2025-01-01 --to 2025-03-31 \\
        --storage postgresql://... --s3-bucket my-bucket
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections import Counter
from typing import Any

import flowstone as fs


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the backfill, print the summary; return the exit code."""
    args = _parser().parse_args(argv)
    for path in reversed(args.python_path):
        sys.path.insert(0, path)
    pipeline = _import(args.pipeline)
    runtime = fs.Runtime(
        pipeline,
        storage=args.storage,
        io_managers=_io_managers(args),
        ray_address=args.ray_address,
        base_dir=args.base_dir,
    )
    started = time.perf_counter()
    with runtime:
        result = runtime.backfill(
            args.asset, f"{args.first}..{args.last}", max_parallel=args.max_parallel
        )
        summary = _summary(runtime, args.asset, result, time.perf_counter() - started)
    text = json.dumps(summary, indent=2, default=str)
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as file:
            file.write(text)
    print(text)
    return 0 if not result.failed else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", required=True, help="module:attribute of the pipeline")
    parser.add_argument("--python-path", action="append", default=[], help="add to sys.path")
    parser.add_argument("--asset", required=True)
    parser.add_argument("--from", dest="first", required=True, help="first partition")
    parser.add_argument("--to", dest="last", required=True, help="last partition (inclusive)")
    parser.add_argument("--max-parallel", type=int, default=16)
    parser.add_argument("--storage", default=None, help="record store URL (default: SQLite)")
    parser.add_argument("--base-dir", default=".flowstone", help="files of the defaults")
    parser.add_argument("--fs-dir", default=None, help="shared directory for the 'fs' manager")
    parser.add_argument("--s3-bucket", default=None, help="store the values in this bucket")
    parser.add_argument("--ray-address", default="auto", help="'auto', host:port or ray://")
    parser.add_argument("--summary", default=None, help="also write the JSON summary here")
    return parser


def _import(spec: str) -> Any:
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute or "pipeline")


def _io_managers(args: argparse.Namespace) -> dict[str, Any]:
    if args.s3_bucket:
        # Every asset of the example stores with "fs": point that key at S3.
        return {"fs": fs.io.S3IOManager(args.s3_bucket, prefix="flowstone")}
    if args.fs_dir:
        return {"fs": fs.io.FilesystemIOManager(args.fs_dir)}
    return {}


def _summary(runtime: Any, asset: str, result: Any, seconds: float) -> dict[str, Any]:
    # Where the Ray steps ran: Ray node id -> succeeded materializations (all Ray assets).
    nodes: Counter[str] = Counter()
    for name, definition in runtime.pipeline.assets.items():
        if definition.executor != "ray":
            continue
        for m in runtime.materializations(name, status="succeeded"):
            node = m.metadata.get("ray_node_id")
            if node:
                nodes[node] += 1
    return {
        "asset": asset,
        "backfill_id": result.backfill_id,
        "succeeded": len(result.succeeded),
        "failed": len(result.failed),
        "skipped": len(result.skipped),
        "errors": getattr(result, "errors", {}),
        "seconds": round(seconds, 3),
        "ray_nodes": dict(nodes),
    }


if __name__ == "__main__":
    sys.exit(main())
