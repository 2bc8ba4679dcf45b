"""``spawn``: start an actor and wait for its ``init``."""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

from actors import _registry
from actors._actor import Actor
from actors._exceptions import NameTaken
from actors._process import Process
from actors._ref import ActorRef

A = TypeVar("A", bound=Actor)


async def spawn(
    actor_class: type[Actor], *args: Any, name: str | None = None, **kwargs: Any
) -> ActorRef:
    """Start an actor of ``actor_class`` and return its reference once ``init`` has run.

    Args:
        actor_class: a subclass of ``actors.Actor`` (the class, not an instance).
        *args: passed to ``init``.
        name: register the actor under this unique name (see ``whereis``).
        **kwargs: passed to ``init``.

    Raises:
        NameTaken: ``name`` belongs to a live actor.
        StartError: ``init`` raised; the exception is chained as the cause.
    """
    if not (inspect.isclass(actor_class) and issubclass(actor_class, Actor)):
        hint = (
            f" (pass the class: spawn({type(actor_class).__name__}, ...))"
            if isinstance(actor_class, Actor)
            else ""
        )
        raise TypeError(
            f"spawn() expects a subclass of actors.Actor, got {actor_class!r}{hint}"
        )
    if name is not None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"an actor name must be a non-empty str, got {name!r}")
        holder = _registry.lookup(name)
        if holder is not None:
            raise NameTaken(name, holder.ref)
    proc = Process(actor_class(), name)
    if name is not None:
        _registry.register(name, proc)
    _registry.add_live(proc)
    await proc.start(args, kwargs)
    return proc.ref


def whereis(name: str) -> ActorRef | None:
    """Return the live actor registered as ``name``, or None."""
    return _registry.whereis(name)
