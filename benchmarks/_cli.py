"""``python -m benchmarks [FAMILY ...] [--quick]``: run families, print tables, store JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks._options import Options
from benchmarks._report import FamilyResult, markdown, render

FAMILIES: dict[str, str] = {
    "actors": "benchmarks._actors",
    "approvals": "benchmarks._approvals",
    "flowstone": "benchmarks._flowstone",
    "postgres": "benchmarks._postgres",
    "ray": "benchmarks._ray",
    "partition_status": "benchmarks._partition_status",
    "web": "benchmarks._web",
    "automation": "benchmarks._automation",
    "telemetry": "benchmarks._telemetry",
}
"""Family name -> module with ``run(options) -> FamilyResult``, in the order they run."""

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure FlowStone against its peers in one run and print the ratios.",
    )
    parser.add_argument(
        "families",
        nargs="*",
        metavar="FAMILY",
        help=f"families to run (default: all): {', '.join(FAMILIES)}",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs")
    parser.add_argument(
        "--exhaustive",
        action="store_true",
        help="also run Dagster on every 1,000-asset DAG shape (adds minutes)",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the stored results as Markdown tables (for docs/benchmarks.md); run nothing",
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"JSON output (default: {RESULTS})"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.families if name not in FAMILIES]
    if unknown:
        parser.error(
            f"unknown family {', '.join(map(repr, unknown))}; choose from {', '.join(FAMILIES)}"
        )
    return args


def _run_family(name: str, options: Options, console: Console) -> FamilyResult:
    """Run one family; a family that breaks becomes a one-line result, never a crash."""
    started, load = time.perf_counter(), os.getloadavg()[0]
    try:
        module = importlib.import_module(FAMILIES[name])
        runner: Callable[[Options], FamilyResult] = module.run
        with console.status(f"running the {name} benchmarks…"):
            result = runner(options)
    except Exception as exc:  # report and keep going with the next family
        result = FamilyResult(name=name, title=f"{name}: failed", systems=[], ratios=[])
        result.notes.append(f"the family stopped with {type(exc).__name__}: {exc}")
        result.notes.extend(traceback.format_exc().strip().splitlines()[-6:])
    result.seconds, result.load_average = time.perf_counter() - started, load
    return result


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def _store(path: Path, results: list[FamilyResult], options: Options) -> None:
    """Merge this run's families into ``path`` (families not run keep their last figures)."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        stored = {}
    families = stored.get("families", {}) if isinstance(stored, dict) else {}
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for result in results:
        families[result.name] = {
            **result.to_json(),
            "measured_at": stamp,
            "quick": options.quick,
        }
    document = {"machine": _machine(), "updated_at": stamp, "families": families}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")


def _print_markdown(path: Path, names: list[str]) -> int:
    try:
        families = json.loads(path.read_text())["families"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"no stored results in {path} ({exc}); run `python -m benchmarks` first")
        return 1
    for name in names:
        if name in families:
            print(markdown(name, families[name]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``; returns the process exit status."""
    args = _parse(argv)
    if args.markdown:
        return _print_markdown(args.results, args.families or list(FAMILIES))
    options = Options(quick=args.quick, exhaustive=args.exhaustive)
    # Piped output (make bench > file, CI logs) would otherwise wrap the tables at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 200)
    names = args.families or list(FAMILIES)
    console.print(
        f"FlowStone benchmarks: {', '.join(names)}"
        f"{' (quick)' if options.quick else ''} on {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        style="bold",
    )
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > cpus:
        console.print(
            f"load average {load:.1f} on {cpus} CPUs: other work is running, figures will be"
            " noisy (compare ratios within this run, not with other runs)",
            style="yellow",
        )
    results = []
    for name in names:
        result = _run_family(name, options, console)
        render(result, console)
        results.append(result)
    _store(args.results, results, options)
    console.print(f"results written to {args.results}", style="dim")
    return 0
