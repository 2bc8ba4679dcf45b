"""Starting, killing and stopping daemon subprocesses for the multi-process tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SCRIPT = HERE / "daemon_script.py"
FAST = ("lease=2", "heartbeat=0.4", "poll_interval=0.1", "tick_interval=0.5", "drain_timeout=5")


class Daemons:
    """Daemon processes of one test; every one still running is killed at the end."""

    def __init__(self, pipeline: str, storage: str, base_dir: Path, out: Path) -> None:
        self.pipeline, self.storage, self.base_dir, self.out = pipeline, storage, base_dir, out
        self.procs: list[subprocess.Popen[str]] = []

    def start(
        self, *options: str, env: dict[str, str] | None = None, ready: bool = True
    ) -> subprocess.Popen[str]:
        environment = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{HERE}",
            "FLOWSTONE_TEST_OUT": str(self.out),
            **(env or {}),
        }
        args = [sys.executable, str(SCRIPT), self.pipeline, self.storage, str(self.base_dir)]
        log = self.out / f"daemon-{len(self.procs)}.err"
        with open(log, "w", encoding="utf-8") as errors:
            proc = subprocess.Popen(
                [*args, *FAST, *options], stdout=subprocess.PIPE, stderr=errors,
                text=True, env=environment,
            )  # fmt: skip
        self.procs.append(proc)
        if ready:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("READY"), log.read_text() or line
        return proc

    def kill(self, proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        _close(proc)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            _close(proc)


def _close(proc: subprocess.Popen[str]) -> None:
    if proc.stdout is not None and not proc.stdout.closed:
        proc.stdout.close()


@contextmanager
def daemons(pipeline: str, storage: str, tmp_path: Path) -> Iterator[Daemons]:
    """A ``Daemons`` whose processes are all gone when the block exits."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    group = Daemons(pipeline, storage, tmp_path / "base", out)
    try:
        yield group
    finally:
        group.stop_all()


def poll_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
