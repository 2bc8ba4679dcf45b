"""`make demo`: materialize one day with its upstream, backfill a month in parallel, then
show lineage and the graph. Runs on the embedded defaults (SQLite + local files).

    python -m analytics_demo [--keep]     # --keep resumes from the previous state
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console

import flowstone as fs
from analytics_demo.pipeline import pipeline

console = Console(highlight=False)
BASE = Path(__file__).resolve().parent.parent / ".flowstone"


def main(argv: list[str]) -> int:
    if "--keep" not in argv and BASE.exists():
        shutil.rmtree(BASE)
    started = time.perf_counter()
    with fs.Runtime(pipeline, base_dir=BASE) as rt:
        console.rule("[bold]1. materialize one day with its upstream")
        run = rt.materialize_all("daily_report", partition="2025-01-15")
        for m in run.materializations:
            facts = {k: v for k, v in m.metadata.items() if k in ("rows", "dropped", "size")}
            console.print(f"  ✓ {m.asset}[{m.partition}]  {m.duration * 1000:.1f} ms  {facts}")
        report = rt.materializations("daily_report", "2025-01-15")[0]
        console.print(f"  report written to {report.metadata.get('path')}")

        console.rule("[bold]2. backfill January (max_parallel=8)")
        t0 = time.perf_counter()
        result = rt.backfill(
            "daily_report", "2025-01-01..2025-01-31", max_parallel=8, progress=True
        )
        console.print(
            f"  backfill {result.backfill_id}: {len(result.succeeded)} succeeded, "
            f"{len(result.failed)} failed, {len(result.skipped)} skipped (already done) "
            f"in {time.perf_counter() - t0:.2f} s"
        )
        again = rt.backfill("daily_report", "2025-01-01..2025-01-31", max_parallel=8)
        console.print(
            f"  re-running it resumes: {len(again.skipped)} skipped, {len(again.succeeded)} run"
        )

        console.rule("[bold]3. lineage")
        up = rt.lineage.upstream("daily_report", "2025-01-15")
        console.print(f"  upstream of daily_report[2025-01-15]: {[(a, str(p)) for a, p in up]}")
        down = rt.lineage.downstream("raw_events", "2025-01-15")
        console.print(f"  downstream of raw_events[2025-01-15]: {[(a, str(p)) for a, p in down]}")
        console.print(f"  impact of raw_events: {rt.lineage.impact('raw_events')}")

        console.rule("[bold]4. the graph")
        console.print(rt.graph.render_ascii())
        console.print(rt.graph.render_mermaid())
    console.print(
        f"done in {time.perf_counter() - started:.2f} s; records in {BASE / 'flowstone.db'}"
    )
    flowstone = cli_command()
    console.print(
        f"try (in examples/): {flowstone} runs   |   "
        f"{flowstone} lineage daily_report -p 2025-01-20",
        soft_wrap=True,
    )
    return 0


def cli_command() -> str:
    """How to call the `flowstone` CLI of this interpreter from the current directory,
    whether or not its virtual environment is activated."""
    script = Path(sys.executable).parent / "flowstone"
    if script.is_file():
        return shlex.quote(os.path.relpath(script))
    return f"{shlex.quote(sys.executable)} -m flowstone.cli"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
