"""Actor backends other than the local one, loaded by name on first use.

Internal. ``actors.spawn(cls, ..., backend="ray")`` resolves the name here; ``"local"`` never
comes here (``spawn`` runs it directly). A backend is any object with an async
``spawn(actor_class, args, kwargs, name) -> ActorRef`` whose processes implement
``actors.abc.ProcessBackend``, so a ``RayBackend(num_cpus=...)`` instance may be passed too.

Module map:
    _ray.py       RayBackend and RayProcess: the driver side (the only module importing ray)
    _ray_host.py  ActorHost: the Ray actor that runs the user's actor in a worker
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from actors._actor import Actor
    from actors._ref import ActorRef


class Backend(Protocol):
    """What ``spawn`` needs from a backend."""

    async def spawn(
        self,
        actor_class: type[Actor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None,
    ) -> ActorRef:
        """Start the actor and return its reference once ``init`` has run."""


def resolve(backend: object) -> Backend:
    """Return the backend named or given by ``backend`` (never ``"local"``).

    Raises:
        ValueError: an unknown backend name.
        ImportError: the backend's library is not installed.
        TypeError: neither a name nor an object with an async ``spawn``.
    """
    if isinstance(backend, str):
        if backend == "ray":
            if importlib.util.find_spec("ray") is None:
                raise ImportError(
                    "Backend 'ray' is not available. Install it with: pip install 'ray[default]'"
                )
            from actors._backends._ray import RayBackend

            return RayBackend()
        raise ValueError(f"unknown actor backend {backend!r}; expected 'local' or 'ray'")
    if callable(getattr(backend, "spawn", None)):
        return backend  # type: ignore[return-value]
    raise TypeError(
        f"backend must be 'local', 'ray' or a backend object such as RayBackend(num_cpus=1), "
        f"got {backend!r}"
    )
