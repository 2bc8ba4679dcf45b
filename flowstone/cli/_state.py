"""What every command needs: the settings, the output mode, the pipeline and a runtime
built for the command's purpose; FlowStone errors turned into exit codes."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from flowstone.cli._config import Settings, import_object
from flowstone.cli._output import err_console, esc, ray_origin
from flowstone.cli._store import check_store
from flowstone.errors import (
    AssetNotFound,
    ConfigurationError,
    DefinitionError,
    FlowStoneError,
    InvalidPartition,
    MissingUpstream,
    ResourceError,
    RunFailed,
    StorageError,
)

EXIT_FAILED, EXIT_USAGE, EXIT_DEFINITION, EXIT_CONFIG = 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C

F = TypeVar("F", bound=Callable[..., Any])


class NotSetUp:
    """Stands in for a resource in a command that runs no asset (never set up)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<resource {self.name!r}, not set up by this command>"


class State:
    """The settings and output mode of one invocation; builds the pipeline and runtime."""

    def __init__(self, settings: Settings, as_json: bool) -> None:
        self.settings = settings
        self.json = as_json
        self._pipeline: Any = None

    def pipeline(self) -> Any:
        """Import the configured pipeline (once)."""
        if self._pipeline is None:
            self._pipeline = self._import_pipeline()
        return self._pipeline

    def _import_pipeline(self) -> Any:
        s = self.settings
        if not s.pipeline:
            raise ConfigurationError(
                'no pipeline configured: add `pipeline = "module:attribute"` under '
                "[flowstone] in flowstone.toml, set FLOWSTONE_PIPELINE, or pass --pipeline"
            )
        return import_object(s.pipeline, s.root, s.python_path)

    def runtime_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the ``Runtime``: the ``runtime`` hook's, the Ray address."""
        s = self.settings
        kwargs: dict[str, Any] = {}
        if s.runtime:
            kwargs = dict(import_object(s.runtime, s.root, s.python_path)())
        if s.ray_address:
            kwargs["ray_address"] = s.ray_address
        return kwargs

    @property
    def base_dir(self) -> Path:
        """Where the embedded defaults keep their files."""
        return (self.settings.root / self.settings.base_dir).resolve()

    @property
    def storage(self) -> str | None:
        """The storage URL, a relative SQLite path taken from the config's folder."""
        url = self.settings.storage
        if url and url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            return f"sqlite:///{(self.settings.root / url[len('sqlite:///') :]).resolve()}"
        return url

    def validate(self) -> Any:
        """Validate the definitions as a runtime would, opening and setting up nothing;
        return the pipeline."""
        from flowstone.runtime._runtime import AsyncRuntime

        pipeline = self.pipeline()
        # Construction validates (assets, I/O managers, resources, Ray, the storage URL);
        # the store and the resources are only opened by start(), never called here.
        AsyncRuntime(
            pipeline, storage=self.storage, base_dir=self.base_dir, **self.runtime_kwargs()
        )
        return pipeline

    @contextmanager
    def runtime(self, *, read_only: bool) -> Iterator[Any]:
        """A started ``Runtime`` for the block, closed after it. A ``read_only`` one refuses
        a store that does not exist and sets no resource up."""
        from flowstone.runtime._sync_runtime import Runtime

        pipeline = self.pipeline()
        kwargs = self.runtime_kwargs()
        check_store(self.storage, self.base_dir, must_exist=read_only)
        if read_only:
            kwargs["resources"] = _not_set_up(kwargs.get("resources") or {})
        rt = Runtime(pipeline, storage=self.storage, base_dir=self.base_dir, **kwargs)
        try:
            yield rt
        finally:
            rt.close()


def _not_set_up(resources: Mapping[str, Any]) -> dict[str, Any]:
    return {name: NotSetUp(name) for name in resources}


@contextmanager
def errors_to_exit_codes() -> Iterator[None]:
    """Print FlowStone errors readably and exit with the documented code."""
    try:
        yield
    except DefinitionError as exc:
        fail(str(exc), EXIT_DEFINITION)
    except (AssetNotFound, InvalidPartition, MissingUpstream) as exc:
        fail(str(exc), EXIT_USAGE)
    except RunFailed as exc:
        fail(_with_ray_origin(exc), EXIT_FAILED)
    except (ConfigurationError, StorageError, ResourceError) as exc:
        fail(str(exc), EXIT_CONFIG)
    except FlowStoneError as exc:  # any other refusal of the runtime, said plainly
        fail(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        # Raised through the runtime's block, which cancelled what was in flight on exit.
        fail("interrupted; work in flight was cancelled", EXIT_INTERRUPTED)


def _with_ray_origin(exc: RunFailed) -> str:
    """The run's failure message, saying which Ray worker raised it if one did."""
    for m in reversed(exc.materializations):
        where = ray_origin(getattr(m.error, "traceback", None))
        if where is not None:
            return f"{exc} (raised in {where})"
    return str(exc)


def fail(message: str, code: int) -> None:
    """Print ``error: message`` on standard error and exit with ``code``."""
    err_console().print(f"[bold red]error:[/bold red] {esc(message)}", soft_wrap=True)
    sys.exit(code)


def json_option(fn: F) -> F:
    """Add ``--json`` to a command (as the global ``flowstone --json`` does)."""

    def set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            state: State = ctx.obj  # made by the group's callback
            state.json = True

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=set_json,
        help="Machine-readable JSON output.",
    )(fn)


def require_partition(pipeline: Any, asset: str, partition: str | None) -> None:
    """Refuse a partitioned ``asset`` without ``-p`` (and an unpartitioned one with it),
    in the command line's terms."""
    definition = pipeline.get(asset).partitions
    if definition is not None and partition is None:
        raise InvalidPartition(
            f"asset {asset!r} is partitioned ({definition.describe()}) and needs a partition "
            f"key: pass -p/--partition, e.g. -p {shlex.quote(str(definition.example()))}"
        )
    if definition is None and partition is not None:
        raise InvalidPartition(
            f"asset {asset!r} is not partitioned, but -p/--partition {partition!r} was given; "
            f"leave -p out"
        )


def require_partitioned(pipeline: Any, asset: str) -> None:
    """Refuse a backfill of an unpartitioned ``asset``, naming the command to use."""
    if pipeline.get(asset).partitions is None:
        raise InvalidPartition(
            f"asset {asset!r} is not partitioned, so there is nothing to backfill; "
            f"materialize it with: flowstone materialize {shlex.quote(asset)}"
        )
