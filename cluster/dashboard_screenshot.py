"""Take docs/images/ray-dashboard.png: the Ray dashboard showing FlowStone's named tasks
and Ray-hosted actors, captured in headless Chromium.

It starts a private local Ray cluster with the dashboard, backfills the example pipeline
(its Ray steps become tasks named ``flowstone:<pipeline>/<asset>/<partition>?run=<id>``),
keeps two supervised Ray-hosted actors running, and screenshots the job's page.

    .venv/bin/python cluster/dashboard_screenshot.py [--out docs/images/ray-dashboard.png]

Needs Debian's chromium (``apt-get install -y chromium``; Playwright's own browser download
does not work everywhere) and Playwright for Python. The dashboard requires Ray's token
(``Authorization: Bearer <~/.ray/auth_token>``), which the browser context sends.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import actors
import flowstone as fs
import supervisors

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WIDTH = 1800
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main() -> None:
    """Start the cluster, run the work, take the screenshot, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "ray-dashboard.png"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))

    import ray

    from flowstone.engine._ray import LOCAL_CLUSTER_OPTIONS

    context = ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=True,
        dashboard_port=_free_port(),
        log_to_driver=False,
        **LOCAL_CLUSTER_OPTIONS,
    )
    url = f"http://{context.dashboard_url}"
    job_id = ray.get_runtime_context().get_job_id()
    try:
        asyncio.run(_work_and_screenshot(url, job_id, Path(args.out), args.chromium))
    finally:
        ray.shutdown()
    print(f"wrote {args.out}")


async def _work_and_screenshot(url: str, job_id: str, out: Path, chromium: str) -> None:
    import example_pipeline

    with tempfile.TemporaryDirectory() as base:
        async with fs.AsyncRuntime(example_pipeline.pipeline, base_dir=base) as rt:
            result = await rt.backfill("scores", "2025-01-01..2025-01-06", max_parallel=3)
            assert not result.failed, result.errors
        children = [
            supervisors.ChildSpec(
                name,
                functools.partial(actors.spawn, ModelServer, name=name, backend="ray"),
            )
            for name in (
                "flowstone:cluster_example/model-server",
                "flowstone:cluster_example/feature-cache",
            )
        ]
        sup = await supervisors.Supervisor.start(children, name="flowstone:serving")
        try:
            await asyncio.to_thread(_wait_for_tasks, url, 18)
            await asyncio.to_thread(_screenshot, url, job_id, out, chromium)
        finally:
            await sup.stop("shutdown", timeout=30.0)


class ModelServer(actors.Actor):
    """A long-lived Ray-hosted actor, as a model server or a feature cache would be."""

    async def init(self) -> None:
        self.requests = 0

    async def handle_call(self, message: Any, caller: Any) -> Any:
        self.requests += 1
        return self.requests


def _wait_for_tasks(url: str, count: int) -> None:
    """Task events reach the dashboard about a second after the tasks end: poll for them."""
    from ray.util.state import list_tasks

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tasks = list_tasks(url, filters=[("state", "=", "FINISHED")], limit=1000)
        if sum(1 for t in tasks if t.name.startswith("flowstone:")) >= count:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the dashboard did not list {count} finished FlowStone tasks")


def _screenshot(url: str, job_id: str, out: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    token = _token()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_context(
            viewport={"width": WIDTH, "height": 1000},
            extra_http_headers={"Authorization": f"Bearer {token}"},
        ).new_page()
        page.goto(f"{url}/#/jobs/{job_id}", wait_until="networkidle")
        # Fold what says nothing about FlowStone; unfold the tables naming its work.
        for section in ("Logs", "Task Timeline (beta)", "Cluster status and autoscaler"):
            _toggle(page, section)
        for section in ("Task Table", "Actor Table"):
            _toggle(page, section)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1500)  # let the tables render their rows
        # A viewport as tall as the page rather than full_page=True: a scrolled capture
        # repeats the sticky navigation bar in the middle of the picture.
        height = int(page.evaluate("document.documentElement.scrollHeight"))
        page.set_viewport_size({"width": WIDTH, "height": height})
        page.wait_for_timeout(500)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def _toggle(page: Any, title: str) -> None:
    """Click a collapsible section's header (its title, outside the top navigation)."""
    page.locator("main, #root").get_by_text(title, exact=True).last.click()


def _token() -> str:
    token = os.environ.get("RAY_AUTH_TOKEN")
    if token:
        return token
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    return Path(path).read_text().strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
