"""Where the CLI finds the pipeline and the storage: ``flowstone.toml`` (searched from the
current directory upwards), overridden by ``FLOWSTONE_*`` environment variables and by
command-line options."""

from __future__ import annotations

import importlib
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from flowstone.errors import ConfigurationError

CONFIG_NAME = "flowstone.toml"


class Settings(BaseSettings):
    """FlowStone's CLI settings (``FLOWSTONE_PIPELINE``, ``FLOWSTONE_STORAGE``, ...).

    ``pipeline`` is ``"module:attribute"``; ``runtime`` optionally names a
    ``"module:function"`` returning the keyword arguments of the ``Runtime`` (for I/O
    managers and resources that need code to build); ``ray_address`` is the Ray cluster
    to run Ray assets on (``"auto"``, ``"ray://head:10001"``, ...; it overrides one the
    ``runtime`` function returns).
    """

    model_config = SettingsConfigDict(env_prefix="FLOWSTONE_", extra="forbid")

    pipeline: str | None = None
    storage: str | None = None
    base_dir: str = ".flowstone"
    runtime: str | None = None
    ray_address: str | None = None
    python_path: list[str] = Field(default_factory=lambda: ["."])
    ui: dict[str, Any] = Field(default_factory=dict)  # [flowstone.ui]: see `flowstone ui`
    root: Path = Path()


def find_config(start: Path) -> Path | None:
    """Return the nearest ``flowstone.toml`` at or above ``start``."""
    for folder in [start, *start.parents]:
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_settings(config: Path | None, overrides: dict[str, Any]) -> Settings:
    """Read the config file (if any), then the environment, then ``overrides``."""
    path = config or find_config(Path.cwd())
    values: dict[str, Any] = {}
    root = Path.cwd()
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read {path}: {exc}") from exc
        values = dict(data.get("flowstone", data.get("tool", {}).get("flowstone", {})))
        root = path.parent
    env = Settings()  # environment variables only
    for key in env.model_fields_set:
        values[key] = getattr(env, key)
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["root"] = root
    try:
        return Settings(**values)
    except Exception as exc:
        raise ConfigurationError(f"invalid FlowStone configuration in {path}: {exc}") from exc


def import_object(spec: str, root: Path, python_path: list[str]) -> Any:
    """Import ``"package.module:attribute"`` with ``python_path`` entries on ``sys.path``."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigurationError(
            f"expected 'module:attribute' (e.g. 'my_project.pipeline:pipeline'), got {spec!r}"
        )
    for entry in python_path:
        folder = str((root / entry).resolve())
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"cannot import {module_name!r} for {spec!r}: {exc}; check `pipeline` in "
            f"{CONFIG_NAME} and `python_path` (searched: {python_path})"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigurationError(f"module {module_name!r} has no attribute {attr!r}") from None
