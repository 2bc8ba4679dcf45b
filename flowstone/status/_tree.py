"""The supervision tree of a runtime as plain data: what the dashboard shows, and what each
runtime publishes to the store for dashboards in other processes (``_reporter``)."""

from __future__ import annotations

from typing import Any

import supervisors


async def describe_tree(
    label: str, ref: supervisors.SupervisorRef | supervisors.DynamicSupervisorRef, depth: int = 0
) -> dict[str, Any]:
    """Describe a supervisor and, recursively, its children, through the ``supervisors``
    public API (``statistics()``, ``which_children()``) only: id, strategy, active and total
    children, restarts in the intensity window and in total; workers with their state."""
    stats = ref.statistics()
    node: dict[str, Any] = {
        "id": label,
        "type": "supervisor",
        "alive": ref.alive,
        "actor": repr(ref),
        "strategy": stats.strategy,
        "restarts": stats.restarts,
        "total_restarts": stats.total_restarts,
        "max_restarts": stats.max_restarts,
        "max_seconds": stats.max_seconds,
        "counts": {
            "children": stats.children,
            "active": stats.active,
            "workers": stats.workers,
            "supervisors": stats.supervisors,
        },
        "children": [],
    }
    if not ref.alive or depth > 6:
        return node
    try:
        children = await ref.which_children()
    except Exception:  # it exited between the check and the call
        return node
    for child in children[:200]:
        if isinstance(child.ref, supervisors.SupervisorRef | supervisors.DynamicSupervisorRef):
            node["children"].append(await describe_tree(str(child.id), child.ref, depth + 1))
        else:
            node["children"].append(
                {
                    "id": str(child.id),
                    "type": child.type,
                    "state": child.state,
                    "alive": child.ref is not None and child.ref.alive,
                    "actor": repr(child.ref) if child.ref is not None else None,
                }
            )
    node["more_children"] = max(0, len(children) - 200)
    return node
