"""A real S3 endpoint for tests: moto's standalone server over HTTP on 127.0.0.1.

One ``moto.server`` process is started per test session (in its own process, so a 100 MB
upload does not fight the tests for the GIL) and stopped at the end. Tests use it through
these fixtures (import them into a test module or a ``conftest.py``)::

    from tests.s3_server import s3_bucket, s3_endpoint, s3_server  # noqa: F401

- ``s3_server``: the running :class:`MotoServer` (endpoint, bucket creation, IAM checks).
- ``s3_endpoint``: its URL, ``http://127.0.0.1:<port>``.
- ``s3_bucket``: a fresh, empty bucket for the test.
- ``s3_enforced_credentials``: IAM authentication switched on for the test; yields a valid
  ``(access_key_id, secret_access_key)`` pair that moto's IAM knows.
- ``s3_faulty_proxy``: a :class:`FaultyProxy` in front of the server (async, per test) that
  answers chosen requests with throttling or server errors, for retry tests.

While the session runs, ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_DEFAULT_REGION`` hold dummy values and ``AWS_CONFIG_FILE`` /
``AWS_SHARED_CREDENTIALS_FILE`` point nowhere, so a developer's own AWS setup can never leak
into a test. ``AWS_ENDPOINT_URL`` is *not* set: code under test gets the endpoint explicitly
unless a test sets the variable itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/flowstone-tests/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/flowstone-tests/aws-credentials",
}
# Variables that would redirect or authenticate clients behind the tests' back.
SCRUBBED_ENV = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")

_START_TIMEOUT = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """A ``moto.server`` subprocess listening on 127.0.0.1 (internal to the test suite)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            prefix="moto-server-", suffix=".log", delete=False
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._iam_user: tuple[str, str] | None = None
        self._clients: dict[tuple[str, str, str], Any] = {}

    def start(self) -> None:
        """Start the server and wait until it answers HTTP (or fail with its log)."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **DUMMY_ENV},
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            with contextlib.suppress(OSError):
                self._moto_api("GET", "/moto-api/data.json")
                return
            # A readiness probe of a child process, not test synchronisation.
            time.sleep(0.05)
        self.stop()
        log = Path(self._log.name).read_text(errors="replace")[-2000:]
        raise RuntimeError(f"moto server did not start on {self.endpoint_url}:\n{log}")

    def stop(self) -> None:
        """Stop the server process, close the clients and remove the log."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def _moto_api(self, method: str, path: str, body: bytes | None = None) -> Any:
        # A raw body: werkzeug would parse a form-encoded one away from moto's view.
        headers = {"Content-Type": "application/octet-stream"}
        request = urllib.request.Request(
            self.endpoint_url + path, data=body, method=method, headers=headers
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read() or b"null")

    def client(self, service: str = "s3", **credentials: str) -> Any:
        """A synchronous botocore client on this server, for arranging test state."""
        import boto3

        key_id = credentials.get("access_key_id", "testing")
        secret = credentials.get("secret_access_key", "testing")
        cache_key = (service, key_id, secret)
        if cache_key not in self._clients:  # creating a client costs ~0.3 s
            self._clients[cache_key] = boto3.session.Session().client(
                service,
                endpoint_url=self.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
            )
        return self._clients[cache_key]

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a unique name by default) and return its name."""
        name = name or f"test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def iam_user(self) -> tuple[str, str]:
        """Create (once) an IAM user allowed everything; return its access key pair."""
        if self._iam_user is None:
            iam = self.client("iam")
            iam.create_user(UserName="flowstone-tests")
            policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
            iam.put_user_policy(
                UserName="flowstone-tests",
                PolicyName="everything",
                PolicyDocument=json.dumps(policy),
            )
            key = iam.create_access_key(UserName="flowstone-tests")["AccessKey"]
            self._iam_user = (key["AccessKeyId"], key["SecretAccessKey"])
        return self._iam_user

    @contextlib.contextmanager
    def enforced_credentials(self) -> Iterator[tuple[str, str]]:
        """Check signatures and access keys against moto's IAM while the block runs."""
        user = self.iam_user()
        self._moto_api("POST", "/moto-api/reset-auth", b"0")
        try:
            yield user
        finally:
            self._moto_api("POST", "/moto-api/reset-auth", b"inf")


_ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>injected by FaultyProxy</Message>"
    "<RequestId>faulty-proxy</RequestId></Error>"
)
# Hop-by-hop and framing headers: the proxy's own HTTP stack sets them.
_NOT_FORWARDED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


@dataclass
class Fault:
    """Answer up to ``times`` requests matching ``when`` with ``status`` / ``code``."""

    when: Callable[[web.Request], bool]
    status: int = 503
    code: str = "SlowDown"
    times: float = float("inf")
    used: int = 0


@dataclass
class FaultyProxy:
    """An HTTP proxy in front of the moto server that fails chosen requests.

    Requests reach the real server unless a registered :class:`Fault` matches; every request
    is recorded as ``(method, path_qs, status)`` in ``requests``.
    """

    upstream: str
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    endpoint_url: str = ""

    def fail(
        self,
        *,
        times: float = float("inf"),
        status: int = 503,
        code: str = "SlowDown",
        when: Callable[[web.Request], bool] = lambda request: True,
    ) -> Fault:
        """Register a fault and return it (``fault.used`` counts the requests it failed)."""
        fault = Fault(when, status, code, times)
        self.faults.append(fault)
        return fault

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        for fault in self.faults:
            if fault.used < fault.times and fault.when(request):
                fault.used += 1
                await request.read()
                self.requests.append((request.method, request.path_qs, fault.status))
                body = b"" if request.method == "HEAD" else _ERROR_BODY.format(code=fault.code)
                return web.Response(status=fault.status, body=body, content_type="application/xml")
        return await self._forward(request)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method,
                self.upstream + request.path_qs,
                headers=headers,
                data=await request.read(),
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            ) as upstream,
        ):
            body = await upstream.read()
            self.requests.append((request.method, request.path_qs, upstream.status))
            response = web.Response(status=upstream.status, body=body)
            for name, value in upstream.headers.items():
                if name.lower() not in _NOT_FORWARDED:
                    response.headers[name] = value
            if request.method == "HEAD" and "Content-Length" in upstream.headers:
                response.headers["Content-Length"] = upstream.headers["Content-Length"]
            return response


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoServer]:
    """The session's moto server, with dummy AWS credentials in the environment."""
    saved = {name: os.environ.get(name) for name in (*DUMMY_ENV, *SCRUBBED_ENV)}
    os.environ.update(DUMMY_ENV)
    for name in SCRUBBED_ENV:
        os.environ.pop(name, None)
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def s3_endpoint(s3_server: MotoServer) -> str:
    """The endpoint URL of the session's moto server."""
    return s3_server.endpoint_url


@pytest.fixture
def s3_bucket(s3_server: MotoServer) -> str:
    """A fresh, empty bucket for one test."""
    return s3_server.create_bucket()


@pytest.fixture
def s3_enforced_credentials(s3_server: MotoServer) -> Iterator[tuple[str, str]]:
    """Switch IAM authentication on for one test; yields a valid access key pair."""
    with s3_server.enforced_credentials() as user:
        yield user


@pytest.fixture
async def s3_faulty_proxy(s3_server: MotoServer) -> AsyncIterator[FaultyProxy]:
    """A :class:`FaultyProxy` on 127.0.0.1 in front of the session's moto server."""
    proxy = FaultyProxy(s3_server.endpoint_url)
    app = web.Application(client_max_size=1024**3)
    app.router.add_route("*", "/{tail:.*}", proxy._handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    proxy.endpoint_url = f"http://127.0.0.1:{port}"
    try:
        yield proxy
    finally:
        await runner.cleanup()


__all__ = (
    "Fault",
    "FaultyProxy",
    "MotoServer",
    "s3_bucket",
    "s3_endpoint",
    "s3_enforced_credentials",
    "s3_faulty_proxy",
    "s3_server",
)
