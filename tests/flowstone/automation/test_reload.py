"""Reload: a run in flight finishes on the code it started with, the next run uses the
new code, and a syntax error on reload keeps the daemon running on the previous code."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import flowstone as fs
from flowstone.runtime._daemon import RuntimeLauncher

MODULE = """
import time
from pathlib import Path
import flowstone as fs

pipeline = fs.Pipeline("reloaded")
OUT = Path({out!r})


@pipeline.asset
def versioned(context):
    gate = OUT / "gate"
    for _ in range(400):
        if gate.exists() or {version!r} != "v1":
            break
        time.sleep(0.025)
    with open(OUT / "log", "a") as handle:
        handle.write(f"{version} {{context.run_id}}\\n")
    return {version!r}
"""


def write(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()  # make the change visible even within the file system's time grain
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


async def until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll ``check`` with a bounded deadline (the daemon runs in this process)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return value


@pytest.fixture
def module(tmp_path: Path) -> AsyncIterator[Path]:
    folder = tmp_path / "code"
    folder.mkdir()
    (tmp_path / "out").mkdir()
    path = folder / "reload_me.py"
    write(path, textwrap.dedent(MODULE.format(out=str(tmp_path / "out"), version="v1")))
    sys.path.insert(0, str(folder))
    yield path  # type: ignore[misc]
    sys.path.remove(str(folder))
    sys.modules.pop("reload_me", None)


@pytest.mark.timeout(60)
async def test_reload_keeps_in_flight_runs_on_old_code_and_survives_a_syntax_error(
    module: Path, tmp_path: Path
) -> None:
    import reload_me  # type: ignore[import-not-found]

    url = f"sqlite:///{tmp_path / 'flowstone.db'}"
    out = tmp_path / "out"
    daemon = fs.Daemon(
        reload_me.pipeline, url, base_dir=tmp_path / "base", reload=True, reload_interval=0.1,
        poll_interval=0.05, heartbeat=0.5, lease=5.0, spec="reload_me:pipeline",
    )  # fmt: skip
    serving = asyncio.create_task(daemon.serve())
    rt = fs.AsyncRuntime(reload_me.pipeline, url, base_dir=tmp_path / "base")
    try:
        await until(lambda: daemon.ctx, "the daemon to start")
        assert daemon.ctx is not None
        first_version = daemon.ctx.definitions.current.code_version
        first = await rt.submit("versioned")
        await until(lambda: daemon.ctx and daemon.ctx.launcher.inflight, "the first run to start")  # type: ignore[attr-defined]

        write(module, textwrap.dedent(MODULE.format(out=str(out), version="v2")))
        await until(lambda: daemon.ctx.definitions.current.code_version != first_version, "reload")
        second = await rt.submit("versioned")
        assert (await rt.wait(second, timeout=20)).status == "succeeded"
        (out / "gate").touch()
        assert (await rt.wait(first, timeout=20)).status == "succeeded"
        # The first runtime is closed once idle; what sensors and policies read through
        # stays open and serves the pipeline.
        launcher = daemon.ctx.launcher
        assert isinstance(launcher, RuntimeLauncher)
        await until(lambda: not launcher.retired, "the old runtime to close")
        found = await daemon.ctx.storage.latest("versioned", [None])
        assert found[None].run_id in {first, second}

        write(module, "def broken(:\n")
        await until(lambda: daemon.ctx.definitions.reload_error, "the reload error")
        assert "SyntaxError" in daemon.ctx.definitions.reload_error
        third = await rt.submit("versioned")
        assert (await rt.wait(third, timeout=20)).status == "succeeded"
    finally:
        daemon.stop()
        await serving
        await rt.close()
    lines = sorted((out / "log").read_text().splitlines())
    assert sorted(lines) == sorted([f"v1 {first}", f"v2 {second}", f"v2 {third}"])
    entries = {e.run_id: e.code_version for e in await _entries(url)}
    assert entries[first] == first_version != entries[second] == entries[third]


async def _entries(url: str) -> list[Any]:
    from flowstone.automation import open_automation_store
    from flowstone.storage import open_storage

    storage = open_storage(url)
    await storage.open()
    store = open_automation_store(storage)
    await store.open()
    try:
        return await store.entries(("done",))
    finally:
        await store.close()
        await storage.close()
