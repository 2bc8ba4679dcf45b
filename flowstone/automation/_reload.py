"""Reloading a pipeline's modules when their files change (``flowstone daemon --reload``).

Internal. ``ModuleWatcher`` polls the modification times of the files that define the
pipeline (its own module and every module its assets, schedules and sensors come from);
``reload_pipeline`` re-imports them and returns the new pipeline object, or raises what the
import raised (a syntax error, a ``DefinitionError``): the daemon then keeps the previous
definitions and reports the error.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from flowstone.errors import ConfigurationError


def pipeline_modules(pipeline: Any, spec: str | None) -> list[str]:
    """Names of the modules that define ``pipeline``, the spec's module first."""
    names: list[str] = []
    if spec:
        names.append(spec.partition(":")[0])
    objects: Iterable[Any] = [
        *(a.fn for a in pipeline.assets.values()),
        *(s.fn for s in pipeline.sensors.values()),
    ]
    for obj in objects:
        module = getattr(obj, "__module__", None)
        if isinstance(module, str) and module not in names and module in sys.modules:
            names.append(module)
    return names


def locate(pipeline: Any) -> str | None:
    """Find ``module:attribute`` naming ``pipeline`` among the loaded modules."""
    for name in pipeline_modules(pipeline, None):
        module = sys.modules.get(name)
        for attr, value in vars(module).items() if module else ():
            if value is pipeline:
                return f"{name}:{attr}"
    return None


class ModuleWatcher:
    """Tells when any of the watched modules' files changed since the last look."""

    def __init__(self, modules: Iterable[str]) -> None:
        self.modules = list(modules)
        self._seen = self._snapshot()

    def _snapshot(self) -> dict[str, float]:
        times: dict[str, float] = {}
        for name in self.modules:
            path = getattr(sys.modules.get(name), "__file__", None)
            if path:
                try:
                    times[path] = os.stat(path).st_mtime_ns
                except OSError:
                    times[path] = -1
        return times

    def changed(self) -> bool:
        """Whether a file changed since the previous call (or construction)."""
        now = self._snapshot()
        changed, self._seen = now != self._seen, now
        return changed


def import_spec(spec: str) -> Any:
    """Import ``"module:attribute"`` (the working directory on ``sys.path``).

    Raises:
        ConfigurationError: a malformed spec or a missing attribute.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigurationError(
            f"expected 'module:attribute' (e.g. 'my_project.pipeline:pipeline'), got {spec!r}"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigurationError(f"module {module_name!r} has no attribute {attr!r}") from None


def reload_pipeline(spec: str, modules: Iterable[str]) -> Any:
    """Re-import ``modules`` (dependencies before the spec's module) and return the object
    ``spec`` names.

    Raises:
        whatever the import raises (SyntaxError, DefinitionError, ...).
    """
    module_name, _, attr = spec.partition(":")
    ordered = [m for m in modules if m != module_name] + [module_name]
    importlib.invalidate_caches()
    for name in ordered:
        module: ModuleType | None = sys.modules.get(name)
        if module is None:
            importlib.import_module(name)
        else:
            importlib.reload(module)
    pipeline = getattr(sys.modules[module_name], attr, None)
    if pipeline is None:
        raise ConfigurationError(f"module {module_name!r} has no attribute {attr!r} any more")
    return pipeline
