"""The dashboard's JSON API, in process: sign-in, roles, CSRF and what each endpoint shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import flowstone as fs
from flowstone.web import create_app
from tests.flowstone.web.conftest import OPERATOR, VIEWER, auth, make_pipeline, sign_in

BEARER = {"Authorization": f"Bearer {OPERATOR}"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/me",
        "/api/overview",
        "/api/assets",
        "/api/assets/clean",
        "/api/runs",
        "/api/supervision",
        "/api/lineage?asset=clean",
    ],
)
def test_without_a_valid_token_the_api_shows_nothing(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    client.cookies.set("flowstone_session", "forged.value")
    assert client.get(path).status_code == 401


def test_pages_send_strangers_to_the_sign_in_form(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    refused = client.post("/login", data={"token": "not-a-token"}, follow_redirects=False)
    assert refused.status_code == 401
    assert "not accepted" in refused.text
    assert "not-a-token" not in refused.text


def test_the_websocket_refuses_strangers(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws") as ws:
        ws.receive_json()
    assert closed.value.code == 4401


def test_a_viewer_reads_but_cannot_act(client: TestClient) -> None:
    csrf = sign_in(client, VIEWER)
    assert client.get("/api/me").json()["role"] == "viewer"
    assert client.get("/api/overview").status_code == 200
    refused = client.post("/api/assets/config/materialize", json={}, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403
    assert "viewer and cannot act" in refused.json()["error"]
    decide = client.post("/api/approvals/a1/approve", headers={"X-CSRF-Token": csrf})
    assert decide.status_code == 403


def test_a_browser_session_must_send_its_csrf_token_to_act(client: TestClient) -> None:
    csrf = sign_in(client, OPERATOR)
    for headers in ({}, {"X-CSRF-Token": "wrong"}):
        refused = client.post("/api/runs/r1/cancel", headers=headers)
        assert refused.status_code == 403
        assert refused.json() == {"error": "missing or wrong CSRF token"}
    accepted = client.post("/api/runs/r1/cancel", headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200
    assert accepted.json()["cancelled"] is False


def test_a_bearer_token_needs_no_csrf_token(client: TestClient) -> None:
    response = client.post("/api/runs/r1/cancel", headers=BEARER)
    assert response.status_code == 200


def test_the_session_cookie_is_http_only_and_same_site_strict(client: TestClient) -> None:
    response = client.post("/login", data={"token": OPERATOR}, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


def test_the_asset_page_data_has_the_health_ranges_and_attempts(client: TestClient) -> None:
    data = client.get("/api/assets/clean", headers=BEARER).json()
    assert data["status"]["counts"] == {
        "succeeded": 5,
        "failed": 1,
        "running": 0,
        "waiting": 0,
        "missing": 25,
    }
    assert data["status"]["runs"] == [4, 9, 0, 3, 1, 1, 0, 2, 4, 16]
    failed = [m for m in data["materializations"] if m["status"] == "failed"]
    assert failed[0]["partition"] == "2024-01-13"
    assert failed[0]["error"]["message"] == "unlucky day"
    assert data["deps"] == ["raw"]
    hovered = client.get("/api/assets/clean/partition?ordinal=12", headers=BEARER).json()
    assert hovered["key"] == "2024-01-13"
    assert hovered["materializations"][0]["status"] == "failed"


def test_the_graph_lists_every_asset_with_its_counts(client: TestClient) -> None:
    nodes = client.get("/api/assets", headers=BEARER).json()["nodes"]
    by_name = {n["name"]: n for n in nodes}
    assert sorted(by_name) == ["clean", "config", "published", "raw", "reviewed"]
    assert by_name["raw"]["counts"]["succeeded"] == 6
    assert by_name["config"]["total"] == 1


def test_runs_and_a_run_with_its_attempts(client: TestClient) -> None:
    runs = client.get("/api/runs?status=failed", headers=BEARER).json()
    assert [r["partition"] for r in runs] == ["2024-01-13"]
    detail = client.get(f"/api/runs/{runs[0]['run_id']}", headers=BEARER).json()
    assert sorted((m["asset"], m["status"]) for m in detail["materializations"]) == [
        ("clean", "failed"),
        ("raw", "succeeded"),  # the backfill ran the upstream partition in the same run
    ]
    (line,) = detail["logs"]
    assert (line["asset"], line["partition"], line["message"]) == (
        "clean", "2024-01-13", "cleaning day 13",
    )  # fmt: skip
    assert client.get("/api/runs/nope", headers=BEARER).status_code == 404


def test_the_overview_shows_failures_and_open_gates(client: TestClient) -> None:
    data = client.get("/api/overview", headers=BEARER).json()
    assert data["recent_failures"][0]["error"]["message"] == "unlucky day"
    assert data["approvals"] == {"wired": True, "items": [], "note": None}


def test_lineage_is_paged(client: TestClient) -> None:
    page = client.get(
        "/api/lineage?asset=clean&partition=2024-01-11&limit=1", headers=BEARER
    ).json()
    assert (page["total"], page["entries"]) == (
        1,
        [{"asset": "raw", "partition": "2024-01-11", "depth": 1}],
    )
    down = client.get(
        "/api/lineage?asset=raw&partition=2024-01-11&direction=down", headers=BEARER
    ).json()
    assert [e["asset"] for e in down["entries"]] == ["clean"]


def test_an_unknown_asset_is_a_404_with_a_suggestion(client: TestClient) -> None:
    response = client.get("/api/assets/clen", headers=BEARER)
    assert response.status_code == 404
    assert "clean" in response.json()["error"]


def test_the_supervision_tree_comes_from_the_supervisors_api(client: TestClient) -> None:
    tree = client.get("/api/supervision", headers=BEARER).json()["tree"]
    assert tree["type"] == "supervisor"
    assert {c["id"] for c in tree["children"]} >= {"lineage", "runs"}
    assert tree["total_restarts"] == 0


def test_an_operator_materializes_and_the_websocket_reports_it(
    client: TestClient, project: Path
) -> None:
    csrf = sign_in(client, OPERATOR)
    with client.websocket_connect("/ws") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello"
        started = client.post(
            "/api/assets/config/materialize", json={}, headers={"X-CSRF-Token": csrf}
        )
        assert started.status_code == 202
        seen: dict[str, str] = {}
        while "config" not in seen:
            message = ws.receive_json()
            seen.update({name: d["status"] for name, d in message["assets"].items()})
            assert message["last_id"] > hello["last_id"]
    assert seen["config"] == "succeeded"


def test_a_reconnecting_browser_catches_up_from_its_last_event_id(client: TestClient) -> None:
    with client.websocket_connect("/ws?after=0", headers=BEARER) as ws:
        assert ws.receive_json()["type"] == "hello"
        caught_up = ws.receive_json()
    assert caught_up["type"] == "changes"
    assert set(caught_up["assets"]) == {"raw", "clean"}
    assert caught_up["assets"]["clean"]["changed"] == 6


def test_an_operator_approves_a_gate_as_herself_and_the_run_resumes(project: Path) -> None:
    storage = f"sqlite:///{project}/fs.db"
    with fs.Runtime(make_pipeline(), storage=storage, base_dir=project) as rt:
        waiting = rt.materialize_all("published", "2024-01-05")
    assert waiting.status == "waiting"
    runtime = fs.AsyncRuntime(make_pipeline(), storage=storage, base_dir=project)
    with TestClient(create_app(runtime, auth(), interval=0.02)) as client:
        csrf = sign_in(client, OPERATOR)
        [gate] = client.get("/api/approvals").json()["items"]
        assert (gate["checkpoint"], gate["partition"], gate["message"]) == (
            "reviewed",
            "2024-01-05",
            "Publish 2024-01-05?",
        )
        with client.websocket_connect("/ws") as ws:
            ws.receive_json()
            decided = client.post(
                f"/api/approvals/{gate['id']}/approve", json={}, headers={"X-CSRF-Token": csrf}
            )
            assert (decided.status_code, decided.json()["decided_by"]) == (200, "olga")
            status = ""
            while status != "succeeded":
                message = ws.receive_json()
                for r in message["runs"]:
                    if r["run_id"] == waiting.run_id:
                        status = r["status"]
        again = client.post(
            f"/api/approvals/{gate['id']}/reject",
            json={"reason": "too late"},
            headers={"X-CSRF-Token": csrf},
        )
        assert again.status_code == 409
        assert client.get("/api/approvals").json()["items"] == []


def test_the_supervision_page_shows_trees_other_runtimes_published(
    client: TestClient, project: Path
) -> None:
    storage = f"sqlite:///{project}/fs.db"
    with fs.Runtime(make_pipeline(), storage=storage, base_dir=project) as other:
        other._call(other.aio.tree_reporter.report())
        data = client.get("/api/supervision", headers=BEARER).json()
        [published] = data["runtimes"]
        assert published["id"] == other.aio.tree_reporter.id
        assert {c["id"] for c in published["tree"]["children"]} >= {"lineage", "runs"}


def test_schedules_and_sensors_with_their_state_and_an_operator_switches_one(
    client: TestClient,
) -> None:
    data = client.get("/api/automation", headers=BEARER).json()
    assert [(i["kind"], i["name"], i["enabled"]) for i in data["items"]] == [
        ("schedule", "nightly", True),
        ("sensor", "watch", True),
    ]
    assert data["items"][0]["definition"] == "raw @ 0 2 * * * UTC (latest)"
    off = client.post("/api/automation/schedule/nightly/off", headers=BEARER)
    assert off.json() == {"kind": "schedule", "name": "nightly", "enabled": False, "by": "olga"}
    assert not client.get("/api/automation", headers=BEARER).json()["items"][0]["enabled"]
    assert client.post("/api/automation/schedule/nope/on", headers=BEARER).status_code == 404
    viewer = {"Authorization": f"Bearer {VIEWER}"}
    assert client.post("/api/automation/sensor/watch/off", headers=viewer).status_code == 403
