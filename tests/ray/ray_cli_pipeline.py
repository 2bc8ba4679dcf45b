"""A pipeline whose Ray asset fails in the worker, for tests/ray/test_cli_errors.py
(importable by the workers, which find this directory on their path)."""

from __future__ import annotations

from typing import Any

import flowstone as fs

pipeline = fs.Pipeline("ray_cli_errors")


@pipeline.asset(executor="ray", ray_options=fs.RayOptions(num_cpus=0.25))
def exported(context: Any) -> int:
    raise PermissionError("s3://reports/exported.pkl: AccessDenied (no credentials)")
