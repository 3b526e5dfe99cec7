"""Suppression lists, quarantine decisions, merge-on-duplicate and outcomes
over the API; every refusal carries its reason code."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.conftest import SETUP, WEBSITE_KEY, apply_setup, create_users

from leadgate.api.app import create_app
from leadgate.bootstrap import App

SRC = {"Authorization": f"Bearer {WEBSITE_KEY}"}


@pytest.fixture
def api(workspace: App) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    tokens = create_users(workspace)
    with TestClient(create_app(app=workspace, worker=False)) as c:
        yield (c, {"Authorization": f"Bearer {tokens['manager']}"},
               {"Authorization": f"Bearer {tokens['a1']}"})


def lead(**kw: object) -> dict[str, object]:
    return {"first_name": "Asha", "phone": "+91 98123 45678", "city": "Mumbai", **kw}


def test_suppressed_phone_email_and_domain_are_refused(api) -> None:  # type: ignore[no-untyped-def]
    c, boss, agent = api
    r = c.post("/v1/suppressions", json={"values": ["+91 98123 45678", "x@blocked.com",
                                                    "spam.example"], "reason": "DNC"},
               headers=boss)
    assert r.status_code == 201 and r.json() == {"added": 3, "already_listed": 0}
    again = c.post("/v1/suppressions", json={"values": ["098123 45678"],
                                             "default_region": "IN"}, headers=boss)
    assert again.json() == {"added": 0, "already_listed": 1}
    for body in (lead(), lead(phone="+91 98123 00001", email="X@Blocked.com"),
                 lead(phone="+91 98123 00002", email="bob@spam.example")):
        r = c.post("/v1/leads", json=body, headers=SRC)
        assert r.status_code == 422
        assert r.json()["reasons"][0]["code"] == "suppressed"
    listed = c.get("/v1/suppressions", headers=boss).json()
    assert listed["total"] == 3
    assert c.delete("/v1/suppressions/+919812345678", headers=boss).json() == {"removed": True}
    assert c.post("/v1/leads", json=lead(), headers=SRC).status_code == 201
    bad = c.post("/v1/suppressions", json={"values": ["not a thing"]}, headers=boss)
    assert bad.status_code == 422
    assert c.get("/v1/suppressions", headers=agent).status_code == 403


QUARANTINE = SETUP.replace("    default_region: IN\n",
                           "    default_region: IN\n    checks: {disposable_email: quarantine}\n")


def test_quarantined_lead_is_held_then_approved_or_refused(app: App) -> None:
    apply_setup(app, QUARANTINE)
    tokens = create_users(app)
    boss = {"Authorization": f"Bearer {tokens['manager']}"}
    with TestClient(create_app(app=app, worker=False)) as c:
        held = [c.post("/v1/leads", json=lead(phone=f"+91 98123 1000{i}",
                                              email=f"a{i}@mailinator.com"), headers=SRC)
                for i in range(2)]
        assert [r.json()["status"] for r in held] == ["quarantined", "quarantined"]
        assert held[0].json()["reasons"][0]["code"] == "disposable_email"
        ok = c.post(f"/v1/leads/{held[0].json()['id']}/approve", headers=boss)
        assert ok.status_code == 200 and ok.json()["status"] == "assigned"
        no = c.post(f"/v1/leads/{held[1].json()['id']}/refuse", json={"note": "fake"},
                    headers=boss)
        assert no.json()["status"] == "rejected"
        assert no.json()["reasons"][-1]["code"] == "refused_by_reviewer"
        again = c.post(f"/v1/leads/{held[0].json()['id']}/approve", headers=boss)
        assert again.status_code == 409


def test_duplicate_can_be_merged_onto_the_original(app: App) -> None:
    apply_setup(app, SETUP.replace("window: 30d}", "window: 30d, on_duplicate: merge}"))
    with TestClient(create_app(app=app, worker=False)) as c:
        first = c.post("/v1/leads", json=lead(), headers=SRC).json()
        second = c.post("/v1/leads", json=lead(first_name="Asha", last_name="Rao"),
                        headers=SRC)
        assert second.status_code == 201
        assert second.json()["status"] == "merged"
        assert second.json()["duplicate_of"] == first["id"]
        assert second.json()["reasons"][0]["code"] == "duplicate"


def test_duplicate_outside_the_window_is_a_new_lead(workspace: App) -> None:
    with TestClient(create_app(app=workspace, worker=False)) as c:
        assert c.post("/v1/leads", json=lead(), headers=SRC).status_code == 201
        workspace.clock.advance(days=31)  # type: ignore[attr-defined]
        again = c.post("/v1/leads", json=lead(), headers=SRC)
        assert again.status_code == 201 and again.json()["status"] == "assigned"


def test_outcomes_close_leads_and_agents_only_touch_their_own(api) -> None:  # type: ignore[no-untyped-def]
    c, boss, agent = api
    ids = [c.post("/v1/leads", json=lead(phone=f"+91 98123 2000{i}"), headers=SRC).json()["id"]
           for i in range(2)]  # a1 then a2
    won = c.post(f"/v1/leads/{ids[0]}/outcome", json={"outcome": "won", "revenue": 1200},
                 headers=agent)
    assert won.status_code == 200 and won.json()["status"] == "won"
    assert c.post(f"/v1/leads/{ids[1]}/outcome", json={"outcome": "lost"},
                  headers=agent).status_code == 404
    assert c.post(f"/v1/leads/{ids[1]}/outcome", json={"outcome": "lost", "revenue": 5},
                  headers=boss).status_code == 422
    assert c.post(f"/v1/leads/{ids[1]}/outcome", json={"outcome": "maybe"},
                  headers=boss).status_code == 422
    timeline = c.get(f"/v1/leads/{ids[0]}", headers=boss).json()["timeline"]
    assert timeline[-1]["type"] == "won" and timeline[-1]["data"]["revenue"] == 1200


def test_duplicate_action_follows_the_campaign_checks(app: App) -> None:
    apply_setup(app, SETUP.replace("    default_region: IN\n",
                                   "    default_region: IN\n    checks: {duplicate: quarantine}\n"))
    with TestClient(create_app(app=app, worker=False)) as c:
        assert c.post("/v1/leads", json=lead(), headers=SRC).json()["status"] == "assigned"
        again = c.post("/v1/leads", json=lead(), headers=SRC)
        assert again.status_code == 201
        assert again.json()["status"] == "quarantined"
        assert again.json()["reasons"][0]["code"] == "duplicate"


PERF = SETUP.replace("to: {team: mumbai, method: round_robin}",
                     "to: {agents: [a1, a2], method: performance}")


def test_performance_method_sends_more_to_the_better_converter(app: App) -> None:
    apply_setup(app, PERF)
    tokens = create_users(app)
    boss = {"Authorization": f"Bearer {tokens['manager']}"}
    got: dict[str, int] = {"a1": 0, "a2": 0}
    with TestClient(create_app(app=app, worker=False)) as c:
        for i in range(20):  # history: a1 wins everything, a2 loses everything
            r = c.post("/v1/leads", json=lead(phone=f"+91 98123 3{i:04d}"), headers=SRC)
            key = r.json()["assignee"]["key"]
            outcome = "won" if key == "a1" else "lost"
            c.post(f"/v1/leads/{r.json()['id']}/outcome", json={"outcome": outcome},
                   headers=boss)
        for i in range(40):
            r = c.post("/v1/leads", json=lead(phone=f"+91 98124 3{i:04d}"), headers=SRC)
            got[r.json()["assignee"]["key"]] += 1
    assert got["a1"] > 2 * got["a2"] > 0, got
