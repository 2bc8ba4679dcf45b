"""PostgreSQL restarted in the middle of a backfill: the runtime reconnects, writes what it
buffered, and the backfill finishes with nothing lost or duplicated.

The test runs its own throwaway PostgreSQL server (initdb on a private port) so restarting it
cannot disturb anything else.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flowstone as fs
from tests.services import unavailable

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(*cmd: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateServer:
    """A PostgreSQL server of our own, on a free port, in a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.bin = Path(BIN[-1])
        self.data = root / "pgdata"
        self.log = root / "pg.log"
        self.port = _free_port()
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        subprocess.run(
            _as_postgres(
                str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
            ),
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-o",
                f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1",
                *args,
            ),
            check=True,
            capture_output=True,
        )


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    if not BIN or shutil.which("runuser") is None:
        unavailable("PostgreSQL server binaries (initdb, pg_ctl) or runuser are not installed")
    # Not under pytest's tmp_path: the postgres user must be able to reach the directory.
    root = Path(tempfile.mkdtemp(prefix="flowstone-pg-"))
    root.chmod(0o755)
    try:
        srv = PrivateServer(root / "pg")
        srv.pg_ctl("start")
        yield srv
        srv.pg_ctl("stop", "-m", "immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_a_backfill_survives_a_postgres_restart_with_nothing_lost_or_duplicated(
    server: PrivateServer, tmp_path: Path
) -> None:
    p = fs.Pipeline("restart")
    days = fs.DailyPartitions(start="2025-01-01", end="2025-02-28")

    @p.asset(partitioned_by=days)
    async def source(context: Any) -> int:
        await asyncio.sleep(0.005)
        return context.partition.day

    @p.asset(depends_on=["source"], partitioned_by=days)
    async def derived(context: Any, source: int) -> int:
        await asyncio.sleep(0.005)
        return source * 2

    succeeded = 0
    halfway = asyncio.Event()

    def count(event: fs.Event) -> None:
        nonlocal succeeded
        if event.kind == "materialization.succeeded":
            succeeded += 1
            if succeeded == 30:
                halfway.set()

    async with fs.AsyncRuntime(p, storage=server.url, base_dir=tmp_path / "fs") as rt:
        rt.events.subscribe(count)
        backfill = asyncio.ensure_future(rt.backfill("derived", "2025-01-01..2025-02-28", 4))
        await halfway.wait()
        await asyncio.to_thread(server.pg_ctl, "restart", "-m", "fast")
        result = await asyncio.wait_for(backfill, timeout=120)
        assert result.failed == [], result.errors
        assert len(result.succeeded) == 59
        for asset in ("source", "derived"):
            records = await rt.materializations(asset)
            assert len(records) == 59
            assert len({r.partition for r in records}) == 59
            assert {r.status for r in records} == {"succeeded"}
