"""The engine: runs a plan of (asset, partition) nodes under supervision.

It knows definitions, storage and I/O managers; it never imports the runtime layer or the
CLI (tests/test_layering.py). A run goes down through these modules, in this order:

Module map:
    _planning.py        Plan, RunSpec and the planners (one node, a closure, a backfill chunk)
    _engine.py          the supervision tree and the services a run needs
    _scheduler.py       starts each node of a plan once its inputs have succeeded
    _materializer.py    Job (the attempt loop) and the Materializer actor that owns it
    _executor.py        LocalExecutor; _ray.py / _ray_worker.py: the Ray executor
    _lineage_writer.py  the single writer of records, with group commit
    _node.py            Node: one asset partition, and how it finds its upstream nodes
    _events.py          the in-process event bus
    _results.py         Materialization, RunResult, BackfillResult
"""
