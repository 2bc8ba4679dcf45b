"""A small project for the dashboard tests: a pipeline, a SQLite store with some history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import flowstone as fs
from flowstone.web import Authenticator, Credential, User, create_app

OPERATOR, VIEWER = "operator-token-1", "viewer-token-1"
DAYS = fs.DailyPartitions(start="2024-01-01", end="2024-01-31")


def make_pipeline() -> fs.Pipeline:
    pipeline = fs.Pipeline("webtest")

    @pipeline.asset(partitioned_by=DAYS)
    def raw(context: fs.AssetContext) -> int:
        return int(context.partition.day)

    @pipeline.asset(depends_on=["raw"], partitioned_by=DAYS)
    def clean(context: fs.AssetContext, raw: int) -> int:
        context.log.info("cleaning day %d", context.partition.day)
        if context.partition.day == 13:
            raise RuntimeError("unlucky day")
        return raw

    @pipeline.asset()
    def config(context: fs.AssetContext) -> int:
        return 1

    @pipeline.checkpoint(
        depends_on=["raw"], message=lambda context, raw: f"Publish {context.partition}?"
    )
    def reviewed(context: fs.AssetContext, raw: int) -> int:
        return raw

    @pipeline.asset(depends_on=["reviewed"], partitioned_by=DAYS)
    def published(context: fs.AssetContext, reviewed: int) -> int:
        return reviewed

    pipeline.schedule("nightly", asset="raw", cron="0 2 * * *")

    @pipeline.sensor(interval=30)
    def watch(context: object) -> None:
        return None

    return pipeline


def auth() -> Authenticator:
    return Authenticator(
        [Credential(OPERATOR, User("olga", "operator")), Credential(VIEWER, User("vic", "viewer"))],
        secret="test-secret" * 4,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A store where clean was backfilled for 2024-01-10..15 (the 13th failed)."""
    with fs.Runtime(
        make_pipeline(), storage=f"sqlite:///{tmp_path}/fs.db", base_dir=tmp_path
    ) as rt:
        rt.backfill("clean", DAYS.range("2024-01-10", "2024-01-15"))
    return tmp_path


@pytest.fixture
def client(project: Path) -> Iterator[TestClient]:
    runtime = fs.AsyncRuntime(
        make_pipeline(), storage=f"sqlite:///{project}/fs.db", base_dir=project
    )
    app = create_app(runtime, auth(), interval=0.02)
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def sign_in(client: TestClient, token: str) -> str:
    """Sign in through the form; return the session's CSRF token."""
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303
    return str(client.get("/api/me").json()["csrf"])
