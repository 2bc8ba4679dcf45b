"""Processes of the hand-off tests (run as subprocesses; PYTHONPATH holds the repository).

handoff_script.py start STORAGE BASE_DIR
    materialize_all joined; print {"run_id", "status"} as JSON and exit.
handoff_script.py approve STORAGE BASE_DIR APPROVAL_ID GO_FILE
    start a runtime, print READY, wait until GO_FILE exists, approve, let any resumption
    started here finish, print {"status", "daemons"} as JSON and exit.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import flowstone as fs
from tests.flowstone.approvals.handoff_pipeline import pipeline


def start(storage: str, base_dir: str) -> None:
    with fs.Runtime(pipeline, storage=storage, base_dir=base_dir) as rt:
        run = rt.materialize_all("joined")
        print(json.dumps({"run_id": run.run_id, "status": run.status}), flush=True)


def approve(storage: str, base_dir: str, approval_id: str, go: str) -> None:
    with fs.Runtime(pipeline, storage=storage, base_dir=base_dir) as rt:
        rt.approvals.pending()  # started, connected: only the decision is left to do
        print("READY", flush=True)
        while not Path(go).exists():
            time.sleep(0.001)
        decided = rt.approvals.approve(approval_id, by=f"approver-{approval_id[:6]}")
        rt._call(rt.aio.gates.settle())
        handed = decided.run_id in rt.aio.gates.handed_to_daemons
        print(json.dumps({"status": decided.status, "daemons": handed}), flush=True)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "start":
        start(*args)
    else:
        approve(*args)
