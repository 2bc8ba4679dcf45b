"""Several daemon processes on one record store, killed with SIGKILL at random and at
every step of a tick: each tick and each run key makes exactly one run, none is missed, a
dead daemon's runs are finished by another, and pool limits hold across daemons."""

from __future__ import annotations

import itertools
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

import flowstone as fs
from flowstone.automation._crash import POINTS
from flowstone.automation._store import AutomationStore, open_automation_store
from flowstone.storage import Storage, open_storage
from tests.pg import run_sync

from .process_pipelines import backfill, cron, pools
from .processes import daemons, poll_until

T = TypeVar("T")
pytestmark = pytest.mark.slow  # real daemon processes, several seconds each


def query(
    url: str, fn: Callable[[Storage, AutomationStore], Awaitable[T]], pipeline: str = ""
) -> T:
    """Open the stores, run ``fn``, close them (on a private loop). The record store serves
    ``pipeline``: only its materializations can be read (without one, it lists every
    pipeline's runs but reads the materializations of the pipeline ``""``)."""

    async def run() -> T:
        storage = open_storage(url, pipeline=pipeline)
        await storage.open()
        store = open_automation_store(storage)
        await store.open()
        try:
            return await fn(storage, store)
        finally:
            await store.close()
            await storage.close()

    return run_sync(run)


def runs_by(url: str, triggered_by: str) -> dict[str, str]:
    async def fetch(storage: Storage, store: AutomationStore) -> dict[str, str]:
        return {
            r.run_id: r.status
            for r in await storage.list_runs(limit=100_000)
            if r.triggered_by == triggered_by
        }

    return query(url, fetch)


def check_every_tick_ran_once(url: str, until: datetime) -> None:
    def all_taken_over() -> bool:
        # A tick claimed by a daemon that was killed stays claimed until its lease expires
        # and a live daemon takes it over; on a loaded machine that may trail the end.
        ticks = query(url, lambda s, a: a.ticks("cron", "schedule:every_second", 100_000))
        return not any(t.status == "claimed" and t.tick_at <= until for t in ticks)

    poll_until(all_taken_over, 30, "abandoned ticks to be taken over")
    settle(url, "schedule:every_second")
    ticks = query(url, lambda s, a: a.ticks("cron", "schedule:every_second", 100_000))
    ticks = sorted((t for t in ticks if t.tick_at <= until), key=lambda t: t.tick_at)
    assert len(ticks) >= 3
    gaps = [b.tick_at - a.tick_at for a, b in itertools.pairwise(ticks)]
    assert set(gaps) == {timedelta(seconds=1)}, "a tick was missed"
    assert all(t.status == "requested" and len(t.run_ids) == 1 for t in ticks)
    run_ids = [t.run_ids[0] for t in ticks]
    assert len(set(run_ids)) == len(run_ids)
    statuses = runs_by(url, "schedule:every_second")
    assert set(run_ids) <= set(statuses)
    # Read after the runs: the daemons are still ticking, so later ticks (and their runs)
    # may appear meanwhile, but every run read above has its tick by now (a tick and its run
    # commit together).
    every_tick = query(url, lambda s, a: a.ticks("cron", "schedule:every_second", 100_000))
    tick_runs = [r for t in every_tick for r in t.run_ids]
    assert set(statuses) <= set(tick_runs), "a run without its tick"
    assert len(set(tick_runs)) == len(tick_runs), "a run made by two ticks"


def settle(url: str, triggered_by: str, timeout: float = 30.0) -> dict[str, str]:
    """Wait until every run so triggered has finished; return their statuses."""

    def done() -> dict[str, str] | None:
        statuses = runs_by(url, triggered_by)
        return statuses if statuses and all(s == "succeeded" for s in statuses.values()) else None

    return poll_until(done, timeout, f"every run of {triggered_by} to succeed")  # type: ignore[no-any-return]


def materializations_per_run(url: str, pipeline: fs.Pipeline, asset: str) -> Counter[str]:
    async def fetch(storage: Storage, store: AutomationStore) -> Counter[str]:
        found = await storage.materializations(asset=asset, status="succeeded")
        return Counter(m.run_id for m in found)

    return query(url, fetch, pipeline.name)


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_three_daemons_one_killed_and_restarted_twice_run_each_tick_exactly_once(
    pg_url: str, tmp_path: Path
) -> None:
    with daemons("cron", pg_url, tmp_path) as group:
        procs = [group.start() for _ in range(3)]
        for victim in (0, 1):
            time.sleep(2.5)
            group.kill(procs[victim])
            time.sleep(0.5)
            procs[victim] = group.start()
        time.sleep(2.5)
        until = datetime.now(UTC) - timedelta(seconds=1)
        settle(pg_url, "schedule:every_second")
        check_every_tick_ran_once(pg_url, until)
    assert set(materializations_per_run(pg_url, cron, "heartbeat_report").values()) == {1}


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_sensor_run_keys_make_one_run_each_with_daemons_killed(pg_url: str, tmp_path: Path) -> None:
    with daemons("sensors", pg_url, tmp_path) as group:
        procs = [group.start() for _ in range(3)]
        time.sleep(3.0)
        group.kill(procs[2])
        procs[2] = group.start()
        time.sleep(3.0)
        statuses = settle(pg_url, "sensor:every_other_second")
    keys = query(pg_url, lambda s, a: a.run_keys("sensors", "sensor:every_other_second"))
    numbers = sorted(int(k[1:]) for k in keys)
    assert numbers == list(range(numbers[0], numbers[-1] + 1)), "a run key was skipped"
    assert sorted(keys.values()) == sorted(statuses), "one run per key, and no other"
    ticks = query(pg_url, lambda s, a: a.ticks("sensors", "sensor:every_other_second", 10_000))
    slots = [t.tick_at for t in ticks]
    assert len(slots) == len(set(slots)) >= 4


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.timeout(60)
def test_a_crash_at_any_step_of_a_tick_loses_nothing_and_duplicates_nothing(
    point: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'flowstone.db'}"
    with daemons("cron", url, tmp_path) as group:
        doomed = group.start(env={"FLOWSTONE_TEST_CRASH_AT": point}, ready=False)
        doomed.wait(timeout=20)
        group.kill(doomed)  # already dead: closes its pipe
        assert doomed.returncode == -9, f"the daemon did not crash at {point}"
        group.start()
        poll_until(lambda: len(runs_by(url, "schedule:every_second")) >= 4, 20, "four runs")
        until = datetime.now(UTC) - timedelta(seconds=1)
        settle(url, "schedule:every_second")
        check_every_tick_ran_once(url, until)
    assert set(materializations_per_run(url, cron, "heartbeat_report").values()) == {1}


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_a_daemon_killed_in_a_queued_200_partition_backfill_is_finished_by_another(
    pg_url: str, tmp_path: Path
) -> None:
    days = [datetime(2024, 1, 1).date() + timedelta(days=i) for i in range(200)]
    with fs.Runtime(backfill, storage=pg_url, base_dir=tmp_path / "base") as rt:
        backfill_id, run_ids = rt.submit_backfill("daily", days)
    assert len(run_ids) == 200
    log = tmp_path / "out" / "backfill.log"
    with daemons("backfill", pg_url, tmp_path) as group:
        victim = group.start("max_runs=8")
        poll_until(
            lambda: log.exists() and len(log.read_text().splitlines()) >= 60, 60, "60 partitions"
        )
        group.kill(victim)
        group.start("max_runs=8")
        statuses = settle(pg_url, f"backfill:{backfill_id}", timeout=90)
    assert len(statuses) == 200
    per_run = materializations_per_run(pg_url, backfill, "daily")
    assert sorted(per_run) == sorted(run_ids)
    assert set(per_run.values()) == {1}
    partitions = query(
        pg_url,
        lambda s, a: s.materializations(asset="daily", status="succeeded"),
        backfill.name,
    )
    assert sorted(Counter(m.partition for m in partitions).values()) == [1] * 200


@pytest.mark.postgres
@pytest.mark.timeout(90)
def test_a_pool_limit_of_two_holds_across_three_daemons(pg_url: str, tmp_path: Path) -> None:
    """Each daemon runs one run at a time, so two at once means two daemons at once."""
    with daemons("pools", pg_url, tmp_path) as group:
        for _ in range(3):
            group.start("max_runs=1", "pool=db:2")
        with fs.Runtime(pools, storage=pg_url, base_dir=tmp_path / "base") as rt:
            for i in range(10):
                rt.submit("heavy", f"p{i}")
            rt.submit("light")
            user = rt.aio.queue.user
        settle(pg_url, user)
    lines = (tmp_path / "out" / "pools.log").read_text().splitlines()
    intervals = [tuple(map(float, line.split()[:2])) for line in lines]
    assert len(intervals) == 10
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2


def test_submit_refuses_the_memory_store_with_a_clear_error(tmp_path: Path) -> None:
    with (
        fs.Runtime(cron, storage="memory", base_dir=tmp_path) as rt,
        pytest.raises(
            fs.StorageError, match="the run queue needs a record store other processes can reach"
        ),
    ):
        rt.submit("heartbeat_report")


@pytest.mark.timeout(60)
def test_sigterm_hands_a_running_run_back_within_the_drain_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'flowstone.db'}"
    log = tmp_path / "out" / "slow.log"
    with daemons("pools", url, tmp_path) as group:
        first = group.start("drain_timeout=0.5")
        with fs.Runtime(pools, storage=url, base_dir=tmp_path / "base") as rt:
            run_id = rt.submit("slow")
            user = rt.aio.queue.user
        poll_until(lambda: log.exists() and "start" in log.read_text(), 20, "the run to start")
        stopping = time.monotonic()
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=20)
        assert time.monotonic() - stopping < 8.0  # drain 0.5 s + the node's thread finishing
        entries = query(url, lambda s, a: a.entries(("queued", "claimed", "done")))
        assert [(e.run_id, e.state, e.owner) for e in entries] == [(run_id, "queued", None)]
        group.start()
        statuses = settle(url, user)
    assert statuses == {run_id: "succeeded"}


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_daemons_of_two_pipelines_with_same_named_schedules_and_sensors_share_a_store(
    pg_url: str, tmp_path: Path
) -> None:
    """Each pipeline's daemon ticks its own schedule every second and creates its own run
    per sensor run key: neither takes the other's ticks, keys or cursor."""
    names = ("twin_a", "twin_b")
    for name in names:
        (tmp_path / name).mkdir()
    with (
        daemons("twin_a", pg_url, tmp_path / "twin_a") as a,
        daemons("twin_b", pg_url, tmp_path / "twin_b") as b,
    ):
        a.start()
        b.start()
        time.sleep(3.5)
        until = datetime.now(UTC) - timedelta(seconds=1)

        def both_done() -> bool:
            ticks = query(pg_url, lambda s, st: st.ticks(None, "schedule:every_second", 10_000))
            mine = [t for t in ticks if t.tick_at <= until]
            return bool(mine) and all(t.status == "requested" for t in mine)

        poll_until(both_done, 30, "the ticks of both pipelines")
    for name in names:
        ticks = query(pg_url, lambda s, st, n=name: st.ticks(n, "schedule:every_second", 10_000))
        ticks = sorted((t for t in ticks if t.tick_at <= until), key=lambda t: t.tick_at)
        assert len(ticks) >= 2
        gaps = {b.tick_at - a.tick_at for a, b in itertools.pairwise(ticks)}
        assert gaps == {timedelta(seconds=1)}, f"{name} missed a tick"
        runs = query(pg_url, lambda s, st: s.list_runs(limit=100_000))
        by_id = {r.run_id: r for r in runs}
        for tick in ticks:
            (run_id,) = tick.run_ids
            assert by_id[run_id].pipeline == name
        keys = query(pg_url, lambda s, st, n=name: st.run_keys(n, "sensor:every_other_second"))
        assert len(keys) >= 1
        assert {by_id[r].pipeline for r in keys.values()} == {name}
        (state,) = query(
            pg_url, lambda s, st, n=name: st.states(n, ["sensor:every_other_second"], until)
        )
        assert state.cursor is not None
        assert int(state.cursor) > until.timestamp() - 5
