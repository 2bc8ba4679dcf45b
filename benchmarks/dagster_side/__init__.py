"""The Dagster side of the benchmarks, run by its own interpreter in ``benchmarks/.venv-dagster``.

``ensure_venv`` creates that venv on first use (our interpreter runs it); ``dagster_bench.py``
runs inside it, reads a JSON request on stdin and prints JSON results on stdout. Dagster's pins
never touch FlowStone's venv.
"""
