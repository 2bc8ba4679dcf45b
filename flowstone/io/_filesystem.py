"""``FilesystemIOManager``: one file per asset partition under a base directory."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pickle
import secrets
import signal
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Literal
from urllib.parse import quote

from pydantic import field_validator

from flowstone.definitions._naming import is_identifier, is_pipeline_name
from flowstone.errors import IOManagerError
from flowstone.io._digest import DIGEST_KEY, HashingWriter
from flowstone.io._manager import IOContext, IOManager, IOOptions

_EXTENSIONS = {"pickle": "pkl", "json": "json"}
_PLACEHOLDERS = ("asset", "partition", "partition_key", "pipeline", "ext")
_JSON_HINT = " (use format='pickle', or return lists, dicts, strings, numbers, booleans or None)"
# Partition keys may hold '/', ':' or '|' (multi keys); in a file name they are %-escaped.
_SAFE_IN_NAME = "-_.=,+@"
SPARE_LIMIT = 1 << 20
"""A replaced value file up to this size is kept as ``.<name>.spare``, for the next store of
the same value to write into (see ``_claim_spare``); a larger one is deleted."""
_LEASES = hasattr(fcntl, "F_SETLEASE") and hasattr(signal, "SIGURG")
_F_SETSIG = getattr(fcntl, "F_SETSIG", 10)  # Linux's value; Python names it on Linux only


class FilesystemOptions(IOOptions):
    """Per-asset options of ``FilesystemIOManager`` (``io_options=`` on the asset).

    Attributes:
        format: ``"pickle"`` (default; any picklable value) or ``"json"``.
        path: where the value goes, relative to the base directory: ``None`` for
            ``<pipeline>/<asset>/<partition key or __all__>.<pkl|json>`` (without the
            pipeline directory when the context names none), so that pipelines sharing a
            base directory never read each other's values; a template such as
            ``"reports/{partition:%Y/%m}/{partition_key}.{ext}"`` (placeholders ``asset``,
            ``partition`` (the key itself, so dates take format specs), ``partition_key``
            (its file-safe string), ``pipeline`` and ``ext``); or a function of the
            partition key returning the relative path. A given path is used as it is:
            pipelines that give the same path share the file.
    """

    format: Literal["pickle", "json"] = "pickle"
    path: Callable[[Any], str] | str | None = None

    @field_validator("path")
    @classmethod
    def _known_placeholders(cls, value: object) -> object:
        if isinstance(value, str):
            for _, field, _, _ in string.Formatter().parse(value):
                root = None if field is None else field.split(".")[0].split("[")[0]
                if root is not None and root not in _PLACEHOLDERS:
                    known = ", ".join("{" + p + "}" for p in _PLACEHOLDERS)
                    raise ValueError(f"unknown placeholder {{{field}}} in path; use {known}")
        return value


class FilesystemIOManager(IOManager):
    """Store each value in its own file under ``base_dir``.

    Writes are atomic: the value goes to a temporary file in the target directory, which is
    flushed and moved in place of the target, so a failed or interrupted write (even
    ``kill -9``) leaves the previous value intact and a reader never sees half a file (see
    ``_move_in``). Paths are checked to stay inside ``base_dir``.

    Args:
        base_dir: the directory holding the files (created on first write).
        fsync: also fsync files and their directory before ``store`` returns, so values
            survive power loss, not only process crashes (about 3 ms per write on a typical
            disk). Off by default, matching the SQLite store's default durability
            (see docs/adr/0011-group-commit-and-durability.md).
    """

    options_model = FilesystemOptions

    def __init__(self, base_dir: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.base_dir = Path(os.path.abspath(base_dir))
        self.fsync = fsync
        self._base = str(self.base_dir)
        self._made: set[str] = set()  # directories this process created or found

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_made"] = set()  # what exists here says nothing of another machine
        return state

    def store(self, context: IOContext, value: Any) -> Mapping[str, Any]:
        """Write ``value``; return ``{"path", "size", "format", "sha256"}``.

        Raises:
            IOManagerError: when the value cannot be serialized or written (cause chained).
        """
        options = self._options(context)
        path = self._file(context, options)
        try:
            size, sha256 = self._write_atomically(path, value, options.format)
        except Exception as error:
            hint = _JSON_HINT if options.format == "json" and _is_encoding_error(error) else ""
            message = f"cannot store {_describe(context)} as {options.format} at {path}{hint}"
            raise _error(context, message, error) from error
        return {"path": path, "size": size, "format": options.format, DIGEST_KEY: sha256}

    def load(self, context: IOContext) -> Any:
        """Read the value back.

        Raises:
            IOManagerError: when no file exists, or it cannot be read or decoded.
        """
        options = self._options(context)
        path = self._file(context, options)
        try:
            with _open_current(path) as file:
                return pickle.load(file) if options.format == "pickle" else json.load(file)
        except FileNotFoundError:
            raise IOManagerError(
                f"no stored value for {_describe(context)}: {path} does not exist; "
                "materialize it first",
                asset=context.asset,
                partition=context.partition,
            ) from None
        except Exception as error:
            message = f"cannot load {_describe(context)} from {path}"
            raise _error(context, message, error) from error

    def exists(self, context: IOContext) -> bool:
        """Return True when the file of the asset partition exists."""
        path = self.path_for(context)
        return path.is_file() or Path(_previous(str(path))).is_file()

    def delete(self, context: IOContext) -> None:
        """Remove the file of the asset partition (a no-op when there is none)."""
        path = self.path_for(context)
        path.unlink(missing_ok=True)
        Path(_previous(str(path))).unlink(missing_ok=True)
        Path(_spare(str(path))).unlink(missing_ok=True)

    def path_for(self, context: IOContext) -> Path:
        """Return the absolute path of the file of ``context``'s asset partition.

        Raises:
            IOManagerError: when the ``path`` option fails or leads outside ``base_dir``.
        """
        return Path(self._file(context, self._options(context)))

    def _file(self, context: IOContext, options: FilesystemOptions) -> str:
        if options.path is None and is_identifier(context.asset) and _plain(context.pipeline):
            # The default layout cannot leave base_dir: a pipeline name and an identifier,
            # then a %-escaped key.
            key = context.partition_key
            name = "__all__" if key is None else quote(key, safe=_SAFE_IN_NAME)
            folder = f"{context.pipeline}/{context.asset}" if context.pipeline else context.asset
            return f"{self._base}/{folder}/{name}.{_EXTENSIONS[options.format]}"
        relative = self._relative_path(context, options)
        if not isinstance(relative, str) or not relative:
            raise _error(
                context,
                f"the path option gave {relative!r} for {_describe(context)}; "
                "it must give a non-empty relative path string",
            )
        if not self._inside(relative):
            raise _error(
                context,
                f"the path {relative!r} of {_describe(context)} leaves the base directory "
                f"{self.base_dir}; paths must be relative and stay inside it",
            )
        return os.path.normpath(os.path.join(self._base, relative))

    def _inside(self, relative: str) -> bool:
        # Lexical check (no symlink resolution): it stops '..' and absolute paths, while
        # symlinks the owner placed inside base_dir keep working.
        if os.path.isabs(relative):
            return False
        base = str(self.base_dir)
        full = os.path.normpath(os.path.join(base, relative))
        return full != base and os.path.commonpath([base, full]) == base

    def _relative_path(self, context: IOContext, options: FilesystemOptions) -> object:
        ext = _EXTENSIONS[options.format]
        key = context.partition_key
        key = "__all__" if key is None else quote(key, safe=_SAFE_IN_NAME)
        if options.path is None:
            folder = f"{context.pipeline}/{context.asset}" if context.pipeline else context.asset
            return f"{folder}/{key}.{ext}"
        try:
            if isinstance(options.path, str):
                fields = {
                    "asset": context.asset,
                    "partition": context.partition,
                    "pipeline": context.pipeline,
                }
                return options.path.format(**fields, partition_key=key, ext=ext)
            return options.path(context.partition)
        except Exception as error:
            message = f"the path option failed for {_describe(context)}"
            raise _error(context, message, error) from error

    def _options(self, context: IOContext) -> FilesystemOptions:
        if isinstance(context.options, FilesystemOptions):
            return context.options
        try:
            return FilesystemOptions(**dict(context.io_options))
        except Exception as error:
            raise _error(context, f"invalid io_options for {_describe(context)}", error) from error

    def _write_atomically(self, path: str, value: Any, fmt: str) -> tuple[int, str]:
        directory, name = os.path.split(path)
        if directory not in self._made:
            os.makedirs(directory, exist_ok=True)
            self._made.add(directory)
        # A random name in the same directory: os.replace is atomic only within a filesystem.
        temporary = f"{directory}/.{name}.{secrets.token_hex(6)}.tmp"
        recycled = None if self.fsync else _claim_spare(path, temporary)
        try:
            with recycled or _create(temporary, directory) as file:
                hashing = HashingWriter(file)
                _serialize(hashing, value, fmt)  # type: ignore[arg-type]
                if recycled is not None:
                    file.truncate()  # the end of the longer value it held before
                file.flush()
                if self.fsync:
                    os.fsync(file.fileno())
                size = file.tell()
            if self.fsync:
                os.replace(temporary, path)  # the data is on disk: nothing left to flush
            else:
                _move_in(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        if self.fsync:
            _fsync_directory(directory)
        return size, hashing.hexdigest()

    def __repr__(self) -> str:
        return f"<FilesystemIOManager base_dir={str(self.base_dir)!r}>"


def _plain(pipeline: str) -> bool:
    """Whether a pipeline name can be a directory name as it is (pipeline names are checked
    when defined; a context built by hand may hold anything, and then takes the checked
    path)."""
    return pipeline == "" or is_pipeline_name(pipeline)


def _create(path: str, directory: str) -> BinaryIO:
    """Open a new file for writing; make its directory again if it was removed since."""
    try:
        return open(path, "xb")  # the caller's ``with`` closes it
    except FileNotFoundError:
        os.makedirs(directory, exist_ok=True)
        return open(path, "xb")


def _previous(path: str) -> str:
    directory, name = os.path.split(path)
    return f"{directory}/.{name}.previous"


def _spare(path: str) -> str:
    directory, name = os.path.split(path)
    return f"{directory}/.{name}.spare"


def _claim_spare(path: str, temporary: str) -> BinaryIO | None:
    """Take the file the last store of ``path`` replaced, as ``temporary``, to write into.

    Creating a file allocates an inode, and deleting one frees it. On ext4 without a journal
    (as on this project's benchmark VMs) the allocator skips the inodes freed in the last
    seconds one by one, so with a value stored again and again each new file cost 0.2-0.5 ms
    of system time. Writing into the replaced file instead costs a rename and an open.

    The file is taken only when nothing else has it: the rename to a name of this store's
    own settles a race between two stores, and a write lease, which Linux grants only while
    no other descriptor or memory mapping holds the file (in any process), shows that no
    reader that opened the old value is still reading it. A file with another hard link is
    not taken either. Returns None when there is no such file; the caller creates a new one.
    """
    if not _LEASES:
        return None
    try:
        os.rename(_spare(path), temporary)
    except OSError:
        return None  # none kept (the first stores, a large value) or another store took it
    file: BinaryIO | None = None
    try:
        file = open(temporary, "r+b")  # noqa: SIM115 - the caller's ``with`` closes it
        # Should another process open the file while the lease is held (a few µs, under a
        # random name), Linux signals the holder: SIGURG, ignored unless handled, instead of
        # SIGIO, whose default action ends the process.
        fcntl.fcntl(file.fileno(), _F_SETSIG, signal.SIGURG)
        fcntl.fcntl(file.fileno(), fcntl.F_SETLEASE, fcntl.F_WRLCK)
        fcntl.fcntl(file.fileno(), fcntl.F_SETLEASE, fcntl.F_UNLCK)
        if os.fstat(file.fileno()).st_nlink == 1:
            return file
    except OSError:
        pass  # held open by a reader, or no leases on this filesystem: leave the file be
    if file is not None:
        file.close()
    with contextlib.suppress(OSError):
        os.unlink(temporary)
    return None


def _move_in(temporary: str, path: str) -> None:
    """Put ``temporary`` at ``path`` without renaming over an existing file.

    ``os.replace`` over an existing file makes ext4 (``auto_da_alloc``, its default) write
    the new file's data out before the rename returns: 0.1–0.5 ms per store on a VM disk,
    on the critical path of every step of a chain. Moving the old file aside first, then
    the new one in, then deleting the old one avoids it. A reader never loses the value:
    ``_open_current`` falls back to the file moved aside, which also survives a crash
    between the two renames (a later store deletes it). A small old file is not deleted but
    kept as the spare the next store writes into (``_claim_spare``).
    """
    previous = _previous(path)
    try:
        os.rename(path, previous)
    except FileNotFoundError:
        pass  # the first value (or a crash left the old one aside: it stays the fallback)
    try:
        os.rename(temporary, path)
    except BaseException:
        if not os.path.exists(path):
            with contextlib.suppress(OSError):
                os.rename(previous, path)  # put the old value back where it was
        raise
    _retire(previous, _spare(path))


def _retire(previous: str, spare: str) -> None:
    """Keep the replaced file as the spare when it is small and has no other link; delete
    it otherwise. (A spare is there already only when another store of the same path ran
    at the same time: this one took it at its start.)"""
    try:
        status = os.stat(previous)
    except FileNotFoundError:
        return
    if _LEASES and status.st_size <= SPARE_LIMIT and status.st_nlink == 1:
        with contextlib.suppress(OSError):
            os.rename(previous, spare)
            return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(previous)


def _open_current(path: str) -> BinaryIO:
    """Open the value at ``path``; while a store moves it aside (or after a crash in the
    middle of one) the previous file holds it. Raises FileNotFoundError naming ``path``."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        pass
    try:
        return open(_previous(path), "rb")
    except FileNotFoundError:
        return open(path, "rb")  # the store finished in between: the new file is there


def _serialize(file: BinaryIO, value: Any, fmt: str) -> None:
    if fmt == "pickle":
        pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        file.write(json.dumps(value).encode("utf-8"))


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; without it a power loss can undo the replace.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _describe(context: IOContext) -> str:
    if context.partition_key is None:
        return f"asset {context.asset!r}"
    return f"asset {context.asset!r} partition {context.partition_key!r}"


def _is_encoding_error(error: BaseException) -> bool:
    return isinstance(error, TypeError | ValueError) and not isinstance(error, OSError)


def _error(context: IOContext, message: str, cause: BaseException | None = None) -> IOManagerError:
    if cause is not None:
        message += f": {type(cause).__name__}: {cause}"
    return IOManagerError(message, asset=context.asset, partition=context.partition)
