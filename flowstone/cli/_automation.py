"""CLI commands of the automation wing: ``daemon``, ``daemons``, ``submit``, ``wait``,
``cancel``, ``queue``, ``schedules``, ``sensors`` and ``automation why``.

Registered on the ``flowstone`` group by ``flowstone/cli/__init__.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from flowstone.cli._output import console, emit_json, fmt_time, label, table
from flowstone.cli._state import State, errors_to_exit_codes, json_option

T = TypeVar("T")


def with_runtime(fn: Callable[..., Any]) -> Callable[..., None]:
    """Decorate a command body receiving (state, runtime, ...): the runtime is started for
    the command and closed after it; errors become the documented exit codes."""

    def wrapper(state: State, *args: Any, **kwargs: Any) -> None:
        with errors_to_exit_codes(), state.runtime(read_only=False) as rt:
            fn(state, rt, *args, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return json_option(click.pass_obj(wrapper))


def _store(rt: Any, fn: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    """Run ``fn(automation_store)`` on the runtime's loop."""

    async def call() -> T:
        return await fn(await rt.aio.queue.store())

    return rt._call(call())  # type: ignore[no-any-return]


def _now() -> datetime:
    return datetime.now(UTC)


# -- daemon -----------------------------------------------------------------------------------


def _pools(values: tuple[str, ...]) -> dict[str, int]:
    pools: dict[str, int] = {}
    for value in values:
        name, sep, limit = value.partition("=")
        if not sep or not limit.isdigit():
            raise click.BadParameter(f"expected NAME=LIMIT, got {value!r}", param_hint="--pool")
        pools[name] = int(limit)
    return pools


@click.command()
@click.option("--reload", "reload_", is_flag=True, help="Reload changed pipeline modules.")
@click.option("--max-runs", type=click.IntRange(min=1), help="Runs this daemon executes at once.")
@click.option("--max-cluster-runs", type=click.IntRange(min=1), help="Runs at once, all daemons.")
@click.option("--pool", "pools", multiple=True, help="A pool limit NAME=LIMIT (repeatable).")
@click.option("--lease", type=float, help="Seconds a claim lasts without a heartbeat.")
@click.option("--id", "daemon_id", help="The daemon's id (default host-pid-random).")
@click.pass_obj
def daemon(
    state: State,
    reload_: bool,
    max_runs: int | None,
    max_cluster_runs: int | None,
    pools: tuple[str, ...],
    lease: float | None,
    daemon_id: str | None,
) -> None:
    """Run queued runs, schedules, sensors and automation until SIGTERM (drains first)."""
    from flowstone.runtime._daemon import Daemon

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    options: dict[str, Any] = {
        "max_runs": max_runs,
        "max_cluster_runs": max_cluster_runs,
        "lease": lease,
        "daemon_id": daemon_id,
    }
    options = {k: v for k, v in options.items() if v is not None}
    if pools:
        options["pool_limits"] = _pools(pools)
    if lease is not None:
        options["heartbeat"] = max(0.1, lease / 3)
    with errors_to_exit_codes():
        pipeline = state.pipeline()
        storage, kwargs = _runtime_arguments(state)
        runner = Daemon(
            pipeline, storage, reload=reload_, spec=state.settings.pipeline, **options, **kwargs
        )
    runner.run()


def _runtime_arguments(state: State) -> tuple[str | None, dict[str, Any]]:
    from flowstone.cli._config import import_object

    s = state.settings
    kwargs: dict[str, Any] = {}
    if s.runtime:
        kwargs = dict(import_object(s.runtime, s.root, s.python_path)())
    kwargs["base_dir"] = (s.root / s.base_dir).resolve()
    storage = s.storage
    if storage and storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
        storage = f"sqlite:///{(s.root / storage[len('sqlite:///') :]).resolve()}"
    return storage, kwargs


@click.command()
@with_runtime
def daemons(state: State, rt: Any) -> None:
    """List daemons (heartbeat rows) with the runs each one holds."""
    rows = _store(rt, lambda s: s.daemons())
    if state.json:
        emit_json(rows)
        return
    table(
        "daemons",
        ["daemon", "status", "heartbeat", "started", "code", "runs"],
        [
            [d.daemon_id, _liveness(d), fmt_time(d.heartbeat_at), fmt_time(d.started_at),
             d.info.get("code_version", ""), ", ".join(d.runs) or "-"]
            for d in rows
        ],
    )  # fmt: skip


def _liveness(daemon: Any) -> str:
    """The recorded status, or "lost" for a running daemon silent for over a lease."""
    silent = (_now() - daemon.heartbeat_at).total_seconds()
    if daemon.status == "running" and silent > float(daemon.info.get("lease", 30.0)):
        return f"lost ({silent:.0f} s silent)"
    return str(daemon.status)


# -- queue ------------------------------------------------------------------------------------


@click.command()
@click.argument("asset")
@click.option("--partition", "-p")
@click.option("--no-upstream", is_flag=True, help="Run only ASSET (its inputs must exist).")
@click.option("--wait", "wait_", is_flag=True, help="Wait until a daemon has finished it.")
@click.option("--timeout", type=float, help="With --wait: give up after this many seconds.")
@with_runtime
def submit(
    state: State, rt: Any, asset: str, partition: str | None, no_upstream: bool, wait_: bool,
    timeout: float | None,
) -> None:  # fmt: skip
    """Queue a run of ASSET for a daemon; print its id (and its outcome with --wait)."""
    run_id = rt.submit(asset, partition, upstream=not no_upstream)
    if not wait_:
        emit_json({"run_id": run_id}) if state.json else console().print(run_id)
        return
    _report(state, rt.wait(run_id, timeout))


@click.command()
@click.argument("run_id")
@click.option("--timeout", type=float)
@with_runtime
def wait(state: State, rt: Any, run_id: str, timeout: float | None) -> None:
    """Wait until RUN_ID is succeeded, failed or cancelled (exit 1 unless succeeded)."""
    _report(state, rt.wait(run_id, timeout))


def _report(state: State, result: Any) -> None:
    if state.json:
        emit_json({"run_id": result.run_id, "status": result.status})
    else:
        console().print(f"run {result.run_id} {result.status}")
    if result.status != "succeeded":
        raise SystemExit(1)


@click.command()
@click.argument("run_id")
@with_runtime
def cancel(state: State, rt: Any, run_id: str) -> None:
    """Cancel a queued run, or ask the daemon running it to cancel it."""
    outcome = _store(rt, lambda s: s.request_cancel(run_id, _now()))
    emit_json({"run_id": run_id, "outcome": outcome}) if state.json else console().print(outcome)


@click.command()
@click.option("--all", "every", is_flag=True, help="Include finished entries.")
@with_runtime
def queue(state: State, rt: Any, every: bool) -> None:
    """List queued and claimed runs, oldest first."""
    states = ("queued", "claimed", "done") if every else ("queued", "claimed")
    rows = _store(rt, lambda s: s.entries(states))
    if state.json:
        emit_json(rows)
        return
    table(
        "run queue",
        ["run", "state", "owner", "lease until", "claims", "pools", "code"],
        [
            [e.run_id, e.state, e.owner or "-", fmt_time(e.lease_until), e.claims,
             ",".join(e.pools) or "-", e.code_version or "-"]
            for e in rows
        ],
    )  # fmt: skip


# -- schedules and sensors --------------------------------------------------------------------


def _origins_group(kind: str, names: Callable[[Any], dict[str, Any]]) -> click.Group:
    group = click.Group(kind + "s", help=f"List, enable and disable {kind}s.")

    @group.command(name="list")
    @with_runtime
    def list_(state: State, rt: Any) -> None:
        """List them with their state and latest tick."""
        defined = names(rt.pipeline)
        origins = [f"{kind}:{n}" for n in sorted(defined)]
        states = _store(rt, lambda s: s.states(rt.pipeline.name, origins, _now()))
        rows = []
        for st in states:
            ticks = _store(rt, _ticks_of(rt.pipeline.name, st.origin))
            last = ticks[0] if ticks else None
            name = st.origin.split(":", 1)[1]
            rows.append(
                {
                    "name": name,
                    "enabled": st.enabled,
                    "cursor": st.cursor,
                    "last_tick": last.tick_at if last else None,
                    "last_status": last.status if last else None,
                    "detail": _describe(defined[name]),
                }
            )
        if state.json:
            emit_json(rows)
            return
        table(
            f"{kind}s",
            ["name", "on", "definition", "last tick", "status", "cursor"],
            [[r["name"], "on" if r["enabled"] else "off", r["detail"], fmt_time(r["last_tick"]),
              r["last_status"] or "-", r["cursor"] or "-"] for r in rows],
        )  # fmt: skip

    for enabled in (True, False):
        _toggle(group, kind, names, enabled)
    return group


def _toggle(
    group: click.Group, kind: str, names: Callable[[Any], dict[str, Any]], on: bool
) -> None:
    @group.command(name="on" if on else "off")
    @click.argument("name")
    @with_runtime
    def toggle(state: State, rt: Any, name: str) -> None:
        if name not in names(rt.pipeline):
            raise click.BadParameter(
                f"no {kind} {name!r}; known: {', '.join(sorted(names(rt.pipeline))) or '(none)'}"
            )
        _store(rt, lambda s: s.set_enabled(rt.pipeline.name, f"{kind}:{name}", on, _now()))
        console().print(f"{kind} {name} {'on' if on else 'off'}")

    toggle.__doc__ = f"Turn a {kind} {'on' if on else 'off'} (persists across restarts)."


def _ticks_of(pipeline: str, origin: str) -> Callable[[Any], Coroutine[Any, Any, Any]]:
    def fetch(store: Any) -> Coroutine[Any, Any, Any]:
        return store.ticks(pipeline, origin, 1)  # type: ignore[no-any-return]

    return fetch


def _describe(definition: Any) -> str:
    if hasattr(definition, "cron"):
        return (
            f"{definition.asset} @ {definition.cron} {definition.timezone} ({definition.catch_up})"
        )
    return f"every {definition.interval:g}s"


schedules = _origins_group("schedule", lambda p: dict(p.schedules))
sensors = _origins_group("sensor", lambda p: dict(p.sensors))


@schedules.command(name="run-now")
@click.argument("name")
@with_runtime
def run_now(state: State, rt: Any, name: str) -> None:
    """Queue a run of the schedule's asset now (triggered_by schedule:NAME)."""
    from flowstone.automation._schedule_actor import tick_partition

    schedule = rt.pipeline.schedules.get(name)
    if schedule is None:
        raise click.BadParameter(f"no schedule {name!r}")
    with errors_to_exit_codes():
        partition = tick_partition(schedule, rt.pipeline, _now())
        run_id = rt._call(
            rt.aio.queue.submit(schedule.asset, partition, triggered_by=f"schedule:{name}")
        )
    emit_json({"run_id": run_id}) if state.json else console().print(run_id)


@sensors.command(name="ticks")
@click.argument("name")
@click.option("--limit", default=20, show_default=True)
@with_runtime
def sensor_ticks(state: State, rt: Any, name: str, limit: int) -> None:
    """Show a sensor's recent ticks (errors with their traceback)."""
    rows = _store(rt, lambda s: s.ticks(rt.pipeline.name, f"sensor:{name}", limit))
    if state.json:
        emit_json(rows)
        return
    table(
        f"ticks of sensor {name}",
        ["tick", "status", "runs", "cursor", "error"],
        [[fmt_time(t.tick_at), t.status, ", ".join(t.run_ids) or "-", t.cursor or "-",
          (t.error or "").strip().splitlines()[-1] if t.error else ""] for t in rows],
    )  # fmt: skip
    for t in rows:
        if t.error:
            console().print(f"\n[bold]{fmt_time(t.tick_at)}[/bold]\n{t.error}", markup=True)


# -- automation why ---------------------------------------------------------------------------


@click.group()
def automation() -> None:
    """Explain automation decisions."""


@automation.command()
@click.argument("asset")
@click.option("--partition", "-p")
@with_runtime
def why(state: State, rt: Any, asset: str, partition: str | None) -> None:
    """Why the daemon did (or did not) request ASSET (partition P) at its last evaluation."""
    from flowstone.automation._requests import encode_partition

    with errors_to_exit_codes():
        encoded = encode_partition(rt.pipeline, asset, partition) if partition else None
    every = partition is None and rt.pipeline.get(asset).partitions is not None
    found = _store(rt, lambda s: s.decisions(rt.pipeline.name, asset, encoded, every=every))
    if state.json:
        emit_json(found)
        return
    if not found:
        console().print(f"no automation decision recorded for {label(asset, partition)}")
        return
    for d in found:
        verb = "requested" if d.requested else "not requested"
        run = f" (run {d.run_id})" if d.run_id else ""
        when = fmt_time(d.evaluated_at)
        console().print(
            f"{label(d.asset, d.partition)}: {verb}{run} at {when} by {d.policy}: {d.reason}"
        )


COMMANDS = (daemon, daemons, submit, wait, cancel, queue, schedules, sensors, automation)
