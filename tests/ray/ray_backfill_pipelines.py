"""Pipelines of the Ray backfill tests, importable by Ray workers and by the driver that
tests/ray/test_backfill.py starts and kills in a subprocess (``python -m`` this module)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import flowstone as fs

DAYS = fs.DailyPartitions(start="2000-01-01")

# Three Ray assets in a chain, light enough that many fit on two CPUs at once.
chain = fs.Pipeline("ray_chain")
LIGHT = fs.RayOptions(num_cpus=0.25)


@chain.asset(partitioned_by=DAYS, executor="ray", ray_options=LIGHT)
def first(context: Any) -> int:
    return int(context.partition.toordinal())


@chain.asset(depends_on=["first"], partitioned_by=DAYS, executor="ray", ray_options=LIGHT)
def second(context: Any, first: int) -> int:
    return first * 2


@chain.asset(depends_on=["second"], partitioned_by=DAYS, executor="ray", ray_options=LIGHT)
def third(context: Any, second: int) -> int:
    return second + 1


# The same chain, each step taking a little time, for the driver killed mid-backfill.
slow = fs.Pipeline("ray_slow_chain")
STEP_SECONDS = 0.05


@slow.asset(partitioned_by=DAYS, executor="ray", ray_options=LIGHT)
def slow_first(context: Any) -> int:
    time.sleep(STEP_SECONDS)
    return int(context.partition.toordinal())


@slow.asset(depends_on=["slow_first"], partitioned_by=DAYS, executor="ray", ray_options=LIGHT)
def slow_second(context: Any, slow_first: int) -> int:
    time.sleep(STEP_SECONDS)
    return slow_first * 2


@slow.asset(depends_on=["slow_second"], partitioned_by=DAYS, executor="ray", ray_options=LIGHT)
def slow_third(context: Any, slow_second: int) -> int:
    time.sleep(STEP_SECONDS)
    return slow_second + 1


def main() -> None:
    """Backfill ``slow_third`` and print one line per finished partition (then get killed)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--base-dir", required=True)
    parser.add_argument("--range", required=True)
    parser.add_argument("--max-parallel", type=int, default=4)
    args = parser.parse_args()

    def on_event(event: Any) -> None:
        if event.kind == "backfill.progress":
            print(f"done {event.data.get('partition')}", flush=True)

    rt = fs.AsyncRuntime(slow, ray_address=args.address, base_dir=args.base_dir)
    rt.events.subscribe(on_event)

    async def run() -> None:
        async with rt:
            await rt.backfill("slow_third", args.range, max_parallel=args.max_parallel)

    import asyncio

    asyncio.run(run())
    print("finished", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
