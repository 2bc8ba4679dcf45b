"""Human output shows user data as it is: keys in brackets, multi keys, errors, messages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.flowstone.cli.project import run, write_project


def test_materialize_prints_the_partition_key_of_a_static_partition(project: Path) -> None:
    """Rich markup must not take `raw[eu]` for a style tag and swallow the key."""
    code, out = run("materialize", "raw", "-p", "eu")
    assert code == 0, out
    assert "✓ raw[eu]" in out


def test_materialize_prints_a_multi_partition_key_encoded(project: Path) -> None:
    code, out = run("materialize", "sales", "-p", "region=eu|date=2025-01-15")
    assert code == 0, out
    assert "✓ sales[region=eu|date=2025-01-15]" in out


def test_an_error_message_with_brackets_is_printed_whole(project: Path) -> None:
    code, out = run("materialize", "raw", "-p", "us")
    assert code == 1
    assert "ValueError: no data for [us] yet" in out
    assert "raw[us]" in out


def test_the_no_pipeline_hint_names_the_flowstone_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWSTONE_PIPELINE", raising=False)
    code, out = run("check")
    assert code == 4
    assert "under [flowstone] in flowstone.toml" in out


def test_backfill_errors_keep_brackets_in_keys_and_messages(project: Path) -> None:
    code, out = run("backfill", "raw", "eu", "us", "--no-progress")
    assert code == 1
    assert "us: raw: ValueError: no data for [us] yet" in out


def test_tables_keep_brackets_in_cells(project: Path) -> None:
    run("materialize", "raw", "-p", "us")
    code, out = run("materializations", "raw")
    assert code == 0, out
    assert "[us]" in out


def test_materializations_show_the_error_of_a_failed_attempt(project: Path) -> None:
    run("materialize", "raw", "-p", "us")
    code, out = run("materializations", "raw", "-p", "us")
    assert code == 0, out
    assert "failed" in out
    assert "ValueError: no data for [us] yet" in out


def test_lineage_prints_encoded_multi_keys_not_python_reprs(project: Path) -> None:
    code, out = run(
        "materialize", "sales_report", "-p", "region=eu|date=2025-01-15", "--with-upstream"
    )
    assert code == 0, out
    code, out = run("lineage", "sales_report", "-p", "region=eu|date=2025-01-15")
    assert code == 0, out
    assert "upstream of sales_report[region=eu|date=2025-01-15]:" in out
    assert "  sales[region=eu|date=2025-01-15]" in out
    assert "datetime.date" not in out
    assert "{'region'" not in out


def test_lineage_downstream_prints_encoded_date_keys(project: Path) -> None:
    run("materialize", "total", "-p", "2025-01-05", "--with-upstream")
    code, out = run("lineage", "numbers", "-p", "2025-01-05", "--downstream")
    assert code == 0, out
    assert "  total[2025-01-05]" in out


def test_a_missing_partition_key_says_how_to_pass_one_on_the_command_line(project: Path) -> None:
    code, out = run("materialize", "total")
    assert code == 2
    assert "-p/--partition" in out
    assert "partition=" not in out


def test_lineage_of_a_partitioned_asset_without_a_key_names_the_cli_option(project: Path) -> None:
    code, out = run("lineage", "total")
    assert code == 2
    assert "-p/--partition" in out


def test_a_definition_problem_with_brackets_is_printed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = write_project(
        tmp_path,
        "import flowstone as fs\n"
        "pipeline = fs.Pipeline('broken')\n"
        "@pipeline.asset(depends_on=['missing'])\n"
        "def a(context, missing):\n"
        "    return 1\n",
    )
    monkeypatch.chdir(tmp_path)
    try:
        code, out = run("check")
    finally:
        sys.modules.pop(module, None)
    assert code == 3
    assert "missing" in out


def test_a_multi_partition_hint_quotes_the_example_for_the_shell(project: Path) -> None:
    code, out = run("materialize", "sales")
    assert code == 2
    assert "-p 'region=eu|date=2025-01-15'" in out


def test_a_partition_given_to_an_unpartitioned_asset_says_to_leave_it_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = write_project(
        tmp_path,
        "import flowstone as fs\npipeline = fs.Pipeline('flat')\n"
        "@pipeline.asset\ndef totals(context):\n    return 1\n",
    )
    monkeypatch.chdir(tmp_path)
    try:
        code, out = run("materialize", "totals", "-p", "eu")
        backfill_code, backfill_out = run("backfill", "totals", "eu")
    finally:
        sys.modules.pop(module, None)
    assert code == 2
    assert "-p/--partition 'eu' was given; leave -p out" in out
    assert backfill_code == 2
    assert "materialize it with: flowstone materialize totals" in backfill_out
