"""``spawn`` and ``whereis``: start an actor, find one by name."""

from __future__ import annotations

import inspect
from typing import Any

from actors import _registry
from actors._actor import Actor
from actors._exceptions import NameTaken, StartError
from actors._messages import format_reason
from actors._process import Process
from actors._ref import ActorRef


async def spawn(
    actor_class: type[Actor],
    *args: Any,
    name: str | None = None,
    backend: Any = "local",
    **kwargs: Any,
) -> ActorRef:
    """Start an actor of ``actor_class`` and return its reference once ``init`` has run.

    The actor runs in its own task on the running event loop. Its name, if any, is taken
    before ``init`` runs (``whereis`` finds it during ``init``) and released when it exits.

    Args:
        actor_class: a subclass of ``actors.Actor`` (the class, not an instance).
        *args: passed to ``init``.
        name: register the actor under this unique name (see ``whereis``).
        backend: ``"local"`` (a task on this event loop), ``"ray"`` (a named Ray actor in a
            Ray worker process, see docs/ray.md) or a backend object such as
            ``RayBackend(num_cpus=1)``; the returned ``ActorRef`` works the same either way.
        **kwargs: passed to ``init``.

    Returns:
        The new actor's reference.

    Raises:
        NameTaken: ``name`` belongs to a live actor.
        StartError: ``init`` raised (the exception is the cause and ``reason``), asked to
            stop, or was interrupted by an exit signal.
        TypeError: ``actor_class`` is not an ``Actor`` subclass or ``name`` is not a str.
    """
    _check_actor_class(actor_class)
    if name is not None:
        _check_name(name)
    if not (isinstance(backend, str) and backend == "local"):
        from actors._backends import resolve

        return await resolve(backend).spawn(actor_class, args, kwargs, name)
    proc = Process(_construct(actor_class), name)
    if name is not None:
        _registry.register(name, proc)
    _registry.add_live(proc)
    await proc.start(args, kwargs)
    return proc.ref


def whereis(name: str) -> ActorRef | None:
    """Return the live actor registered as ``name``, or None."""
    return _registry.whereis(name)


def _check_actor_class(actor_class: object) -> None:
    if inspect.isclass(actor_class) and issubclass(actor_class, Actor):
        return
    hint = ""
    if isinstance(actor_class, Actor):
        cls = type(actor_class).__name__
        hint = f"; pass the class, not an instance: spawn({cls}, ...) rather than spawn({cls}())"
    raise TypeError(f"spawn() expects a subclass of actors.Actor, got {actor_class!r}{hint}")


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(f"an actor name must be a non-empty str, got {name!r}")
    holder = _registry.lookup(name)
    if holder is not None:
        raise NameTaken(name, holder.ref)


def _construct(actor_class: type[Actor]) -> Actor:
    try:
        return actor_class()
    except Exception as exc:
        raise StartError(
            f"could not construct {actor_class.__name__}(): {format_reason(exc)}; an Actor "
            "subclass takes its arguments in init(), not __init__",
            reason=exc,
        ) from exc
