"""Automation: the durable run queue, daemons, schedules, sensors and automation policies.

Layering: uses definitions, partitions, storage and engine; never the runtime or the CLI
(``fs.Daemon`` in flowstone/runtime builds the runtime and hands this wing a launcher).

Module map:
    _records.py          queue entries, claims, daemon rows, ticks, decisions
    _tx.py               one transaction over SQLite or PostgreSQL (programs written once)
    _queue_sql.py        the queue's and daemons' transactions
    _tick_sql.py         ticks, cursors, run keys and decisions
    _store.py            AutomationStore: the queue and automation tables of a record store
    _queue.py            RunQueue: submit / cancel / wait from any process
    _requests.py         a request (asset, partition) -> a queued run record
    _context.py          DaemonConfig, DaemonContext, RunLauncher, Definitions
    _tree.py             the daemon's supervision tree
    _executor.py         RunExecutor: claims, executes, renews leases, hands back
    _heartbeat.py        the daemon's heartbeat row
    _schedule_actor.py   one actor per schedule: cron fire times -> ticks -> runs
    _sensor_actor.py     one actor per sensor: slots -> evaluations -> runs
    _evaluator.py, _policies.py   automation=fs.Automation... evaluation and decisions
    _builtin_sensors.py  asset, S3 and SQL sensors
    _reload.py           watching and re-importing the pipeline's modules
    _clock.py, _crash.py wall time from the actors clock; crash points for kill tests
"""

from flowstone.automation._builtin_sensors import asset_sensor as asset_sensor
from flowstone.automation._builtin_sensors import s3_sensor as s3_sensor
from flowstone.automation._builtin_sensors import sql_sensor as sql_sensor
from flowstone.automation._context import DaemonConfig as DaemonConfig
from flowstone.automation._errors import RunNotFound as RunNotFound
from flowstone.automation._errors import WaitTimeout as WaitTimeout
from flowstone.automation._queue import RunQueue as RunQueue
from flowstone.automation._records import AutomationState as AutomationState
from flowstone.automation._records import DaemonRecord as DaemonRecord
from flowstone.automation._records import Decision as Decision
from flowstone.automation._records import QueueEntry as QueueEntry
from flowstone.automation._records import TickRecord as TickRecord
from flowstone.automation._store import AutomationStore as AutomationStore
from flowstone.automation._store import open_automation_store as open_automation_store

__all__ = (
    "AutomationState",
    "AutomationStore",
    "DaemonConfig",
    "DaemonRecord",
    "Decision",
    "QueueEntry",
    "RunNotFound",
    "RunQueue",
    "TickRecord",
    "WaitTimeout",
    "asset_sensor",
    "open_automation_store",
    "s3_sensor",
    "sql_sensor",
)

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("flowstone.automation._"):
        try:
            _obj.__module__ = "flowstone.automation"
        except (AttributeError, TypeError):
            pass
