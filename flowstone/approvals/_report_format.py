"""The audit report as Markdown (for a review) or CSV (one row per event), used by
``flowstone audit``."""

from __future__ import annotations

import csv
import io
from typing import Any

_CSV_COLUMNS = (
    "section",
    "asset",
    "partition",
    "id",
    "run_id",
    "status_or_event",
    "actor",
    "at",
    "reason",
    "digest",
    "after_digest",
)


def to_markdown(report: dict[str, Any]) -> str:
    """Return the report as a Markdown document."""
    key = f" [{report['partition']}]" if report["partition"] is not None else ""
    current = report["current"]
    lines = [f"# Audit report: {report['asset']}{key}", "", f"Generated {report['generated_at']}."]
    lines += ["", "## Current materialization", ""]
    if current is None:
        lines.append("None succeeded.")
    else:
        lines.append(
            f"`{current['id']}` in run `{current['run_id']}`, finished {current['finished_at']}, "
            f"content digest `{current['digest']}`."
        )
    lines += _table(
        "Inputs",
        ("asset", "partition", "materialization_id", "digest"),
        report["inputs"],
    )
    lines += _table(
        "Lineage",
        ("depth", "asset", "partition", "materialization_id", "digest"),
        report["lineage"],
    )
    lines += _table(
        "Executions",
        ("id", "run_id", "status", "attempt", "started_at", "finished_at", "digest"),
        report["executions"],
    )
    lines += ["", "## Approvals"]
    if not report["approvals"]:
        lines += ["", "None."]
    for approval in report["approvals"]:
        where = approval["checkpoint"] + (
            f" [{approval['partition']}]" if approval["partition"] is not None else ""
        )
        lines += [
            "",
            f"### {where}: {approval['status']}",
            "",
            f"Approval `{approval['id']}`, run `{approval['run_id']}`; decided by "
            f"{approval['decided_by'] or '-'} at {approval['decided_at'] or '-'}"
            + (f": {approval['reason']}" if approval["reason"] else "."),
        ]
        lines += _table(
            None, ("seq", "event", "actor", "at", "reason", "after_digest"), approval["audit"]
        )
    return "\n".join(lines) + "\n"


def _table(title: str | None, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> list[str]:
    lines = [] if title is None else ["", f"## {title}"]
    if not rows:
        return [*lines, "", "None."] if title else lines
    lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = ("" if row.get(c) is None else str(row[c]).replace("|", "\\|") for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def to_csv(report: dict[str, Any]) -> str:
    """Return the report as CSV: one row per execution, input, lineage entry and event."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    asset, key = report["asset"], report["partition"]
    for m in report["executions"]:
        writer.writerow(
            (
                "execution",
                asset,
                key,
                m["id"],
                m["run_id"],
                m["status"],
                m["triggered_by"],
                m["finished_at"] or m["started_at"],
                m["error"],
                m["digest"],
                None,
            )
        )
    for section in ("inputs", "lineage"):
        for i in report[section]:
            writer.writerow(
                (
                    section,
                    i["asset"],
                    i["partition"],
                    i["materialization_id"],
                    None,
                    None,
                    None,
                    None,
                    None,
                    i["digest"],
                    None,
                )
            )
    for a in report["approvals"]:
        for e in a["audit"]:
            writer.writerow(
                (
                    "approval",
                    a["checkpoint"],
                    a["partition"],
                    a["id"],
                    a["run_id"],
                    e["event"],
                    e["actor"],
                    e["at"],
                    e["reason"],
                    e["before_digest"],
                    e["after_digest"],
                )
            )
    return out.getvalue()
