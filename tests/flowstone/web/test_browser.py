"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a real
``flowstone ui`` process; materializations come from other processes.

Set FLOWSTONE_UI_SCREENSHOTS=docs/images to also write a screenshot of every page there.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.flowstone.web.browser_project import PIPELINE, create

CHROMIUM = "/usr/bin/chromium"
OPERATOR, VIEWER = "operator-browser-token", "viewer-browser-token"
ROOT = Path(__file__).resolve().parents[3]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def flowstone(folder: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """Start the ``flowstone`` CLI in ``folder`` as another process (output: ``cli.log``)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    code = "from flowstone.cli import main; main()"
    with (folder / "cli.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-c", code, *args],
            cwd=folder,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("browser")
    module = f"browser_pipeline_{os.getpid()}"
    return folder, create(folder, module)


@pytest.fixture(scope="module")
def server(project: tuple[Path, Path]) -> Iterator[str]:
    folder, _ = project
    port = free_port()
    process = flowstone(
        folder,
        "ui",
        "--port",
        str(port),
        FLOWSTONE_UI_TOKEN=OPERATOR,
        FLOWSTONE_UI_READ_TOKEN=VIEWER,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                pytest.fail(f"flowstone ui did not start:\n{(folder / 'cli.log').read_text()}")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


def signed_in(browser: object, server: str, token: str) -> object:
    page = browser.new_page(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page.goto(server + "/")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_selector("#live.on")
    return page


def test_a_materialization_by_another_process_updates_the_open_page(
    browser: object, server: str, project: tuple[Path, Path]
) -> None:
    folder, store = project
    page = signed_in(browser, server, OPERATOR)
    page.goto(server + "/#/assets/config")
    page.wait_for_selector(".counts .count.missing")
    page.evaluate(
        """() => new MutationObserver((_, observer) => {
            if (document.querySelector('.counts .count.succeeded b').textContent === '1') {
                window.__updatedAt = Date.now(); observer.disconnect();
            }
        }).observe(document.querySelector('.counts'), {subtree: true, childList: true,
                                                      characterData: true})"""
    )
    other = flowstone(folder, "materialize", "config")
    assert other.wait(60) == 0, (folder / "cli.log").read_text()
    page.wait_for_function("window.__updatedAt !== undefined", timeout=5000)
    updated_ms = page.evaluate("window.__updatedAt")
    committed = _commit_time(store, "config")
    latency = updated_ms / 1000 - committed.timestamp()
    # How fast is measured by `make bench` (family "web"), not asserted here.
    print(f"commit -> page update: {latency * 1000:.0f} ms")
    assert latency > 0, "the page changed before the record was committed"


def _commit_time(store: Path, asset: str) -> datetime:
    import sqlite3

    with sqlite3.connect(store) as conn:
        (micros,) = conn.execute(
            "SELECT max(at) FROM changes WHERE kind = 'materialization' AND asset = ?", (asset,)
        ).fetchone()
    return datetime.fromtimestamp(micros / 1e6, UTC)


def test_the_asset_page_of_a_million_partitions_renders(browser: object, server: str) -> None:
    page = signed_in(browser, server, VIEWER)
    page.goto(server + "/#/assets/big")
    page.reload()  # a fresh document: performance.now() counts from its navigation start
    page.wait_for_selector("canvas.health[data-rendered]")
    rendered = float(page.eval_on_selector("canvas.health", "c => c.dataset.rendered"))
    counts = page.inner_text(".counts")
    print(f"1,000,000-partition health bar drawn {rendered:.0f} ms after navigation start")
    assert "1,000,000 partitions" in page.inner_text("h2")
    assert "20,000 succeeded" in counts.replace("\n", " ")
    assert "4,000 failed" in counts.replace("\n", " ")
    # How fast is measured by `make bench` (family "web"), not asserted here.
    assert rendered > 0


def test_a_wrong_or_missing_token_sees_nothing(browser: object, server: str) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(server + "/#/assets/clean")
    assert page.url.split("#")[0].endswith("/login")
    page.fill("input[name=token]", "not-the-token")
    page.click("button[type=submit]")
    assert "not accepted" in page.inner_text("body")
    assert "clean" not in page.inner_text("body")
    status = page.evaluate("fetch('/api/overview').then(r => r.status)")
    assert status == 401


def test_a_viewer_cannot_decide(browser: object, server: str) -> None:
    page = signed_in(browser, server, VIEWER)
    page.goto(server + "/#/assets/config")
    page.wait_for_selector(".counts")
    assert page.query_selector("text=Materialize") is None
    status = page.evaluate(
        """async () => {
            const me = await (await fetch('/api/me')).json();
            const r = await fetch('/api/approvals/a1/approve',
                {method: 'POST', headers: {'X-CSRF-Token': me.csrf}});
            return r.status;
        }"""
    )
    assert status == 403


def test_a_state_changing_request_without_the_csrf_token_is_refused(
    browser: object, server: str
) -> None:
    page = signed_in(browser, server, OPERATOR)
    without, with_token = page.evaluate(
        """async () => {
            const me = await (await fetch('/api/me')).json();
            const a = await fetch('/api/runs/nope/cancel', {method: 'POST'});
            const b = await fetch('/api/runs/nope/cancel',
                {method: 'POST', headers: {'X-CSRF-Token': me.csrf}});
            return [a.status, b.status];
        }"""
    )
    assert (without, with_token) == (403, 200)


def test_approving_a_gate_in_the_browser_resumes_its_run(
    browser: object, server: str, project: tuple[Path, Path]
) -> None:
    folder, _ = project
    other = flowstone(folder, "materialize", "published", "-p", "2024-01-07", "--with-upstream")
    other.wait(60)  # the run stops at the gate; the process exits
    page = signed_in(browser, server, OPERATOR)
    page.goto(server + "/#/approvals")
    page.wait_for_selector("text=Publish 2024-01-07?")
    shots = os.environ.get("FLOWSTONE_UI_SCREENSHOTS")
    if shots:
        page.screenshot(path=str(Path(shots) / "ui-approvals.png"))
    run_id = page.eval_on_selector("td a[href^='#/runs/']", "a => a.getAttribute('href')")[7:]
    page.click("button[data-decision=approve]")
    page.wait_for_selector("text=no gate is waiting")
    # The run's page follows the resumed run live until it has succeeded. (A predicate
    # given to wait_for_function must be synchronous: an async one returns a promise,
    # which counts as true at once.)
    page.goto(server + "/#/runs/" + run_id)
    page.wait_for_selector(".toolbar .badge.succeeded", timeout=30_000)
    audit = page.eval_on_selector_all(
        "section.card tbody tr",
        "rows => rows.map(r => r.cells[0].innerText + ':' + r.cells[3].innerText)",
    )
    assert "published:succeeded" in audit, _run_story(page, folder, run_id, audit)


def _run_story(page: Any, folder: Path, run_id: str, audit: list[str]) -> str:
    """What the API and the store say about a run (for a failure's message)."""
    import sqlite3

    again = page.evaluate("async (id) => (await (await fetch('/api/runs/' + id)).json())", run_id)
    with sqlite3.connect(folder / ".fs" / "flowstone.db") as conn:
        changes = conn.execute(
            "SELECT seq, kind, asset, status FROM changes WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
    log = (folder / "cli.log").read_text()[-4000:]
    return f"API then: {audit}\nAPI now: {again}\nchange log: {changes}\nlog:\n{log}"


def test_a_page_left_while_loading_does_not_draw_over_the_next(
    browser: object, server: str
) -> None:
    """The overview's data arrives after the user moved on to the approvals page: the
    approvals page stays (the overview used to draw over it, with the gate's message)."""
    page = browser.new_page()  # type: ignore[attr-defined]
    held: list[Any] = []
    page.route("**/api/overview", lambda route: held.append(route))  # answered later
    page.goto(server + "/")
    page.fill("input[name=token]", OPERATOR)
    page.click("button[type=submit]")
    page.wait_for_selector("#live.on")
    page.goto(server + "/#/approvals")
    page.wait_for_selector("h1:text-is('Approvals')")
    assert held, "the overview asked for its data"
    for route in held:
        route.continue_()
    # Every request the page made has been answered and its continuation has run.
    page.wait_for_function("window.__fsInflight === 0")
    assert page.inner_text("h1") == "Approvals"


def test_every_page_renders(browser: object, server: str, project: tuple[Path, Path]) -> None:
    """Each page draws without a script error (and is photographed for docs/ui.md)."""
    folder, _ = project
    other = reporting_runtime(folder)  # another runtime publishes its tree meanwhile
    try:
        _photograph_every_page(browser, server)
    finally:
        other.close()


def _photograph_every_page(browser: object, server: str) -> None:
    page = signed_in(browser, server, OPERATOR)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    target = os.environ.get("FLOWSTONE_UI_SCREENSHOTS")
    pages = [
        ("overview", "#/", "h1"),
        ("graph", "#/graph", "g.node"),
        ("asset", "#/assets/clean", "canvas.health[data-rendered]"),
        ("asset-million", "#/assets/big", "canvas.health[data-rendered]"),
        ("runs", "#/runs", "table"),
        ("lineage", "#/lineage?asset=clean&partition=2024-01-11", "table"),
        ("supervision", "#/supervision", "section.runtime ul.tree"),
        ("approvals-decided", "#/approvals", "h1"),
        ("schedules", "#/automation", "text=Daemons"),
    ]
    for name, path, ready in pages:
        page.goto(server + "/" + path)
        page.wait_for_selector(ready)
        if target:
            page.wait_for_timeout(300)
            page.screenshot(path=str(Path(target) / f"ui-{name}.png"))
    page.goto(server + "/#/runs")
    page.wait_for_selector("td a")
    page.click("td a")
    page.wait_for_selector("text=Nodes and attempts")
    page.wait_for_selector("text=Log (newest")
    if target:
        page.screenshot(path=str(Path(target) / "ui-run.png"))
    assert errors == []


def reporting_runtime(folder: Path) -> Any:
    """A runtime of the served pipeline in this process that has reported its tree."""
    import flowstone as fs

    namespace: dict[str, Any] = {}
    exec(PIPELINE, namespace)
    rt = fs.Runtime(namespace["pipeline"], base_dir=folder / ".fs")
    rt._call(rt.aio.tree_reporter.report())
    return rt
