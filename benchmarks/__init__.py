"""FlowStone's benchmark harness: FlowStone against its peers, measured in the same run.

Run ``python -m benchmarks [FAMILY ...] [--quick]`` (``make bench`` runs every family). Each
family prints a table (metric, FlowStone, peers, ratio peer / FlowStone, target, met) and the
figures are merged into ``benchmarks/results/latest.json``. Benchmarks measure and report;
they never assert.

Module map:
    _cli.py        argument parsing, running families, printing, the JSON file
    _report.py     Value / Row / FamilyResult, the rich table, the JSON form
    _stats.py      clock, median and percentiles, peak RSS
    _options.py    Options (quick, exhaustive)
    _dags.py       DAG shapes (chain, diamond, layered) shared by every system
    _actors.py     family "actors": actors + supervisors vs pykka vs Ray actors
    _flowstone.py  family "flowstone": asset DAGs and a daily backfill vs Dagster vs plain Python
    _postgres.py   family "postgres": FlowStone on PostgreSQL vs Dagster on PostgreSQL
    _ray.py        family "ray": a backfill on Ray vs raw Ray tasks vs Dagster
    _dagster.py    runs the Dagster side in its own interpreter
    dagster_side/  the Dagster venv bootstrap and the scripts that run inside it
"""

from __future__ import annotations

from benchmarks._cli import main as main

__all__ = ("main",)
