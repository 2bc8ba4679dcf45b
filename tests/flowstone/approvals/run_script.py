"""Start a run that stops at its gate, then exit (run as a subprocess).

run_script.py BASE_DIR STORAGE   materialize_all published for 2026-03-01; print the
                                  run id and status as JSON; the process then exits
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import flowstone as fs
from tests.flowstone.approvals.gates import report_pipeline

pipeline = report_pipeline()


def main(base_dir: str, storage: str) -> None:
    with fs.Runtime(pipeline, storage=storage, base_dir=base_dir) as rt:
        run = rt.materialize_all("published", dt.date(2026, 3, 1))
        print(json.dumps({"run_id": run.run_id, "status": run.status}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
