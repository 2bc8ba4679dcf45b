"""FilesystemIOManager: one file per asset partition, written atomically inside base_dir."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import flowstone as fs
from flowstone.io import FilesystemIOManager, FilesystemOptions, IOContext
from flowstone.io import _filesystem as filesystem

ROOT = Path(__file__).resolve().parents[3]


def context(
    asset: str = "events", partition: Any = None, key: str | None = None, **io_options: Any
) -> IOContext:
    """The context of one asset partition, with options validated as the engine does."""
    options = FilesystemOptions(**io_options)
    return IOContext(
        asset=asset,
        partition=partition,
        partition_key=key,
        run_id="run-1",
        io_options=io_options,
        options=options,
    )


class Unpicklable:
    """Pickling it fails, after the values before it were already written out."""

    def __reduce__(self) -> Any:
        raise pickle.PicklingError("the connection cannot be pickled")


@pytest.fixture
def manager(tmp_path: Path) -> FilesystemIOManager:
    return FilesystemIOManager(tmp_path / "storage")


def test_an_unpartitioned_value_goes_to_the_all_file_as_pickle(
    manager: FilesystemIOManager, tmp_path: Path
) -> None:
    metadata = manager.store(context(), {"rows": [1, 2]})
    path = tmp_path / "storage" / "events" / "__all__.pkl"
    assert metadata == {
        "path": str(path),
        "size": path.stat().st_size,
        "format": "pickle",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    assert manager.load(context()) == {"rows": [1, 2]}


def test_partitions_get_one_file_each_with_file_safe_names(manager: FilesystemIOManager) -> None:
    day = dt.date(2024, 1, 15)
    manager.store(context(partition=day, key="2024-01-15"), "day")
    multi = {"region": "eu/west", "date": day}
    manager.store(context(partition=multi, key="region=eu/west|date=2024-01-15"), "multi")
    hour = "2024-01-15T03:00:00+00:00"
    manager.store(context(partition=hour, key=hour), "hour")
    files = sorted(p.relative_to(manager.base_dir).as_posix() for p in manager.base_dir.rglob("*"))
    assert files == [
        "events",
        "events/2024-01-15.pkl",
        "events/2024-01-15T03%3A00%3A00+00%3A00.pkl",
        "events/region=eu%2Fwest%7Cdate=2024-01-15.pkl",
    ]
    assert manager.load(context(partition=multi, key="region=eu/west|date=2024-01-15")) == "multi"


def test_json_values_are_readable_json_files(manager: FilesystemIOManager) -> None:
    metadata = manager.store(context(format="json"), {"total": 3, "days": ["a"]})
    assert metadata["format"] == "json"
    assert metadata["path"].endswith("/events/__all__.json")
    assert json.loads(Path(metadata["path"]).read_text()) == {"total": 3, "days": ["a"]}
    assert manager.load(context(format="json")) == {"total": 3, "days": ["a"]}


def test_a_path_template_can_format_the_partition_key(manager: FilesystemIOManager) -> None:
    template = "reports/{partition:%Y/%m}/{asset}-{partition_key}.{ext}"
    day = dt.date(2024, 1, 15)
    metadata = manager.store(context(partition=day, key="2024-01-15", path=template), 1)
    assert metadata["path"] == str(manager.base_dir / "reports/2024/01/events-2024-01-15.pkl")


def test_a_path_function_receives_the_partition_key(manager: FilesystemIOManager) -> None:
    day = dt.date(2024, 1, 15)
    ctx = context(partition=day, key="2024-01-15", format="json", path=lambda d: f"r/{d:%d}.json")
    assert manager.store(ctx, [1])["path"] == str(manager.base_dir / "r/15.json")
    assert manager.load(ctx) == [1]


def test_options_are_read_from_io_options_when_not_validated_beforehand(
    manager: FilesystemIOManager,
) -> None:
    ctx = IOContext(
        asset="a", partition=None, partition_key=None, run_id="r", io_options={"format": "json"}
    )
    assert manager.store(ctx, [1])["format"] == "json"


def test_a_failing_write_leaves_the_previous_value_intact(manager: FilesystemIOManager) -> None:
    manager.store(context(), ["first", "value"])
    with pytest.raises(fs.IOManagerError) as caught:
        manager.store(context(), ["x" * 100_000, Unpicklable()])
    path = manager.base_dir / "events" / "__all__.pkl"
    assert str(caught.value) == (
        f"cannot store asset 'events' as pickle at {path}: PicklingError: the connection "
        "cannot be pickled"
    )
    assert manager.load(context()) == ["first", "value"]
    assert os.listdir(path.parent) == ["__all__.pkl"]  # no temporary file left behind


def test_a_failing_rename_leaves_the_previous_value_intact(
    manager: FilesystemIOManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager.store(context(), "before")

    rename = os.rename

    def disk_error(src: Any, dst: Any) -> None:
        if str(src).endswith(".tmp"):
            raise OSError(28, "No space left on device")
        rename(src, dst)

    monkeypatch.setattr(os, "rename", disk_error)
    with pytest.raises(fs.IOManagerError, match=r"OSError: \[Errno 28\] No space left on device$"):
        manager.store(context(), "after")
    monkeypatch.undo()
    assert manager.load(context()) == "before"
    assert os.listdir(manager.base_dir / "events") == ["__all__.pkl"]


def test_a_store_never_renames_over_the_existing_file(
    manager: FilesystemIOManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Renaming over an existing file makes ext4 write the new data out before returning.
    manager.store(context(), "before")
    manager.store(context(), "between")  # keeps the file it replaced as the spare
    rename, renames = os.rename, []

    def checked(src: Any, dst: Any) -> None:
        assert not os.path.exists(dst), f"renamed {src} over the existing {dst}"
        renames.append(os.path.basename(dst))
        rename(src, dst)

    monkeypatch.setattr(os, "rename", checked)
    monkeypatch.setattr(os, "replace", checked)
    manager.store(context(), "after")
    assert [name if not name.endswith(".tmp") else "<temporary>" for name in renames] == [
        "<temporary>",  # the spare, taken to write into
        ".__all__.pkl.previous",
        "__all__.pkl",
        ".__all__.pkl.spare",  # the file replaced, kept for the next store
    ]
    assert manager.load(context()) == "after"
    assert sorted(os.listdir(manager.base_dir / "events")) == [".__all__.pkl.spare", "__all__.pkl"]


def test_a_store_interrupted_between_its_renames_loses_no_value(
    manager: FilesystemIOManager,
) -> None:
    # kill -9 after the old file was moved aside, before the new one was moved in.
    manager.store(context(), "recorded")
    folder = manager.base_dir / "events"
    os.rename(folder / "__all__.pkl", folder / ".__all__.pkl.previous")
    assert manager.exists(context())
    assert manager.load(context()) == "recorded"
    manager.store(context(), "next")
    assert manager.load(context()) == "next"
    assert sorted(os.listdir(folder)) == [".__all__.pkl.spare", "__all__.pkl"]


def test_a_store_writes_into_the_file_the_store_before_replaced(
    manager: FilesystemIOManager,
) -> None:
    # Creating a file per store costs an inode allocation (slow on ext4 without a journal).
    path = manager.base_dir / "events" / "__all__.pkl"
    manager.store(context(), "x" * 5_000)
    first = path.stat().st_ino
    manager.store(context(), "y" * 100)
    metadata = manager.store(context(), "short")  # into the first file, which was longer
    assert path.stat().st_ino == first
    assert manager.load(context()) == "short"
    assert metadata["size"] == path.stat().st_size == len(pickle.dumps("short", protocol=5))
    assert metadata["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_reader_of_a_replaced_value_keeps_reading_it(manager: FilesystemIOManager) -> None:
    # The spare is written into only when no descriptor (or mapping) holds it any more.
    path = manager.base_dir / "events" / "__all__.pkl"
    manager.store(context(), "old")
    with open(path, "rb") as reader:
        first = path.stat().st_ino
        manager.store(context(), "new")
        manager.store(context(), "newer")  # would take the file the reader holds
        assert pickle.load(reader) == "old"
    assert path.stat().st_ino != first
    assert manager.load(context()) == "newer"
    manager.store(context(), "newest")  # the file the last store replaced is free: taken
    assert manager.load(context()) == "newest"


def test_a_replaced_file_with_another_link_is_never_written_into(
    manager: FilesystemIOManager, tmp_path: Path
) -> None:
    path = manager.base_dir / "events" / "__all__.pkl"
    manager.store(context(), "kept elsewhere")
    os.link(path, tmp_path / "backup.pkl")
    manager.store(context(), "new")
    manager.store(context(), "newer")
    assert pickle.loads((tmp_path / "backup.pkl").read_bytes()) == "kept elsewhere"
    assert manager.load(context()) == "newer"


def test_a_large_replaced_value_is_deleted_not_kept(
    manager: FilesystemIOManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filesystem, "SPARE_LIMIT", 1_000)
    folder = manager.base_dir / "events"
    manager.store(context(), "x" * 2_000)
    manager.store(context(), "small")
    assert os.listdir(folder) == ["__all__.pkl"]
    manager.store(context(), "smaller")
    assert sorted(os.listdir(folder)) == [".__all__.pkl.spare", "__all__.pkl"]


def test_with_fsync_no_spare_is_kept(tmp_path: Path) -> None:
    manager = FilesystemIOManager(tmp_path, fsync=True)
    for value in range(3):
        manager.store(context(), value)
    assert os.listdir(tmp_path / "events") == ["__all__.pkl"]
    assert manager.load(context()) == 2


def test_values_json_cannot_hold_are_refused_with_a_hint(manager: FilesystemIOManager) -> None:
    ctx = context(partition=dt.date(2024, 1, 15), key="2024-01-15", format="json")
    with pytest.raises(fs.IOManagerError) as caught:
        manager.store(ctx, {"day": dt.date(2024, 1, 15)})
    path = manager.base_dir / "events" / "2024-01-15.json"
    assert str(caught.value) == (
        f"cannot store asset 'events' partition '2024-01-15' as json at {path} (use "
        "format='pickle', or return lists, dicts, strings, numbers, booleans or None): "
        "TypeError: Object of type date is not JSON serializable"
    )
    assert (caught.value.asset, caught.value.partition) == ("events", dt.date(2024, 1, 15))


def test_loading_a_missing_value_names_the_asset_partition_and_path(
    manager: FilesystemIOManager,
) -> None:
    with pytest.raises(fs.IOManagerError) as caught:
        manager.load(context(partition="eu", key="eu"))
    path = manager.base_dir / "events" / "eu.pkl"
    assert str(caught.value) == (
        f"no stored value for asset 'events' partition 'eu': {path} does not exist; "
        "materialize it first"
    )


def test_a_corrupt_file_is_reported_as_unloadable(manager: FilesystemIOManager) -> None:
    manager.store(context(), 1)
    path = manager.base_dir / "events" / "__all__.pkl"
    path.write_bytes(b"not a pickle")
    with pytest.raises(fs.IOManagerError, match=rf"^cannot load asset 'events' from {path}: "):
        manager.load(context())


@pytest.mark.parametrize("path", ["../outside.pkl", "a/../../outside.pkl", "/etc/passwd", "."])
def test_paths_must_stay_inside_the_base_directory(manager: FilesystemIOManager, path: str) -> None:
    with pytest.raises(fs.IOManagerError) as caught:
        manager.store(context(path=path), 1)
    assert str(caught.value) == (
        f"the path {path!r} of asset 'events' leaves the base directory {manager.base_dir}; "
        "paths must be relative and stay inside it"
    )
    assert not manager.base_dir.exists()


def test_a_path_function_that_fails_or_returns_no_string_is_reported(
    manager: FilesystemIOManager,
) -> None:
    with pytest.raises(fs.IOManagerError) as caught:
        manager.store(context(path=lambda p: p.year), 1)
    assert str(caught.value) == (
        "the path option failed for asset 'events': AttributeError: 'NoneType' object has no "
        "attribute 'year'"
    )
    with pytest.raises(fs.IOManagerError) as caught:
        manager.store(context(path=lambda p: 42), 1)
    assert str(caught.value) == (
        "the path option gave 42 for asset 'events'; it must give a non-empty relative path string"
    )


def test_exists_and_delete(manager: FilesystemIOManager) -> None:
    assert manager.exists(context()) is False
    manager.store(context(), 1)
    assert manager.exists(context()) is True
    manager.store(context(), 2)  # keeps the file it replaced as the spare
    manager.delete(context())
    manager.delete(context())  # deleting nothing is fine
    assert manager.exists(context()) is False
    assert os.listdir(manager.base_dir / "events") == []


def test_without_fsync_writes_are_still_atomic_replacements(tmp_path: Path) -> None:
    manager = FilesystemIOManager(tmp_path, fsync=False)
    manager.store(context(), 1)
    manager.store(context(), 2)
    assert manager.load(context()) == 2
    assert repr(manager) == f"<FilesystemIOManager base_dir={str(tmp_path)!r}>"


def test_unknown_template_placeholders_and_formats_are_refused_at_validation() -> None:
    pipeline = fs.Pipeline("p")

    @pipeline.asset(io_options={"path": "{asset}/{day}.pkl", "format": "csv"})
    def report(context: Any) -> None:
        return None

    with pytest.raises(fs.DefinitionError) as caught:
        pipeline.validate(io_managers={"fs": FilesystemIOManager("/tmp/unused")})
    prefix = (
        f"{report.location}: asset 'report': io_options for io_manager 'fs' (FilesystemIOManager): "
    )
    assert [str(p) for p in caught.value.problems] == [
        prefix + "format: Input should be 'pickle' or 'json' (got 'csv')",
        prefix + "path: unknown placeholder {day} in path; use {asset}, "
        "{partition}, {partition_key}, {pipeline}, {ext} (got '{asset}/{day}.pkl')",
    ]


def test_an_asset_name_that_is_no_identifier_cannot_leave_the_base_directory(
    manager: FilesystemIOManager,
) -> None:
    # The engine only makes identifiers, but a context built by hand may hold anything.
    with pytest.raises(fs.IOManagerError, match="leaves the base directory"):
        manager.store(context(asset="../outside"), 1)
    assert not manager.base_dir.exists()


def test_a_directory_removed_after_a_write_is_made_again(manager: FilesystemIOManager) -> None:
    manager.store(context(partition="a", key="a"), 1)
    (manager.base_dir / "events" / "a.pkl").unlink()
    (manager.base_dir / "events").rmdir()
    manager.store(context(partition="b", key="b"), 2)
    assert manager.load(context(partition="b", key="b")) == 2


def test_a_pickled_manager_makes_its_directories_wherever_it_is_unpickled(
    tmp_path: Path,
) -> None:
    # A Ray worker gets the manager pickled; what the driver created is not there.
    manager = FilesystemIOManager(tmp_path / "storage")
    manager.store(context(), 1)
    copy = pickle.loads(pickle.dumps(manager))
    (tmp_path / "storage" / "events" / "__all__.pkl").unlink()
    (tmp_path / "storage" / "events").rmdir()
    copy.store(context(), 2)
    assert copy.load(context()) == 2


def test_each_pipeline_keeps_its_values_in_a_directory_of_its_own(
    manager: FilesystemIOManager, tmp_path: Path
) -> None:
    alpha, beta = (replace(context(), pipeline=name) for name in ("alpha", "beta"))
    manager.store(alpha, "A")
    assert not manager.exists(beta)
    manager.store(beta, "B")
    assert (manager.load(alpha), manager.load(beta)) == ("A", "B")
    assert manager.path_for(alpha) == tmp_path / "storage" / "alpha" / "events" / "__all__.pkl"


def test_a_path_template_may_name_the_pipeline(
    manager: FilesystemIOManager, tmp_path: Path
) -> None:
    ctx = replace(context(path="out/{pipeline}-{asset}.{ext}"), pipeline="alpha")
    manager.store(ctx, 1)
    assert manager.path_for(ctx) == tmp_path / "storage" / "out" / "alpha-events.pkl"


def test_a_hand_made_context_with_an_odd_pipeline_name_stays_inside_the_base_dir(
    manager: FilesystemIOManager,
) -> None:
    with pytest.raises(fs.IOManagerError, match=r"leaves the base directory"):
        manager.store(replace(context(), pipeline=".."), 1)


def test_another_process_opening_the_spare_during_the_check_does_not_end_this_one(
    tmp_path: Path,
) -> None:
    # Linux signals a lease holder when another process opens its file; the default signal,
    # SIGIO, would end the process. Here a process opens the spare while the lease is held.
    script = textwrap.dedent(
        f"""
        import fcntl, subprocess, sys, time
        from flowstone.io import FilesystemIOManager
        from tests.flowstone.io.test_filesystem import context

        real = fcntl.fcntl

        def opened_meanwhile(fd, command, arg=0):
            result = real(fd, command, arg)
            if command == fcntl.F_SETLEASE and arg == fcntl.F_WRLCK:
                path = f"/proc/self/fd/{{fd}}"
                import os
                target = os.readlink(path)
                opener = subprocess.Popen([sys.executable, "-c", f"open({{target!r}}, 'rb')"])
                time.sleep(0.5)  # the opener now waits for the lease: this process is told
                opened_meanwhile.opener = opener
            return result

        fcntl.fcntl = opened_meanwhile
        manager = FilesystemIOManager({str(tmp_path)!r})
        for value in ("first", "second", "third"):
            manager.store(context(), value)
        opened_meanwhile.opener.wait(timeout=30)
        print(manager.load(context()))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout.strip()) == (0, "third"), done.stderr
