"""Create ``benchmarks/.venv-dagster`` on first use and return its interpreter.

Run by FlowStone's interpreter (``python -m benchmarks.dagster_side.ensure_venv`` also works
on its own). The venv is rebuilt when the requirement list below changes. Failures (no
network, no ``venv`` module) raise ``DagsterUnavailable`` with a reason the table can show.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent.parent / ".venv-dagster"
REQUIREMENTS = ("dagster", "dagster-postgres", "sqlalchemy<2.1")
"""dagster-postgres needs SQLAlchemy below 2.1 (measured on this machine)."""

_STAMP = VENV / ".benchmark-requirements"
_INSTALL_TIMEOUT = 600.0


class DagsterUnavailable(RuntimeError):
    """Raised when the Dagster venv cannot be created or a Dagster-side run fails."""


def python_path() -> Path:
    """The venv's interpreter (it may not exist yet)."""
    return VENV / "bin" / "python"


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "no output"


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DagsterUnavailable(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        raise DagsterUnavailable(
            f"{what} failed (exit {done.returncode}): {_last_lines(done.stderr or done.stdout)}"
        )


_failure: DagsterUnavailable | None = None
"""The first failure, kept so one run does not retry (and wait on) an unreachable index."""


def ensure_venv() -> Path:
    """Return the Dagster venv's interpreter, creating the venv if needed (~20 s)."""
    global _failure
    if _failure is not None:
        raise DagsterUnavailable(str(_failure))
    try:
        return _ensure()
    except DagsterUnavailable as exc:
        _failure = exc
        raise


def _ensure() -> Path:
    wanted = "\n".join(REQUIREMENTS)
    python = python_path()
    if python.exists() and _STAMP.exists() and _STAMP.read_text() == wanted:
        return python
    if not python.exists():
        _run([sys.executable, "-m", "venv", str(VENV)], f"creating the venv {VENV}")
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *REQUIREMENTS],
        f"pip install {' '.join(REQUIREMENTS)} into {VENV} (needs PyPI)",
    )  # fmt: skip
    _STAMP.write_text(wanted)
    return python


if __name__ == "__main__":
    print(ensure_venv())
