"""Resources: shared clients and settings that assets receive by name.

``ResourceDefinition`` says how to set a resource up and tear it down; plain objects
(settings, clients made by the caller) are used as they are. ``ResourceManager`` sets every
definition up once per runtime and gives each asset only the resources it declared.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, final

from flowstone.definitions._naming import quoted_list, suggestion
from flowstone.errors import ResourceError, ResourceNotDeclared

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition

logger = logging.getLogger("flowstone.resources")


@final
class ResourceDefinition:
    """How to set up a resource, and optionally how to tear it down.

    ``setup`` takes no arguments and may be:

    - a function returning the resource (``lambda: Client(url)``);
    - a function returning a context manager (sync or async), which is entered, its value
      being the resource and its exit the teardown; note that an object that merely
      *supports* ``with`` (a ``sqlite3.Connection``) is entered too;
    - a generator function (sync or async) that yields the resource once; the code after
      ``yield`` is the teardown, as with pytest fixtures;
    - an ``async def`` returning the resource.

    Sync callables run in a worker thread, so a slow connect does not stall the runtime.

    Args:
        setup: the zero-argument callable described above.
        teardown: called with the resource when the runtime closes (sync or async).
    """

    def __init__(
        self, setup: Callable[[], Any], teardown: Callable[[Any], Any] | None = None
    ) -> None:
        if not callable(setup):
            raise ResourceError(f"ResourceDefinition setup must be callable, got {setup!r}")
        if teardown is not None and not callable(teardown):
            raise ResourceError(f"ResourceDefinition teardown must be callable, got {teardown!r}")
        self.setup = setup
        self.teardown = teardown

    async def open(self, stack: AsyncExitStack) -> Any:
        """Set the resource up, registering its teardown on ``stack``; return its value."""
        setup = self.setup
        if inspect.isasyncgenfunction(setup):
            setup = asynccontextmanager(setup)
        elif inspect.isgeneratorfunction(setup):
            setup = contextmanager(setup)
        value = await _call(setup)
        if hasattr(value, "__aenter__") and hasattr(value, "__aexit__"):
            value = await stack.enter_async_context(value)
        elif hasattr(value, "__enter__") and hasattr(value, "__exit__"):
            manager = value
            value = await asyncio.to_thread(manager.__enter__)
            stack.push_async_callback(asyncio.to_thread, manager.__exit__, None, None, None)
        if self.teardown is not None:
            stack.push_async_callback(_call, self.teardown, value)
        return value

    def __repr__(self) -> str:
        return f"<ResourceDefinition setup={_name(self.setup)} teardown={_name(self.teardown)}>"


@final
class ResourceManager:
    """The resources of one runtime: set up once by ``start()``, closed by ``close()``.

    Args:
        resources: names to ``ResourceDefinition`` (set up by ``start``) or to plain objects
            (pydantic settings, ready-made clients), which are used as they are and never
            torn down.
    """

    def __init__(self, resources: Mapping[str, object] | None = None) -> None:
        self._given = dict(resources or {})
        self._values = {
            n: v for n, v in self._given.items() if not isinstance(v, ResourceDefinition)
        }
        self._stacks: list[tuple[str, AsyncExitStack]] = []
        self._started = False

    async def start(self) -> None:
        """Set up every ``ResourceDefinition``, in the given order.

        Raises:
            ResourceError: naming the resource whose setup failed (the cause is chained);
                the resources already set up are torn down first.
        """
        if self._started:
            return
        self._started = True
        for name, given in self._given.items():
            if isinstance(given, ResourceDefinition):
                stack = AsyncExitStack()
                try:
                    self._values[name] = await given.open(stack)
                except Exception as error:
                    await stack.aclose()
                    await self.close()
                    raise ResourceError(
                        f"resource {name!r} failed to set up: {type(error).__name__}: {error}",
                        resource=name,
                    ) from error
                self._stacks.append((name, stack))

    def for_asset(self, asset: AssetDefinition) -> Mapping[str, object]:
        """Return the resources ``asset`` declared, as a read-only mapping.

        Reading any other name raises ``ResourceNotDeclared`` (a ``KeyError``) that says
        how to declare it.

        Raises:
            ResourceError: when a declared resource is not provided or not set up yet.
        """
        declared = {}
        for name in asset.resources:
            if name in self._values:
                declared[name] = self._values[name]
            elif name in self._given:
                raise ResourceError(
                    f"resource {name!r} of asset {asset.name!r} is not set up yet; "
                    "await ResourceManager.start() first",
                    resource=name,
                    asset=asset.name,
                )
            else:
                raise ResourceError(
                    f"asset {asset.name!r} requires resource {name!r}, which is not "
                    f"provided{suggestion(name, self._given)}; provided resources: "
                    f"{quoted_list(self._given)}",
                    resource=name,
                    asset=asset.name,
                )
        return AssetResources(asset.name, declared, frozenset(self._given))

    async def close(self) -> None:
        """Tear the resources down in reverse setup order; errors are logged, not raised."""
        while self._stacks:
            name, stack = self._stacks.pop()
            self._values.pop(name, None)
            try:
                await stack.aclose()
            except Exception:
                logger.exception("teardown of resource %r failed", name)

    async def __aenter__(self) -> ResourceManager:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "started" if self._started else "not started"
        return f"<ResourceManager {quoted_list(self._given)} {state}>"


@final
class AssetResources(Mapping[str, object]):
    """The read-only view of the resources one asset declared (``context.resources``)."""

    def __init__(self, asset: str, values: Mapping[str, object], known: frozenset[str]) -> None:
        self._asset = asset
        self._values = dict(values)
        self._known = known

    def __getitem__(self, name: str) -> object:
        try:
            return self._values[name]
        except KeyError:
            raise ResourceNotDeclared(
                self._explain(name), resource=name, asset=self._asset
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def _explain(self, name: str) -> str:
        if name in self._known:
            return (
                f"asset {self._asset!r} did not declare resource {name!r}; add "
                f"resources=[{name!r}] to its @pipeline.asset(...) to use it"
            )
        return (
            f"asset {self._asset!r} has no resource {name!r}"
            f"{suggestion(name, self._values)}; it declares: {quoted_list(self._values)}"
        )

    def __repr__(self) -> str:
        return f"<resources of {self._asset!r}: {quoted_list(self._values)}>"


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result = await asyncio.to_thread(fn, *args)
    if inspect.isawaitable(result):
        return await result
    return result


def _name(fn: object) -> str:
    return getattr(fn, "__qualname__", repr(fn))
