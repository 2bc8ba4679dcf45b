"""flowstone.testing: run one asset with given upstream values; in-memory runtimes."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest

import flowstone as fs
from flowstone.testing import flowstone_runtime, memory_runtime, run_asset

__all__ = ("flowstone_runtime",)  # the fixture, used by name below

pipeline = fs.Pipeline("testing_helpers")
days = fs.DailyPartitions(start="2025-01-01", end="2025-01-31")


@pipeline.asset(partitioned_by=days)
def raw(context: Any) -> list[int]:
    return [context.partition.day]


@pipeline.asset(depends_on=["raw"], partitioned_by=days, resources=["factor"])
def scaled(context: Any, raw: list[int]) -> list[int]:
    return [x * context.resources["factor"] for x in raw]


def test_run_asset_calls_the_function_with_the_given_upstream_values() -> None:
    value = run_asset(
        pipeline,
        "scaled",
        partition="2025-01-03",
        upstream={"raw": [1, 2]},
        resources={"factor": 10},
    )
    assert value == [10, 20]


def test_run_asset_validates_the_partition_like_a_real_run() -> None:
    with pytest.raises(fs.InvalidPartition):
        run_asset(pipeline, "raw", partition="2024-01-01")


def test_run_asset_refuses_missing_or_unexpected_upstream_values() -> None:
    with pytest.raises(ValueError, match=r"missing \['raw'\], unexpected \['rwa'\]"):
        run_asset(pipeline, "scaled", partition="2025-01-03", upstream={"rwa": []})


def test_memory_runtime_runs_a_pipeline_without_touching_disk(tmp_path: Any) -> None:
    with memory_runtime(pipeline, resources={"factor": 2}, base_dir=tmp_path / "x") as rt:
        run = rt.materialize_all("scaled", dt.date(2025, 1, 4))
        assert run.success
    assert not (tmp_path / "x").exists()


def test_the_flowstone_runtime_fixture_builds_runtimes_closed_after_the_test(
    flowstone_runtime: Any,
) -> None:
    rt = flowstone_runtime(pipeline, resources={"factor": 3})
    assert rt.materialize_all("scaled", "2025-01-05").success
    assert rt.lineage.upstream("scaled", "2025-01-05") == [("raw", dt.date(2025, 1, 5))]


def test_run_asset_works_where_pytest_is_not_installed(tmp_path: Any) -> None:
    """A script (or another test runner) can use the helpers without pytest installed."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    # A meta-path finder that refuses pytest, as an environment without it would.
    (tmp_path / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import sys

            class NoPytest:
                def find_spec(self, name, path=None, target=None):
                    if name == "pytest" or name.startswith(("pytest.", "_pytest")):
                        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                    return None

            sys.meta_path.insert(0, NoPytest())
            """
        )
    )
    script = textwrap.dedent(
        """
        import flowstone as fs
        from flowstone.testing import memory_runtime, run_asset

        pipeline = fs.Pipeline("no_pytest")

        @pipeline.asset
        def one(context):
            return 1

        @pipeline.asset(depends_on=["one"])
        def two(context, one):
            return one + 1

        assert run_asset(pipeline, "two", upstream={"one": 41}) == 42
        with memory_runtime(pipeline) as rt:
            assert rt.materialize_all("two").success
        import sys
        print("pytest" in sys.modules)
        """
    )
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{root}", "PATH": os.environ.get("PATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
