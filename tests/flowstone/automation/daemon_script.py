"""Run one daemon for the multi-process tests.

Usage: python daemon_script.py PIPELINE STORAGE BASE_DIR [name=value ...]
PIPELINE names an attribute of process_pipelines (or module:attr); name=value pairs are
DaemonConfig fields (numbers parsed). Prints READY once started.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import flowstone as fs


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main() -> None:
    target, storage, base_dir, *pairs = sys.argv[1:]
    options: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name == "pool":
            pool, _, limit = value.partition(":")
            options.setdefault("pool_limits", {})[pool] = int(limit)
        else:
            options[name] = _value(value)
    if ":" in target:
        pipeline: Any = target
    else:
        import process_pipelines

        pipeline = getattr(process_pipelines, target)
    daemon = fs.Daemon(pipeline, storage, base_dir=base_dir, **options)

    async def serve() -> None:
        task = asyncio.create_task(daemon.serve(handle_signals=True))
        while daemon.ctx is None and not task.done():  # noqa: ASYNC110 - started by serve()
            await asyncio.sleep(0.01)
        print("READY", flush=True)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()
