"""Capture over HTTP: acceptance, refusal, idempotency, authorisation, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.conftest import PARTNER_KEY, WEBSITE_KEY, create_users

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.store import models as m

GOOD = {"first_name": "asha ", "phone": "098123 45678", "city": "Mumbai", "product": "health",
        "email": "Asha@Example.COM"}


@pytest.fixture
def client(workspace: App) -> Iterator[TestClient]:
    with TestClient(create_app(app=workspace, worker=False)) as c:
        yield c


def post(client: TestClient, body: object, key: str = WEBSITE_KEY, **headers: str):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/v1/leads", content=data,
                       headers={"Authorization": f"Bearer {key}",
                                "Content-Type": "application/json", **headers})


def count_leads(app: App, status: str | None = None) -> int:
    with app.reader() as uow:
        q = select(func.count()).select_from(m.Lead)
        if status:
            q = q.where(m.Lead.status == status)
        return uow.session.scalar(q) or 0


def test_lead_is_stored_and_assigned_by_round_robin(client: TestClient, workspace: App) -> None:
    got = [post(client, {**GOOD, "phone": f"+91 98123 4{i:04d}", "email": f"x{i}@ex.com"})
           for i in range(8)]
    assert [r.status_code for r in got] == [201] * 8
    assignees = [r.json()["assignee"]["key"] for r in got]
    assert assignees == ["a1", "a2", "a3", "a4", "a1", "a2", "a3", "a4"]
    assert got[0].json()["status"] == "assigned"
    assert count_leads(workspace, "assigned") == 8


def test_lead_matching_no_rule_waits_in_the_unassigned_queue(client: TestClient) -> None:
    r = post(client, {**GOOD, "city": "Pune"})
    assert r.status_code == 201
    assert r.json()["status"] == "unassigned"
    assert r.json()["assignee"] is None
    assert r.json()["queue"] == "unassigned"


def test_refused_lead_gets_reason_per_field_and_is_recorded(client: TestClient,
                                                            workspace: App) -> None:
    r = post(client, {"phone": "12", "product": "car", "city": "Mumbai"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    codes = {(x["field"], x["code"]) for x in body["reasons"]}
    assert ("first_name", "required") in codes
    assert ("product", "invalid_value") in codes
    assert body["code"] == "lead_rejected"
    assert count_leads(workspace, "rejected") == 1
    with workspace.reader() as uow:
        lead = uow.session.get(m.Lead, body["lead_id"])
        assert lead is not None and lead.status == "rejected"
        assert {x["code"] for x in lead.reasons} >= {"required", "invalid_value"}


def test_idempotency_key_replays_first_answer_without_second_lead(client: TestClient,
                                                                   workspace: App) -> None:
    first = post(client, GOOD, **{"Idempotency-Key": "k-1"})
    again = post(client, GOOD, **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert count_leads(workspace) == 1


def test_idempotency_key_with_another_body_is_refused(client: TestClient,
                                                      workspace: App) -> None:
    assert post(client, GOOD, **{"Idempotency-Key": "k-2"}).status_code == 201
    r = post(client, {**GOOD, "first_name": "Other"}, **{"Idempotency-Key": "k-2"})
    assert r.status_code == 409
    assert r.json()["code"] == "idempotency_conflict"
    assert count_leads(workspace) == 1


def test_idempotency_keys_are_per_source(client: TestClient, workspace: App) -> None:
    assert post(client, GOOD, **{"Idempotency-Key": "same"}).status_code == 201
    r = post(client, {**GOOD, "email": "other@ex.com", "phone": "+91 99999 11111"},
             key=PARTNER_KEY, **{"Idempotency-Key": "same"})
    assert r.status_code == 201
    assert count_leads(workspace) == 2


def test_idempotency_key_expires_after_the_ttl(client: TestClient, workspace: App) -> None:
    assert post(client, GOOD, **{"Idempotency-Key": "old"}).status_code == 201
    workspace.clock.advance(hours=25)  # type: ignore[attr-defined]
    r = post(client, {**GOOD, "email": "new@ex.com", "phone": "+91 99999 22222"},
             **{"Idempotency-Key": "old"})
    assert r.status_code == 201
    assert count_leads(workspace) == 2


def test_source_key_cannot_read_leads(client: TestClient) -> None:
    post(client, GOOD)
    for path in ("/v1/leads", "/v1/leads/1", "/v1/agents", "/v1/config"):
        r = client.get(path, headers={"Authorization": f"Bearer {WEBSITE_KEY}"})
        assert r.status_code == 403, path
        assert r.json()["code"] == "forbidden"


def test_agent_sees_only_their_own_leads(client: TestClient, workspace: App) -> None:
    tokens = create_users(workspace)
    ids = [post(client, {**GOOD, "phone": f"+91 98123 5{i:04d}", "email": f"y{i}@ex.com"})
           .json()["id"] for i in range(4)]  # a1, a2, a3, a4
    a1 = {"Authorization": f"Bearer {tokens['a1']}"}
    listed = client.get("/v1/leads", headers=a1).json()
    assert [x["id"] for x in listed["items"]] == [ids[0]]
    assert client.get(f"/v1/leads/{ids[0]}", headers=a1).status_code == 200
    other = client.get(f"/v1/leads/{ids[1]}", headers=a1)
    assert other.status_code == 404
    boss = {"Authorization": f"Bearer {tokens['manager']}"}
    assert client.get("/v1/leads", headers=boss).json()["total"] == 4


def test_lead_detail_has_timeline_and_trace(client: TestClient, workspace: App) -> None:
    tokens = create_users(workspace)
    lead_id = post(client, GOOD).json()["id"]
    d = client.get(f"/v1/leads/{lead_id}",
                   headers={"Authorization": f"Bearer {tokens['manager']}"}).json()
    assert [e["type"] for e in d["timeline"]][:4] == ["received", "qualified", "assigned"][:4] \
        or [e["type"] for e in d["timeline"]][:3] == ["received", "qualified", "assigned"]
    assert d["decision"]["rule"] == "Mumbai"
    assert d["decision"]["summary"]
    trace = d["decision"]["trace"]  # the stored compact form
    assert trace["missed"] == [] and trace["summary"] == d["decision"]["summary"]
    assert [(r["name"], r["placed"]) for r in trace["rules"]] == [("Mumbai", True)]
    assert len(trace["rules"][0]["eligible"]) == 1
    assert d["values"]["phone"] == "+919812345678"
    assert d["values"]["email"] == "asha@example.com"
    assert d["raw"]["first_name"] == "asha "


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "malformed_json"),
        (b"", "malformed_json"),
        (b"[1, 2]", "invalid_body"),
        (b'"text"', "invalid_body"),
        (json.dumps({**GOOD, "nested": {"a": 1}}).encode(), "invalid_body"),
        (b"\xff\xfe garbage", "malformed_json"),
    ],
)
def test_bad_bodies_get_a_clear_4xx(client: TestClient, body: bytes, code: str) -> None:
    r = post(client, body)
    assert 400 <= r.status_code < 500
    assert r.json()["code"] == code
    assert r.headers["content-type"].startswith("application/problem+json")


def test_unknown_field_is_refused_by_default(client: TestClient) -> None:
    r = post(client, {**GOOD, "favourite_colour": "blue"})
    assert r.status_code == 422
    assert {x["code"] for x in r.json()["reasons"]} == {"unknown_field"}


def test_wrong_type_is_refused(client: TestClient) -> None:
    r = post(client, {**GOOD, "company_size": "lots"})
    assert r.status_code == 422
    assert ("company_size", "invalid_type") in {(x["field"], x["code"])
                                                for x in r.json()["reasons"]}


def test_oversized_body_is_refused_with_413(client: TestClient) -> None:
    r = post(client, {**GOOD, "first_name": "x" * (1024 * 1024 + 10)})
    assert r.status_code == 413
    assert r.json()["code"] == "body_too_large"


@pytest.mark.parametrize("header", [{}, {"Authorization": "Bearer nope"},
                                    {"X-API-Key": "lg_src_wrong"},
                                    {"Authorization": "Basic abc"}])
def test_bad_or_missing_key_is_401(client: TestClient, header: dict[str, str]) -> None:
    r = client.post("/v1/leads", json=GOOD, headers=header)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"


def test_x_api_key_header_works(client: TestClient) -> None:
    r = client.post("/v1/leads", json=GOOD, headers={"X-API-Key": WEBSITE_KEY})
    assert r.status_code == 201


def test_user_token_cannot_submit_leads(client: TestClient, workspace: App) -> None:
    tokens = create_users(workspace)
    r = post(client, GOOD, key=tokens["manager"])
    assert r.status_code == 403


def test_bad_query_parameters_are_422_not_500(client: TestClient, workspace: App) -> None:
    tokens = create_users(workspace)
    h = {"Authorization": f"Bearer {tokens['manager']}"}
    assert client.get("/v1/leads?limit=0", headers=h).status_code == 422
    assert client.get("/v1/leads?since=yesterday", headers=h).status_code == 422
    assert client.get("/v1/leads?status=bogus", headers=h).status_code == 422
    assert client.get("/v1/leads/abc", headers=h).status_code == 422
    assert client.get("/v1/leads/999999", headers=h).status_code == 404


def test_form_post_redirects_to_thank_you_page(client: TestClient, workspace: App) -> None:
    r = client.post("/f/web-form", data={**GOOD, "phone": "+91 98123 77777"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("https://example.com/thanks?lead=")
    assert count_leads(workspace, "assigned") == 1
    bad = client.post("/f/web-form", data={"city": "Mumbai"}, follow_redirects=False)
    assert bad.status_code == 303
    assert "error=lead_rejected" in bad.headers["location"]
    assert client.post("/f/nope", data=GOOD).status_code == 404


def test_agent_status_change_is_respected_by_round_robin(client: TestClient,
                                                         workspace: App) -> None:
    tokens = create_users(workspace)
    boss = {"Authorization": f"Bearer {tokens['manager']}"}
    r = client.put("/v1/agents/a2/status", json={"status": "away"}, headers=boss)
    assert r.status_code == 200 and r.json()["status"] == "away"
    got = [post(client, {**GOOD, "phone": f"+91 98123 6{i:04d}", "email": f"z{i}@ex.com"})
           .json()["assignee"]["key"] for i in range(6)]
    assert "a2" not in got
    # an agent may not change another agent's status
    a1 = {"Authorization": f"Bearer {tokens['a1']}"}
    assert client.put("/v1/agents/a3/status", json={"status": "away"},
                      headers=a1).status_code == 403
    assert client.put("/v1/agents/a1/status", json={"status": "sleeping"},
                      headers=a1).status_code == 422


def test_openapi_document_is_served(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "/v1/leads" in doc["paths"]
    assert "post" in doc["paths"]["/v1/leads"]
    assert client.get("/docs").status_code == 200
