"""``RayOptions``: what a Ray-executed asset asks of the cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flowstone.definitions._pydantic_messages import readable_errors
from flowstone.errors import DefinitionError


class RayOptions(BaseModel):
    """Resources of the Ray task that runs an asset with ``executor="ray"``.

    Args:
        num_cpus: logical CPUs reserved for the task (may be fractional).
        num_gpus: GPUs reserved for the task (may be fractional).
        memory: bytes of memory reserved for the task, or None for Ray's default.
        runtime_env: a Ray runtime environment (``pip``, ``env_vars``, ``working_dir``...).
        resources: custom Ray resources the task needs, e.g. ``{"gpu_node": 0.01}`` to run
            only on nodes started with ``--resources='{"gpu_node": 1}'``.

    Raises:
        DefinitionError: when a value is negative or of the wrong type (one line per problem).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_cpus: float = Field(default=1.0, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    memory: int | None = Field(default=None, gt=0)
    runtime_env: dict[str, Any] | None = None
    resources: dict[str, float] | None = None

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            lines = readable_errors(error, type(self))
            raise DefinitionError(f"invalid RayOptions: {'; '.join(lines)}") from None

    def remote_args(self) -> Mapping[str, Any]:
        """Return the keyword arguments for ``ray.remote(...).options(...)`` (unset ones
        left out, so Ray's defaults apply)."""
        args: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.memory is not None:
            args["memory"] = self.memory
        if self.runtime_env is not None:
            args["runtime_env"] = dict(self.runtime_env)
        if self.resources:
            args["resources"] = dict(self.resources)
        return args
