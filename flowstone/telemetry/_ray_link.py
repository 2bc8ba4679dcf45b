"""From a FlowStone materialization to its task page in the Ray dashboard."""

from __future__ import annotations

from typing import Any

DEFAULT_DASHBOARD = "http://127.0.0.1:8265"


def ray_task_url(materialization: Any, dashboard: str = DEFAULT_DASHBOARD) -> str | None:
    """Return the Ray dashboard address of the task that made ``materialization``.

    A Ray asset's record keeps its task, job and node ids (``metadata["ray_task_id"]``,
    ``["ray_job_id"]``, ``["ray_node_id"]``); the dashboard shows a task at
    ``<dashboard>/#/jobs/<job id>/tasks/<task id>``. Returns None for a materialization
    that did not run on Ray (or was recorded before the ids were kept).

    Args:
        materialization: an ``fs.Materialization`` (or a stored ``MaterializationRecord``).
        dashboard: the dashboard's base address (``ray.init()`` prints it; 8265 by default).
    """
    metadata = getattr(materialization, "metadata", None) or {}
    task, job = metadata.get("ray_task_id"), metadata.get("ray_job_id")
    if not task or not job:
        return None
    return f"{dashboard.rstrip('/')}/#/jobs/{job}/tasks/{task}"
