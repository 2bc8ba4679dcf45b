"""`flowstone status ASSET`: partition ranges per status, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.flowstone.cli.project import run


def test_status_prints_counts_and_ranges_as_json(project: Path) -> None:
    assert run("backfill", "total", "--from", "2025-01-10", "--to", "2025-01-15")[0] == 1
    code, out = run("--json", "status", "total")
    assert code == 0
    data = json.loads(out)
    assert data["counts"] == {
        "succeeded": 5,
        "failed": 1,
        "running": 0,
        "waiting": 0,
        "missing": 25,
    }
    assert data["ranges"]["failed"] == [{"first": "2025-01-13", "last": "2025-01-13", "count": 1}]
    assert data["ranges"]["missing"][0] == {
        "first": "2025-01-01",
        "last": "2025-01-09",
        "count": 9,
    }
    assert data["runs"] == [4, 9, 0, 3, 1, 1, 0, 2, 4, 16]


def test_status_prints_a_table_for_people(project: Path) -> None:
    run("backfill", "total", "--from", "2025-01-12", "--to", "2025-01-13")
    code, out = run("status", "total")
    assert code == 0
    assert "total: 31 partition(s)" in out
    assert "2025-01-13" in out
    assert "2025-01-14 .. 2025-01-31 (18)" in out


def test_status_of_an_unknown_asset_exits_2(project: Path) -> None:
    code, out = run("status", "totl")
    assert code == 2
    assert "total" in out


def test_ui_refuses_to_start_without_a_token(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FLOWSTONE_UI_TOKEN", "FLOWSTONE_UI_READ_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    code, out = run("ui", "--port", "1")
    assert code == 4
    assert "the dashboard needs at least one token: set FLOWSTONE_UI_TOKEN" in out
