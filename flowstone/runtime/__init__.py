"""The runtime layer: the public entry points users call.

Module map:
    _runtime.py       AsyncRuntime: validates the pipeline, owns the engine, runs calls
    _sync_runtime.py  Runtime: the same API, blocking, on a private event-loop thread
    _loops.py         the loops Runtime and the daemons create (FLOWSTONE_EVENT_LOOP)
    _backfill.py      backfills: one run per partition, bounded, resumable
    _lineage.py       rt.lineage: recorded upstream/downstream, impact, staleness
    _default.py       module-level shortcuts (fs.configure, fs.materialize, ...)
    _progress.py      rich progress bars for backfills
"""
