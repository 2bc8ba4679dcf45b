"""Run Dagster measurements in ``benchmarks/.venv-dagster`` and read their JSON answers."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.dagster_side.ensure_venv import DagsterUnavailable, ensure_venv

SCRIPT = Path(__file__).resolve().parent / "dagster_side" / "dagster_bench.py"

__all__ = ("DagsterAnswer", "DagsterUnavailable", "run_dagster")


@dataclass(frozen=True)
class DagsterAnswer:
    """One Dagster-side process: its version, peak RSS, and one result per job."""

    version: str
    peak_rss_mib: float
    results: list[dict[str, Any]]

    def seconds(self, index: int) -> list[float]:
        """The timings of job ``index``; raises DagsterUnavailable with that job's error."""
        result = self.results[index]
        if "error" in result:
            raise DagsterUnavailable(f"Dagster job failed: {result['error']}")
        return [float(s) for s in result["seconds"]]


def run_dagster(
    instance: dict[str, Any], jobs: list[dict[str, Any]], timeout: float = 1800.0
) -> DagsterAnswer:
    """Run ``jobs`` on one Dagster instance in a fresh Dagster-venv process.

    Raises:
        DagsterUnavailable: the venv cannot be created, or the process failed or timed out.
    """
    python = ensure_venv()
    request = json.dumps({"instance": instance, "jobs": jobs})
    try:
        done = subprocess.run(
            [str(python), str(SCRIPT)],
            input=request,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DagsterUnavailable(f"the Dagster run took longer than {timeout:.0f} s") from exc
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise DagsterUnavailable(f"the Dagster process exited {done.returncode}: {tail}")
    try:
        answer = json.loads(done.stdout)
    except ValueError as exc:
        raise DagsterUnavailable(f"the Dagster process printed no JSON: {exc}") from exc
    return DagsterAnswer(answer["dagster_version"], answer["peak_rss_mib"], answer["results"])
