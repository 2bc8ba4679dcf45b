"""A PostgreSQL write is one round trip: a chain of assets waits for each record to be
durable, so every request to the server and its reply is paid once per step.

Counted from outside, by a TCP relay between the store and the server: a round trip is a
request (the client speaking after the server, or first) followed by the reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from urllib.parse import urlsplit, urlunsplit

import pytest

from flowstone.storage import PostgresStorage
from flowstone.tenancy import tenant_scope
from tests.flowstone.storage.contract_ranges import NumberedKeys
from tests.flowstone.storage.records import batch, mat, run
from tests.pg import database_fixture

pytestmark = pytest.mark.postgres

pg_url = database_fixture()


class Relay:
    """Forwards connections to a PostgreSQL server and counts the requests sent over them."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 5432
        self._parts = parts
        self.requests = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        """Listen on a free port; return the URL that reaches the server through it."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        user = self._parts.netloc.rpartition("@")[0]
        netloc = f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}"
        return urlunsplit(self._parts._replace(netloc=netloc))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        server, to_server = await asyncio.open_connection(self._host, self._port)
        turn = ["server"]  # who spoke last on this connection

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, side: str) -> None:
            while data := await source.read(65536):
                if side == "client" and turn[0] != "client":
                    self.requests += 1
                turn[0] = side
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(
            pipe(client, to_server, "client"),
            pipe(server, to_client, "server"),
            return_exceptions=True,
        )


@pytest.fixture
async def relay(pg_url: str) -> AsyncIterator[tuple[Relay, str]]:
    counting = Relay(pg_url)
    url = await counting.start()
    yield counting, url
    await counting.close()


async def requests_for(relay: Relay, call: Awaitable[None]) -> int:
    """Return how many requests ``call`` sent to the server."""
    before = relay.requests
    await call
    return relay.requests - before


async def test_writing_one_record_is_one_round_trip(relay: tuple[Relay, str]) -> None:
    counting, url = relay
    async with PostgresStorage(url, max_size=1) as store:
        store.order_partitions("clean", NumberedKeys())
        await store.rebuild_partition_ranges("clean")
        await store.write(batch(run("r1", status="running")))  # prepares the statement
        one = mat("clean", "p1", inputs=[("raw", "p1")])
        assert await requests_for(counting, store.write(batch(one))) == 1
        assert await requests_for(counting, store.write(batch(run("r1")))) == 1
        records = [mat("clean", f"p{n}", run="r2", inputs=[("raw", f"p{n}")]) for n in range(20)]
        assert await requests_for(counting, store.write(batch(run("r2"), *records))) == 1
        assert [c.kind for c in await store.changes()][-2:] == ["materialization"] * 2
        assert (await store.latest_statuses("clean")).keys() == {f"p{n}" for n in range(20)}


async def test_a_tenants_write_is_one_round_trip_too(relay: tuple[Relay, str]) -> None:
    counting, url = relay
    async with PostgresStorage(url, max_size=1) as store:
        with tenant_scope("acme"):
            await store.write(batch(mat("raw", "a", tenant="acme")))
            record = mat("raw", "b", tenant="acme")
            assert await requests_for(counting, store.write(batch(record))) == 1
            assert await store.latest_statuses("raw") == {"a": "succeeded", "b": "succeeded"}
