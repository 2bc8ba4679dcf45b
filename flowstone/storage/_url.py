"""``open_storage``: from a storage URL to a (not yet opened) ``Storage``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flowstone.errors import StorageError
from flowstone.storage._storage import Storage

SCHEMES = (
    "'sqlite:///PATH' (a file; the default is <base_dir>/flowstone.db; "
    "'sqlite:////abs/path.db' for an absolute path)",
    "'memory' (in this process only; lost at exit)",
    "'postgresql://USER:PASSWORD@HOST:PORT/DATABASE' (or 'postgres://...')",
)


def open_storage(
    url: str | None,
    *,
    base_dir: str | Path = ".flowstone",
    pipeline: str = "",
    must_exist: bool = False,
) -> Storage:
    """Return the ``Storage`` a URL names, not yet opened (``await storage.open()``).

    Args:
        url: ``"sqlite:///relative/path.db"`` (relative to the working directory),
            ``"sqlite:////absolute/path.db"``, ``"sqlite://"`` or ``None`` for
            ``<base_dir>/flowstone.db``, ``"memory"``, or ``"postgresql://..."`` /
            ``"postgres://..."`` (any libpq-style URL asyncpg accepts).
        base_dir: where the default SQLite file lives.
        pipeline: the pipeline whose records the store reads and writes (several pipelines
            may share one database; see ``Storage``). ``""``: none in particular.
        must_exist: refuse a store that cannot hold records yet (a SQLite file that does
            not exist, or ``"memory"``, empty in every new process), for callers that only
            read; nothing is created. A PostgreSQL URL is not checked here (that needs a
            connection).

    Raises:
        StorageError: the URL names no backend FlowStone has; the message lists the schemes
            that exist and shows the URL with its password hidden. With ``must_exist``,
            also a store that does not exist.
    """
    storage = _from_url(url, Path(base_dir))
    if must_exist:
        _check_exists(storage)
    return storage.for_pipeline(pipeline) if pipeline else storage


def _from_url(url: str | None, base_dir: Path) -> Storage:
    if url is None:
        return _sqlite(base_dir / "flowstone.db")
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if text.lower() in ("memory", "memory://", ":memory:"):
        from flowstone.storage._memory import MemoryStorage

        return MemoryStorage()
    if sep and scheme == "sqlite":
        return _sqlite_url(rest, text, base_dir)
    if sep and scheme in ("postgresql", "postgres"):
        from flowstone.storage._postgres import PostgresStorage

        return PostgresStorage(text)
    reason = f"unknown scheme {scheme!r}" if sep else "it has no scheme"
    raise unusable(text, reason)


def _sqlite_url(rest: str, url: str, base_dir: Path) -> Storage:
    # sqlite:// + "/" + path: the third slash separates the (empty) host from the path, so
    # "sqlite:///a.db" is relative and "sqlite:////tmp/a.db" is absolute, as in SQLAlchemy.
    if rest == "":
        return _sqlite(base_dir / "flowstone.db")
    if not rest.startswith("/"):
        raise unusable(url, "a SQLite URL has no host; write 'sqlite:///' + the file path")
    path, _, query = rest[1:].partition("?")
    if path in ("", ":memory:"):
        hint = "no file path" if path == "" else "an in-memory SQLite is not shared; use 'memory'"
        raise unusable(url, hint)
    options = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    unknown = sorted(set(options) - {"synchronous"})
    if unknown:
        raise unusable(url, f"unknown option(s) {unknown}; the only option is synchronous=full")
    return _sqlite(Path(path), options.get("synchronous", "normal"))


def _check_exists(storage: Storage) -> None:
    from flowstone.storage._memory import MemoryStorage
    from flowstone.storage._sqlite import SQLiteStorage

    if isinstance(storage, MemoryStorage):
        raise StorageError(
            "no records to read in the 'memory' store: it starts empty in every process; "
            "name the SQLite file or PostgreSQL database the records were written to"
        )
    if isinstance(storage, SQLiteStorage) and not storage.path.is_file():
        raise StorageError(
            f"no record store at {storage.path.resolve()}: the file does not exist (nothing "
            f"was created). Check the storage URL and base_dir; a store is created by the "
            f"first run that records something"
        )


def _sqlite(path: Path, synchronous: str = "normal") -> Storage:
    from flowstone.storage._sqlite import SQLiteStorage

    return SQLiteStorage(path, synchronous=synchronous)


def unusable(url: str, reason: str) -> StorageError:
    """Return the error for a storage URL that names no usable backend."""
    options = "\n".join(f"  - {s}" for s in SCHEMES)
    return StorageError(
        f"cannot use storage URL {redact(url)!r}: {reason}. FlowStone can store records in:\n"
        f"{options}"
    )


def redact(url: str) -> str:
    """Return ``url`` with any password replaced by ``***`` (userinfo and ``password=``);
    a URL without a password comes back unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = userinfo.split(":", 1)[0] + ":***@" + host
    if "password=" in query.lower():
        pairs = parse_qsl(query, keep_blank_values=True)
        hidden = [(k, "***" if k.lower() == "password" else v) for k, v in pairs]
        query = urlencode(hidden, safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
