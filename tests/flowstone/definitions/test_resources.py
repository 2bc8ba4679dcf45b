"""Resources: set up once, torn down in reverse, and only declared ones reach an asset."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict

import flowstone as fs
from flowstone.definitions._resources import ResourceManager
from flowstone.errors import ResourceError, ResourceNotDeclared


class Client:
    """A stand-in for a database client that records its life."""

    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name
        log.append(f"open {name}")

    def close(self) -> None:
        self.log.append(f"close {self.name}")


def asset_using(*resources: str) -> fs.AssetDefinition:
    pipeline = fs.Pipeline("p")
    return pipeline.asset(name="user", resources=list(resources))(lambda context: None)


async def test_definitions_are_set_up_once_and_torn_down_in_reverse_order() -> None:
    log: list[str] = []

    @contextmanager
    def managed() -> Iterator[Client]:
        client = Client(log, "managed")
        yield client
        client.close()

    @asynccontextmanager
    async def async_managed() -> AsyncIterator[Client]:
        client = Client(log, "async_managed")
        yield client
        client.close()

    def generator() -> Iterator[Client]:
        client = Client(log, "generator")
        yield client
        client.close()

    async def async_generator() -> AsyncIterator[Client]:
        client = Client(log, "async_generator")
        yield client
        client.close()

    async def async_setup() -> Client:
        return Client(log, "async_setup")

    manager = ResourceManager(
        {
            "plain": fs.ResourceDefinition(lambda: Client(log, "plain"), teardown=Client.close),
            "managed": fs.ResourceDefinition(managed),
            "async_managed": fs.ResourceDefinition(async_managed),
            "generator": fs.ResourceDefinition(generator),
            "async_generator": fs.ResourceDefinition(async_generator),
            "async_setup": fs.ResourceDefinition(async_setup, teardown=Client.close),
        }
    )
    async with manager:
        names = ["plain", "managed", "async_managed", "generator", "async_generator", "async_setup"]
        assert log == [f"open {n}" for n in names]
        resources = manager.for_asset(asset_using(*names))
        assert [resources[n].name for n in names] == names  # type: ignore[attr-defined]
        await manager.start()  # a second start sets nothing up again
        assert len(log) == len(names)
    assert log[len(names) :] == [f"close {n}" for n in reversed(names)]


async def test_plain_objects_are_used_as_they_are_and_never_torn_down() -> None:
    log: list[str] = []
    client = Client(log, "given")
    async with ResourceManager({"db": client}) as manager:
        assert manager.for_asset(asset_using("db"))["db"] is client
    assert log == ["open given"]


async def test_an_asset_sees_only_the_resources_it_declared() -> None:
    async with ResourceManager({"db": 1, "cache": 2, "api": 3}) as manager:
        resources = manager.for_asset(asset_using("db", "cache"))
        assert dict(resources) == {"db": 1, "cache": 2}
        assert repr(resources) == "<resources of 'user': 'cache', 'db'>"
        with pytest.raises(ResourceNotDeclared) as caught:
            resources["api"]
        assert str(caught.value) == (
            "asset 'user' did not declare resource 'api'; add resources=['api'] to its "
            "@pipeline.asset(...) to use it"
        )
        assert isinstance(caught.value, KeyError)
        with pytest.raises(KeyError) as missing:
            resources["dbb"]
        assert str(missing.value) == (
            "asset 'user' has no resource 'dbb' (did you mean 'db'?); it declares: 'cache', 'db'"
        )


async def test_a_failed_setup_names_the_resource_and_tears_down_the_others() -> None:
    log: list[str] = []

    def refuse() -> None:
        raise ConnectionRefusedError("port 5432")

    manager = ResourceManager(
        {
            "first": fs.ResourceDefinition(lambda: Client(log, "first"), teardown=Client.close),
            "broken": fs.ResourceDefinition(refuse),
            "never": fs.ResourceDefinition(lambda: Client(log, "never")),
        }
    )
    with pytest.raises(ResourceError) as caught:
        await manager.start()
    assert str(caught.value) == (
        "resource 'broken' failed to set up: ConnectionRefusedError: port 5432"
    )
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    assert caught.value.resource == "broken"
    assert log == ["open first", "close first"]


async def test_teardown_errors_are_logged_and_the_rest_still_torn_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []

    def explode(_: Any) -> None:
        raise RuntimeError("socket already closed")

    manager = ResourceManager(
        {
            "first": fs.ResourceDefinition(lambda: Client(log, "first"), teardown=Client.close),
            "second": fs.ResourceDefinition(lambda: "x", teardown=explode),
        }
    )
    await manager.start()
    with caplog.at_level(logging.ERROR, logger="flowstone.resources"):
        await manager.close()
    assert log == ["open first", "close first"]
    assert [r.getMessage() for r in caplog.records] == ["teardown of resource 'second' failed"]


async def test_a_declared_resource_that_is_missing_or_not_set_up_is_an_error() -> None:
    manager = ResourceManager({"db": fs.ResourceDefinition(lambda: 1)})
    with pytest.raises(ResourceError) as caught:
        manager.for_asset(asset_using("db"))
    assert str(caught.value) == (
        "resource 'db' of asset 'user' is not set up yet; await ResourceManager.start() first"
    )
    with pytest.raises(ResourceError) as caught:
        manager.for_asset(asset_using("dbb"))
    assert str(caught.value) == (
        "asset 'user' requires resource 'dbb', which is not provided (did you mean 'db'?); "
        "provided resources: 'db'"
    )


class WarehouseSettings(BaseSettings):
    """Settings read from WAREHOUSE_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="WAREHOUSE_")
    dsn: str
    pool_size: int = 4


async def test_pydantic_settings_configure_resources_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WAREHOUSE_DSN", "postgresql://warehouse/db")
    monkeypatch.setenv("WAREHOUSE_POOL_SIZE", "9")
    made: list[tuple[str, int]] = []

    def connect() -> tuple[str, int]:
        settings = WarehouseSettings()  # type: ignore[call-arg]
        made.append((settings.dsn, settings.pool_size))
        return made[-1]

    resources = {"settings": WarehouseSettings(), "warehouse": fs.ResourceDefinition(connect)}  # type: ignore[call-arg]
    async with ResourceManager(resources) as manager:
        seen = manager.for_asset(asset_using("settings", "warehouse"))
        assert seen["settings"].dsn == "postgresql://warehouse/db"  # type: ignore[attr-defined]
        assert seen["warehouse"] == ("postgresql://warehouse/db", 9)


def test_setup_and_teardown_must_be_callable() -> None:
    with pytest.raises(ResourceError, match=r"^ResourceDefinition setup must be callable, got 3$"):
        fs.ResourceDefinition(3)  # type: ignore[arg-type]
    with pytest.raises(ResourceError, match=r"^ResourceDefinition teardown must be callable"):
        fs.ResourceDefinition(lambda: 1, teardown="close")  # type: ignore[arg-type]
