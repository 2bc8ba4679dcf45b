"""The record store misbehaving under a running runtime (issue 12): poison records, a full
disk and a failed start never leave the runtime dead, nor anything open."""

from __future__ import annotations

import asyncio
import errno
import math
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import actors
import flowstone as fs
from flowstone.errors import StorageUnavailable
from tests.pg import database_fixture

pg_url = database_fixture()


class NaNMetadata(fs.io.MemoryIOManager):
    """Keeps values in memory and reports metadata JSON has no standard form for."""

    def store(self, context: fs.io.IOContext, value: Any) -> Mapping[str, Any] | None:
        super().store(context, value)
        return {"mean": math.nan, "max": math.inf, "note": "x\x00y"}


def poison_pipeline() -> fs.Pipeline:
    p = fs.Pipeline("poison")

    @p.asset(io_manager="nan")
    def odd(context: Any) -> int:
        return 1

    @p.asset()
    def broken(context: Any) -> int:
        raise ValueError("bad \x00 byte")

    @p.asset()
    def fine(context: Any) -> int:
        return 2

    @p.asset(partitioned_by=fs.StaticPartitions(["a", "b"]))
    def parts(context: Any) -> int:
        return 3

    return p


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fs.db"
    url: str = request.getfixturevalue("pg_url")
    return url


async def test_nul_bytes_and_nan_metadata_are_recorded_alike_on_every_store(
    storage_url: str, tmp_path: Path
) -> None:
    managers = {"nan": NaNMetadata()}
    async with fs.AsyncRuntime(
        poison_pipeline(), storage=storage_url, io_managers=managers, base_dir=tmp_path
    ) as rt:
        await rt.materialize("odd")
        (odd,) = await rt.materializations("odd")
        assert odd.status == "succeeded"
        assert (odd.metadata["mean"], odd.metadata["max"]) == ("NaN", "Infinity")
        assert odd.metadata["note"] == "x\ufffdy"
        with pytest.raises(fs.RunFailed, match=r"ValueError: bad . byte"):
            await rt.materialize("broken")
        (broken,) = await rt.materializations("broken")
        assert broken.status == "failed"
        assert broken.error is not None
        assert broken.error.message == "bad \ufffd byte"
        assert (await rt.materialize("fine")).success  # the runtime goes on


def blob_pipeline() -> fs.Pipeline:
    p = fs.Pipeline("blobs")

    @p.asset(io_manager="blob")
    def big(context: Any) -> int:
        return 1

    return p


class BlobMetadata(fs.io.MemoryIOManager):
    """Metadata big enough to need new pages in the record store."""

    def store(self, context: fs.io.IOContext, value: Any) -> Mapping[str, Any] | None:
        super().store(context, value)
        return {"blob": "x" * 400_000}


async def fill_the_disk(rt: fs.AsyncRuntime, full: bool) -> None:
    """Cap the SQLite file at its current size, or lift the cap: SQLITE_FULL, exactly as a
    full disk reports it, on the writer's connection."""
    storage: Any = rt.storage

    def cap(conn: Any) -> None:
        count = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={count if full else 1073741823}")

    await storage._write(cap)


async def test_a_full_sqlite_disk_fails_the_call_clearly_and_the_runtime_works_once_space_is_back(
    tmp_path: Path,
) -> None:
    managers = {"blob": BlobMetadata()}
    async with fs.AsyncRuntime(
        blob_pipeline(), storage=f"sqlite:///{tmp_path}/fs.db", io_managers=managers
    ) as rt:
        await rt.materialize("big")
        await fill_the_disk(rt, True)
        for _ in range(3):  # more often than the root supervisor would restart a crashed writer
            with pytest.raises(fs.FlowStoneError, match=r"database or disk is full"):
                await rt.materialize("big")
        await fill_the_disk(rt, False)
        assert (await rt.materialize("big")).success
        statuses = [m.status for m in await rt.materializations("big")]
        assert statuses.count("succeeded") == 2


async def test_a_record_refused_for_lack_of_space_is_reported_as_a_failed_materialization(
    tmp_path: Path,
) -> None:
    managers = {"blob": BlobMetadata()}
    async with fs.AsyncRuntime(
        blob_pipeline(), storage=f"sqlite:///{tmp_path}/fs.db", io_managers=managers
    ) as rt:
        await fill_the_disk(rt, True)  # the small run record fits; the big record does not
        with pytest.raises(fs.RunFailed) as failure:
            await rt.materialize("big")
        (made,) = failure.value.result.materializations
        assert made.status == "failed"
        assert made.error is not None
        assert made.error.type == StorageUnavailable.__name__
        assert "could not record materialization" in made.error.message


# -- a runtime that cannot start releases everything (item 13) ---------------------------------


def _writer_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("flowstone-sqlite-")]


def _open_files_under(directory: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
        if target.startswith(str(directory)):
            found.append(target)
    return found


@pytest.fixture
def no_leftovers(tmp_path: Path) -> Iterator[None]:
    assert _writer_threads() == []
    yield
    assert _writer_threads() == []
    assert _open_files_under(tmp_path) == []


def failing_resource_pipeline() -> fs.Pipeline:
    p = fs.Pipeline("no-start")

    @p.asset(resources=["db"])
    def needs_db(context: Any) -> int:
        return 1

    return p


def _broken_setup() -> Any:
    raise ConnectionError("db is down")


def test_a_runtime_whose_resource_setup_fails_releases_the_store(
    tmp_path: Path, no_leftovers: None
) -> None:
    resources = {"db": fs.ResourceDefinition(_broken_setup)}
    with pytest.raises(fs.ResourceError, match="resource 'db' failed to set up"):
        fs.Runtime(
            failing_resource_pipeline(),
            storage=f"sqlite:///{tmp_path}/fs.db",
            resources=resources,
            base_dir=tmp_path,
        )
    assert (tmp_path / "fs.db").exists()  # it was opened, and closed again


async def test_an_async_runtime_whose_start_fails_releases_the_store_and_says_why_later(
    tmp_path: Path, no_leftovers: None
) -> None:
    resources = {"db": fs.ResourceDefinition(_broken_setup)}
    rt = fs.AsyncRuntime(
        failing_resource_pipeline(),
        storage=f"sqlite:///{tmp_path}/fs.db",
        resources=resources,
        base_dir=tmp_path,
    )
    with pytest.raises(fs.ResourceError):
        await rt.start()
    assert _writer_threads() == []
    with pytest.raises(fs.RuntimeStopped, match=r"could not start: ResourceError: resource 'db'"):
        await rt.materialize("needs_db")
    await rt.close()


# -- dynamic partition keys are checked before any store sees them (item 11) ------------------


def customers_pipeline() -> fs.Pipeline:
    p = fs.Pipeline("customers")

    @p.asset(partitioned_by=fs.DynamicPartitions("customers"))
    def orders(context: Any) -> str:
        return str(context.partition)

    return p


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("\udcff", "partition '\\udcff' of dynamic partitions 'customers' contains a lone"),
        ("a\x00b", "partition 'a\\x00b' of dynamic partitions 'customers' contains control"),
        ("", "is empty"),
        (42, "partition 42 of dynamic partitions 'customers' is an int, not a string"),
    ],
)
async def test_an_unusable_dynamic_key_is_refused_the_same_way_on_every_store(
    storage_url: str, tmp_path: Path, key: Any, problem: str
) -> None:
    async with fs.AsyncRuntime(customers_pipeline(), storage=storage_url, base_dir=tmp_path) as rt:
        with pytest.raises(fs.InvalidPartition, match=re.escape(problem)):
            await rt.add_dynamic_partitions("customers", ["ok", key])
        assert await rt.storage.dynamic_partitions("customers") == []
        assert await rt.add_dynamic_partitions("customers", ["ok"]) == ["ok"]


# -- a real full filesystem (item 2) -----------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs of our own (needs root), unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; return the file holding them."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    written = 1
    try:
        while written:
            try:
                written = os.write(fd, b"\0" * 4096)
            except OSError as full:
                if full.errno != errno.ENOSPC:
                    raise
                written = 0
    finally:
        os.close(fd)
    return filler


async def test_a_full_filesystem_under_sqlite_fails_calls_clearly_until_space_is_back(
    small_disk: Path,
) -> None:
    managers = {"blob": BlobMetadata()}
    async with fs.AsyncRuntime(
        blob_pipeline(), storage=f"sqlite:///{small_disk}/fs.db", io_managers=managers
    ) as rt:
        await rt.materialize("big")
        filler = fill(small_disk)
        for _ in range(3):
            with pytest.raises(fs.FlowStoneError, match=r"disk is full|No space left"):
                await rt.materialize("big")
        filler.unlink()
        assert (await rt.materialize("big")).success
        assert [m.status for m in await rt.materializations("big")].count("succeeded") == 2


# -- a runtime whose supervision tree gave up says so (item 2) ---------------------------------


async def test_after_the_supervision_tree_gave_up_every_call_says_the_runtime_stopped(
    make_runtime: Any,
) -> None:
    rt = make_runtime(poison_pipeline(), io_managers={"nan": NaNMetadata()})
    assert (await rt.materialize("fine")).success
    tree = rt.engine.tree
    for _ in range(100):  # crash the writer faster than the root supervisor allows
        if tree.stopped() is not None:
            break
        writer = actors.whereis(tree.lineage_name)
        if writer is not None:
            writer.kill()
        await asyncio.sleep(0.005)
    assert tree.stopped() is not None
    stopped = r"the runtime has stopped \(its supervision tree exited"
    for _ in range(2):
        with pytest.raises(fs.RuntimeStopped, match=stopped):
            await rt.materialize("fine")
    with pytest.raises(fs.RuntimeStopped, match=stopped):
        await rt.backfill("parts", ["a", "b"])
    assert [m.status for m in await rt.materializations("fine")] == ["succeeded"]
