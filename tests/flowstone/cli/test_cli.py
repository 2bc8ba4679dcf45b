"""The `flowstone` command line: configuration discovery, commands, JSON, exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowstone.cli import cli
from tests.flowstone.cli.project import run


def test_check_reports_a_valid_pipeline(project: Path) -> None:
    code, out = run("check")
    assert code == 0
    assert out.strip() == "ok: pipeline is valid (5 assets)"


def test_list_gives_assets_in_dependency_order_as_json(project: Path) -> None:
    code, out = run("--json", "list")
    assert code == 0
    rows = json.loads(out)
    assets = [r["asset"] for r in rows]
    assert assets.index("numbers") < assets.index("total")
    assert rows[assets.index("total")]["depends_on"] == ["numbers"]


def test_graph_renders_mermaid(project: Path) -> None:
    code, out = run("graph", "--format", "mermaid")
    assert code == 0
    assert out.startswith("flowchart")
    assert "numbers" in out
    assert "total" in out


def test_materialize_with_upstream_then_lineage(project: Path) -> None:
    code, out = run("materialize", "total", "-p", "2025-01-05", "--with-upstream")
    assert code == 0, out
    assert "succeeded (2 materializations)" in out
    code, out = run("--json", "lineage", "total", "-p", "2025-01-05")
    assert code == 0
    assert json.loads(out) == [["numbers", "2025-01-05"]]


def test_materialize_without_upstream_exits_2_and_says_how_to_fix_it(project: Path) -> None:
    code, out = run("materialize", "total", "-p", "2025-01-06")
    assert code == 2
    assert "--with-upstream" in out


def test_an_unknown_asset_exits_2_with_a_suggestion(project: Path) -> None:
    code, out = run("materialize", "totl")
    assert code == 2
    assert "did you mean 'total'?" in out


def test_backfill_reports_failures_and_exits_1(project: Path) -> None:
    code, out = run(
        "backfill", "total", "--from", "2025-01-10", "--to", "2025-01-15", "--no-progress"
    )
    assert code == 1
    assert "5 succeeded, 1 failed, 0 skipped" in out
    assert "2025-01-13: total: RuntimeError: unlucky day" in out
    code, out = run("--json", "backfill", "total", "--from", "2025-01-10", "--to", "2025-01-12")
    assert code == 0
    assert len(json.loads(out)["skipped"]) == 3


def test_runs_and_materializations_list_what_was_recorded(project: Path) -> None:
    run("materialize", "numbers", "-p", "2025-01-02")
    code, out = run("--json", "runs")
    assert code == 0
    [record] = json.loads(out)
    assert record["status"] == "succeeded"
    code, out = run("--json", "materializations", "numbers")
    assert code == 0
    [m] = json.loads(out)
    assert (m["asset"], m["partition_key"], m["status"]) == ("numbers", "2025-01-02", "succeeded")


def test_a_broken_pipeline_exits_3_listing_the_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"cli_broken_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(
        "import flowstone as fs\n"
        "pipeline = fs.Pipeline('broken')\n"
        "@pipeline.asset(depends_on=['missing'])\n"
        "def a(context, missing):\n"
        "    return 1\n"
    )
    (tmp_path / "flowstone.toml").write_text(f'[flowstone]\npipeline = "{module}:pipeline"\n')
    monkeypatch.chdir(tmp_path)
    code, out = run("check")
    assert code == 3
    assert "missing" in out
    sys.modules.pop(module, None)


def test_no_configuration_exits_4_and_says_where_to_configure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWSTONE_PIPELINE", raising=False)
    code, out = run("check")
    assert code == 4
    assert "no pipeline configured" in out


def test_storage_prune_keeps_the_latest_materialization_of_each_partition(project: Path) -> None:
    run("materialize", "numbers", "-p", "2025-01-02")
    run("materialize", "numbers", "-p", "2025-01-02")
    code, out = run("--json", "storage", "prune", "--older-than", "0s")
    assert code == 0
    assert json.loads(out)["deleted"] == 1
    code, out = run("--json", "materializations", "numbers")
    assert len(json.loads(out)) == 1


def test_storage_prune_refuses_an_unreadable_age(project: Path) -> None:
    result = CliRunner().invoke(cli, ["storage", "prune", "--older-than", "ninety"])
    assert result.exit_code == 2
    assert "expected a number followed by d, h, m or s (e.g. 90d), got 'ninety'" in result.output
