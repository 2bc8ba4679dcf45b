"""Family "web": the dashboard's live updates and its server's memory.

A real ``flowstone ui`` process serves a SQLite project; the benchmark process is "another
process" that writes materializations through the store:

- 100 WebSocket clients connected; one materialization written; the time from the commit
  returning to each client receiving the change (p50 / p95 over clients x trials);
- the server's RSS idle, and its peak while a 10,000-partition backfill is recorded (10,000
  records written in commits of 50, as a backfill's lineage writer groups them), with the
  messages each client received meanwhile (coalescing keeps them few);
- the asset graph of 1,000 assets (20 layers of 50, two dependencies each) laid out by ELK
  in Debian's chromium (Playwright), when chromium is installed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flowstone as fs
from benchmarks._options import Options
from benchmarks._report import FamilyResult, Row, Target, Value
from benchmarks._stats import percentile
from flowstone.partitions._order import PartitionOrder
from flowstone.storage import MaterializationRecord, SQLiteStorage, WriteBatch

UI = "FlowStone ui"
CHROMIUM = "/usr/bin/chromium"
TOKEN = "bench-token-123"
ROOT = Path(__file__).resolve().parent.parent
PIPELINE = textwrap.dedent(
    """
    import datetime as dt
    import flowstone as fs
    pipeline = fs.Pipeline("webbench")
    @pipeline.asset(partitioned_by=fs.DailyPartitions(start="1990-01-01", end="2030-12-31"))
    def events(context):
        return 1

    big_start = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)

    @pipeline.asset(partitioned_by=fs.HourlyPartitions(
        start=big_start, end=big_start + dt.timedelta(hours=999_999)))
    def big(context):
        return 1
    """
)
BIG_START = datetime(1900, 1, 1, tzinfo=UTC)


def _record(i: int, run: str) -> MaterializationRecord:
    day = datetime(1990, 1, 1, tzinfo=UTC) + timedelta(days=i)
    return MaterializationRecord(
        id=f"{run}/events/{day:%Y-%m-%d}/1",
        run_id=run,
        asset="events",
        partition=f"{day:%Y-%m-%d}",
        attempt=1,
        status="succeeded",
        started_at=day,
        finished_at=day + timedelta(seconds=1),
        triggered_by="bench@host",
    )


async def _seed_big(store: Path) -> None:
    """``big``: the first 20,000 hours succeeded, then 4,000 scattered hours failed (the
    statuses the asset page of a million partitions draws)."""
    partitions = fs.HourlyPartitions(start=BIG_START, end=BIG_START + timedelta(hours=999_999))
    rng = random.Random(15)
    ordinals = list(range(20_000)) + rng.sample(range(20_000, 1_000_000), 4_000)
    order = PartitionOrder(partitions)
    async with SQLiteStorage(store, pipeline="webbench") as storage:
        storage.order_partitions("big", order)
        await storage.rebuild_partition_ranges("big")
        for lo in range(0, len(ordinals), 8_000):
            records = []
            for i in ordinals[lo : lo + 8_000]:
                at = BIG_START + timedelta(hours=i)
                key = order.encoded_at(i)
                records.append(
                    MaterializationRecord(
                        id=f"seed/big/{key}/1",
                        run_id="seed",
                        asset="big",
                        partition=key,
                        attempt=1,
                        status="succeeded" if i < 20_000 else "failed",
                        started_at=at,
                        finished_at=at + timedelta(minutes=1),
                        triggered_by="bench@host",
                    )
                )
            await storage.write(WriteBatch(materializations=tuple(records)))


def _health_bar_ms(port: int, repeats: int) -> Value:
    """Open the asset page of ``big`` in chromium; milliseconds from navigation start until
    its partition health bar is drawn (the page stamps the canvas), median of ``repeats``."""
    if not Path(CHROMIUM).exists():
        return Value.missing("chromium not installed")
    drawn: list[float] = []
    with _signed_in_page(port, "#/assets/big") as page:
        for _ in range(repeats):
            page.reload()  # a fresh document: performance.now() counts from navigation
            page.wait_for_selector("canvas.health[data-rendered]", timeout=60_000)
            stamp = page.eval_on_selector("canvas.health", "c => c.dataset.rendered")
            drawn.append(float(stamp))
    return Value(
        percentile(drawn, 50), note=f"median of {repeats} loads, slowest {max(drawn):.0f} ms"
    )


@contextmanager
def _signed_in_page(port: int, path: str) -> Iterator[Any]:
    """A chromium page of the dashboard at ``path``, signed in with the bench token."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_extra_http_headers({"Authorization": f"Bearer {TOKEN}"})
            page.goto(f"http://127.0.0.1:{port}/{path}")
            yield page
        finally:
            browser.close()


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) / 1024
    return 0.0


def _thousand_assets() -> str:
    lines = ["import flowstone as fs", "pipeline = fs.Pipeline('thousand')"]
    for layer in range(20):
        for i in range(50):
            deps = (
                sorted({f"a{layer - 1}_{(i * 7 + k * 13) % 50}" for k in range(2)}) if layer else []
            )
            params = ", ".join(["context", *deps])
            lines.append(f"@pipeline.asset(depends_on={deps!r})")
            lines.append(f"def a{layer}_{i}({params}):\n    return 1")
    return "\n".join(lines) + "\n"


def _graph_layout_ms(port: int) -> Value:
    """Lay out the asset graph in chromium; the time ELK took, as the page reports it."""
    if not Path(CHROMIUM).exists():
        return Value.missing("chromium not installed")
    with _signed_in_page(port, "#/graph") as page:
        page.wait_for_function("window.__fsGraphReady !== undefined", timeout=300_000)
        text = page.inner_text(".toolbar .muted")
    return Value(float(text.rsplit(" in ", 1)[1].split(" ms")[0]), note=text)


def _start_server(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLOWSTONE_UI_TOKEN": TOKEN}
    code = "from flowstone.cli import main; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "ui", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("flowstone ui did not start within 60 s")


async def _measure(
    folder: Path, port: int, pid: int, clients: int, trials: int
) -> dict[str, Value]:
    from websockets.asyncio.client import connect

    headers = {"Authorization": f"Bearer {TOKEN}"}
    sockets = [
        await connect(f"ws://127.0.0.1:{port}/ws", additional_headers=headers)
        for _ in range(clients)
    ]
    for ws in sockets:
        json.loads(await ws.recv())  # hello
    idle = _rss_mib(pid)
    latencies: list[float] = []
    async with SQLiteStorage(folder / ".fs" / "flowstone.db", pipeline="webbench") as storage:
        for trial in range(trials):
            await storage.write(WriteBatch(materializations=(_record(trial, f"t{trial}"),)))
            committed = time.perf_counter()

            latencies += await asyncio.gather(*(_receive(ws, committed) for ws in sockets))
        peak, counts = idle, [0] * clients

        async def drain(index: int, ws: Any) -> None:
            while True:
                await ws.recv()
                counts[index] += 1

        drains = [asyncio.create_task(drain(i, ws)) for i, ws in enumerate(sockets)]
        started = time.perf_counter()
        for lo in range(0, 10_000, 50):
            batch = tuple(_record(1000 + i, "backfill") for i in range(lo, lo + 50))
            await storage.write(WriteBatch(materializations=batch))
            peak = max(peak, _rss_mib(pid))
        written = time.perf_counter() - started
        await asyncio.sleep(0.5)  # let the last coalesced messages arrive
        peak = max(peak, _rss_mib(pid))
        for task in drains:
            task.cancel()
    for ws in sockets:
        await ws.close()
    ms = [s * 1000 for s in latencies]
    return {
        "p50": Value(percentile(ms, 50), p99=percentile(ms, 99)),
        "p95": Value(percentile(ms, 95)),
        "idle": Value(idle),
        "peak": Value(peak, note=f"10,000 records in {written:.1f} s"),
        "messages": Value(sum(counts) / clients, note=f"{10_000 // 50} commits"),
    }


async def _receive(ws: Any, committed: float) -> float:
    """Seconds from ``committed`` until ``ws`` receives a change message."""
    while True:
        message = json.loads(await ws.recv())
        if message.get("type") == "changes":
            return time.perf_counter() - committed


def run(options: Options) -> FamilyResult:
    """Measure push latency to 100 browsers and the server's memory."""
    result = FamilyResult(
        name="web", title="web: live updates of flowstone ui", systems=[UI], ratios=[]
    )
    clients, trials = options.pick(20, 100), options.pick(5, 20)
    with tempfile.TemporaryDirectory(prefix="fs-bench-web-") as folder_name:
        folder = Path(folder_name)
        (folder / "webbench.py").write_text(PIPELINE)
        (folder / "flowstone.toml").write_text(
            '[flowstone]\npipeline = "webbench:pipeline"\nbase_dir = ".fs"\n'
        )
        asyncio.run(_seed_big(folder / ".fs" / "flowstone.db"))
        process, port = _start_server(folder)
        try:
            f = asyncio.run(_measure(folder, port, process.pid, clients, trials))
            try:
                health = _health_bar_ms(port, options.pick(3, 7))
            except Exception as exc:  # reported, never fatal
                health = Value.missing(f"{type(exc).__name__}: {exc}")
        finally:
            process.terminate()
            process.wait(10)
    with tempfile.TemporaryDirectory(prefix="fs-bench-graph-") as folder_name:
        folder = Path(folder_name)
        (folder / "thousand.py").write_text(_thousand_assets())
        (folder / "flowstone.toml").write_text(
            '[flowstone]\npipeline = "thousand:pipeline"\nbase_dir = ".fs"\n'
        )
        process, port = _start_server(folder)
        try:
            layout = _graph_layout_ms(port)
        except Exception as exc:  # reported, never fatal
            layout = Value.missing(f"{type(exc).__name__}: {exc}")
        finally:
            process.terminate()
            process.wait(10)
    label = f"{clients} WebSocket clients: commit to browser"
    result.add(Row(f"{label}, p50", "ms", "lower", {UI: f["p50"]}))
    result.add(
        Row(f"{label}, p95", "ms", "lower", {UI: f["p95"]}, Target(UI, "<=", 500, text="< 500 ms"))
    )
    result.add(Row("server RSS, idle", "MiB", "lower", {UI: f["idle"]}))
    result.add(
        Row("server RSS, peak during a 10,000-partition backfill", "MiB", "lower", {UI: f["peak"]})
    )
    result.add(
        Row("messages per client during that backfill", "messages", "lower", {UI: f["messages"]})
    )
    result.add(
        Row(
            "asset page of 1,000,000 partitions: health bar drawn after navigation (chromium)",
            "ms",
            "lower",
            {UI: health},
            Target(UI, "<=", 1000, text="< 1 s"),
        )
    )
    graph = "asset graph of 1,000 assets laid out (ELK in chromium)"
    result.add(Row(graph, "ms", "lower", {UI: layout}))
    return result
