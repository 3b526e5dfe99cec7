"""Flows over the API: drafts validated with a path, versions, restore, test a
lead without assigning it, simulate a draft against what happened."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.conftest import WEBSITE_KEY, create_users

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.store import models as m


@pytest.fixture
def api(workspace: App) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    tokens = create_users(workspace)
    with TestClient(create_app(app=workspace, worker=False)) as c:
        yield (c, {"Authorization": f"Bearer {tokens['manager']}"},
               {"Authorization": f"Bearer {tokens['a1']}"})


LEAST = {"rules": [{"name": "Mumbai", "when": {"field": "city", "eq": "Mumbai"},
                    "to": {"team": "mumbai", "method": "least_loaded"}}],
         "fallback": {"queue": "unassigned"}}


def post_leads(c: TestClient, n: int) -> list[dict]:
    out = []
    for i in range(n):
        r = c.post("/v1/leads", json={"first_name": "Asha", "phone": f"+91 98000 1{i:04d}",
                                      "city": "Mumbai"},
                   headers={"Authorization": f"Bearer {WEBSITE_KEY}"})
        assert r.status_code == 201
        out.append(r.json())
    return out


def test_bad_flow_is_refused_with_the_rule_and_operand(api) -> None:  # type: ignore[no-untyped-def]
    c, boss, _ = api
    bad = {"rules": [{"name": "x", "when": {"field": "city", "eqq": "Mumbai"},
                      "to": {"team": "mumbai", "method": "round_robin"}}]}
    r = c.put("/v1/flows/insurance", json=bad, headers=boss)
    assert r.status_code == 422
    body = r.json()
    assert any("rules[0].when" in e["path"] for e in body["errors"]), body
    assert c.get("/v1/flows/insurance", headers=boss).json()["published_version"] == 1
    r = c.put("/v1/flows/insurance", json={"rules": [{"name": "y", "to": {
        "agents": ["a1", "ghost"], "method": "round_robin"}}]}, headers=boss)
    assert r.status_code == 422 and "ghost" in r.text


def test_draft_publish_restore_and_audit(api, workspace: App) -> None:  # type: ignore[no-untyped-def]
    c, boss, _ = api
    r = c.put("/v1/flows/insurance", json=LEAST, headers=boss)
    assert r.status_code == 200
    assert r.json()["published_version"] == 1  # a draft is not live
    r = c.post("/v1/flows/insurance/publish", headers=boss)
    assert r.json()["published_version"] == 2
    lead = post_leads(c, 1)[0]
    with workspace.reader() as uow:
        row = uow.session.get(m.Lead, lead["id"])
        assert row is not None and row.flow_version == 2
        assert row.decision is not None and row.decision["method"] == "least_loaded"
    r = c.post("/v1/flows/insurance/restore", json={"version": 1}, headers=boss)
    assert r.json()["published_version"] == 3
    versions = r.json()["versions"]
    assert versions[2]["spec"] == versions[0]["spec"]
    with workspace.reader() as uow:
        actions = list(uow.session.scalars(select(m.AuditEntry.action).where(
            m.AuditEntry.entity == "flow", m.AuditEntry.entity_key == "insurance")))
    assert "restored" in actions and actions.count("published") >= 3
    assert c.post("/v1/flows/insurance/restore", json={"version": 9},
                  headers=boss).status_code == 404


def test_testing_a_lead_assigns_nothing_and_explains(api, workspace: App) -> None:  # type: ignore[no-untyped-def]
    c, boss, _ = api
    with workspace.reader() as uow:
        before = uow.session.scalar(select(func.count()).select_from(m.Assignment))
        state_before = uow.session.get(m.RoutingState, "insurance")
    r = c.post("/v1/flows/insurance/test", json={"lead": {"city": "Mumbai"}}, headers=boss)
    assert r.status_code == 200
    d = r.json()
    assert d["outcome"] == "assigned" and d["agent"] == "a1"
    assert "Mumbai" in d["summary"] and d["trace"]["rules"]
    r = c.post("/v1/flows/insurance/test", json={"lead": {"city": "Pune"}}, headers=boss)
    assert r.json()["outcome"] in ("queued", "unassigned")
    with workspace.reader() as uow:
        assert uow.session.scalar(select(func.count()).select_from(m.Assignment)) == before
        assert uow.session.get(m.RoutingState, "insurance") == state_before
    lead = post_leads(c, 1)[0]
    r = c.post("/v1/flows/insurance/test", json={"lead_id": lead["id"], "version": "draft"},
               headers=boss)
    assert r.status_code == 200 and r.json()["rule"] == "Mumbai"
    assert c.post("/v1/flows/insurance/test", json={}, headers=boss).status_code == 422


def test_simulation_compares_a_draft_with_what_happened(api) -> None:  # type: ignore[no-untyped-def]
    c, boss, _ = api
    post_leads(c, 8)  # round robin: two each
    c.put("/v1/flows/insurance", json={"rules": [{"name": "Only a1", "when": {
        "field": "city", "eq": "Mumbai"}, "to": {"agent": "a1", "method": "specialist"}}],
        "fallback": {"queue": "unassigned"}}, headers=boss)
    r = c.post("/v1/flows/insurance/simulate", json={"since_days": 30}, headers=boss)
    assert r.status_code == 200
    rep = r.json()
    assert rep["leads"] == 8
    per = {row["agent"]: row for row in rep["per_agent"]}
    assert per["a1"]["simulated"] == 8 and per["a1"]["actual"] == 2
    assert per["a2"]["simulated"] == 0 and per["a2"]["actual"] == 2
    assert rep["changed_owner"] == 6
    assert rep["per_rule"] == {"Only a1": 8}
    inline = c.post("/v1/flows/insurance/simulate", json={"leads": [{"city": "Pune"}]},
                    headers=boss).json()
    assert inline["nobody"]["count"] == 1


def test_agents_cannot_touch_flows_and_vocabulary_is_exported(api) -> None:  # type: ignore[no-untyped-def]
    c, boss, agent = api
    assert c.get("/v1/flows", headers=agent).status_code == 403
    assert c.put("/v1/flows/insurance", json=LEAST, headers=agent).status_code == 403
    vocab = c.get("/v1/vocabulary", headers=boss).json()
    assert "round_robin" in str(vocab) and "starts_with" in str(vocab)
