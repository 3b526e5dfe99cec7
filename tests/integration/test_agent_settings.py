"""Editing an agent's routing settings: the service, PUT /v1/agents/{key}, the console page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import WEBSITE_KEY, create_users
from tests.integration.test_console_pages import csrf_of, login

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.store import models as m

LEAD = {"first_name": "asha", "city": "Mumbai", "product": "health"}


@pytest.fixture
def tokens(workspace: App) -> dict[str, str]:
    return create_users(workspace)


@pytest.fixture
def client(workspace: App, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(app=workspace, worker=False)) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def put(client: TestClient, token: str, key: str, body: Any) -> Any:
    return client.put(f"/v1/agents/{key}", content=json.dumps(body),
                      headers={**auth(token), "Content-Type": "application/json"})


def audit_count(app: App, key: str) -> int:
    with app.uow() as uow:
        return len(list(uow.session.scalars(select(m.AuditEntry).where(
            m.AuditEntry.entity == "agent", m.AuditEntry.entity_key == key,
            m.AuditEntry.action == "updated"))))


SETTINGS = {"name": "Agent One", "teams": ["mumbai"], "languages": ["EN", "hi"],
            "timezone": "Asia/Kolkata", "working_hours": {"mon-fri": "09:00-18:00"},
            "holidays": "IN", "time_off": [["2026-12-24", "2026-12-26"]],
            "capacity": {"daily": 20, "open": 5}}


def test_manager_updates_hours_and_caps_and_they_persist(client: TestClient,
                                                         tokens: dict[str, str],
                                                         workspace: App) -> None:
    r = put(client, tokens["manager"], "a1", SETTINGS)
    assert r.status_code == 200, r.text
    got = client.get("/v1/agents/a1", headers=auth(tokens["manager"])).json()
    assert got["working_hours"] == {"mon-fri": "09:00-18:00"}
    assert got["capacity"] == {"daily": 20, "open": 5}
    assert got["timezone"] == "Asia/Kolkata"
    assert got["languages"] == ["en", "hi"]
    assert got["holidays"] == "IN"
    assert len(got["time_off"]) == 1
    assert got["teams"] == ["mumbai"] and got["status"] == "available"
    assert audit_count(workspace, "a1") == 1
    with workspace.uow() as uow:
        assert "queue.retry" in list(uow.session.scalars(select(m.Job.kind)))
    # the same settings again change nothing
    assert put(client, tokens["manager"], "a1", SETTINGS).status_code == 200
    assert audit_count(workspace, "a1") == 1


@pytest.mark.parametrize(("change", "path"), [
    ({"timezone": "Mars/Olympus"}, "agent a1.timezone"),
    ({"working_hours": {"mon-fri": "25:00-18:00"}}, "agent a1.working_hours"),
    ({"capacity": {"daily": -1}}, "agent a1.capacity"),
    ({"holidays": "ZZ"}, "agent a1.holidays"),
    ({"teams": ["mumbai", "nowhere"]}, "agent a1.teams"),
    ({"shoe_size": 9}, "agent a1"),
])
def test_bad_settings_are_422_with_a_path_and_change_nothing(
        client: TestClient, tokens: dict[str, str], workspace: App,
        change: dict[str, Any], path: str) -> None:
    before = client.get("/v1/agents/a1", headers=auth(tokens["manager"])).json()
    r = put(client, tokens["manager"], "a1", {**SETTINGS, **change})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    assert any(e["path"].startswith(path) for e in errors), errors
    after = client.get("/v1/agents/a1", headers=auth(tokens["manager"])).json()
    assert after == before
    assert audit_count(workspace, "a1") == 0


def test_unknown_team_is_refused_naming_teams(client: TestClient,
                                             tokens: dict[str, str]) -> None:
    r = put(client, tokens["manager"], "a1", {"teams": ["ghosts"]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "agent a1.teams"
    assert "ghosts" in r.json()["errors"][0]["message"]


def test_agents_and_sources_cannot_edit_settings(client: TestClient,
                                                 tokens: dict[str, str]) -> None:
    assert put(client, tokens["a1"], "a1", SETTINGS).status_code == 403
    assert put(client, WEBSITE_KEY, "a1", SETTINGS).status_code == 403
    assert put(client, tokens["manager"], "nobody", SETTINGS).status_code == 404


def test_routing_respects_a_new_daily_cap(client: TestClient, tokens: dict[str, str]) -> None:
    r = put(client, tokens["manager"], "a1",
            {"name": "Agent One", "teams": ["mumbai"], "capacity": {"daily": 1}})
    assert r.status_code == 200, r.text
    owners = []
    for i in range(8):
        body = {**LEAD, "phone": f"+91 98123 6{i:04d}", "email": f"cap{i}@example.com"}
        resp = client.post("/v1/leads", content=json.dumps(body),
                           headers={**auth(WEBSITE_KEY), "Content-Type": "application/json"})
        assert resp.status_code == 201, resp.text
        owners.append((resp.json().get("assignee") or {}).get("key"))
    assert owners.count("a1") == 1
    assert set(owners) == {"a1", "a2", "a3", "a4"}


def test_console_settings_page_renders_and_saves(client: TestClient) -> None:
    login(client, "boss@example.com")
    listing = client.get("/console/agents")
    assert 'href="/console/agents/a1"' in listing.text
    page = client.get("/console/agents/a1")
    assert page.status_code == 200
    assert "teams:" in page.text and "Time zone" in page.text
    text = ("name: Agent One\nteams: [mumbai]\ntimezone: Asia/Kolkata\n"
            "working_hours: {mon-fri: '09:00-18:00'}\nholidays: IN\n"
            "time_off: [['2026-12-24', '2026-12-26']]\ncapacity: {daily: 7}\n")
    r = client.post("/console/agents/a1/settings",
                    data={"settings": text, "csrf_token": csrf_of(page)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/console/agents/a1?saved=1"
    page = client.get(r.headers["location"])
    assert "Settings saved." in page.text
    assert "Asia/Kolkata" in page.text and "mon-fri 09:00-18:00" in page.text
    assert "daily 7" in page.text and "IN" in page.text
    assert "2026-12-24 00:00 → 2026-12-27 00:00 (Asia/Kolkata)" in page.text


def test_console_errors_are_listed_by_path_and_the_text_kept(client: TestClient,
                                                           tokens: dict[str, str]) -> None:
    login(client, "boss@example.com")
    page = client.get("/console/agents/a1")
    text = "name: Agent One\ntimezone: Nowhere/Land\n"
    r = client.post("/console/agents/a1/settings",
                    data={"settings": text, "csrf_token": csrf_of(page)})
    assert r.status_code == 422
    assert "agent a1.timezone" in r.text and "Nowhere/Land" in r.text
    assert "The settings were not saved" in r.text
    bad_yaml = client.post("/console/agents/a1/settings",
                           data={"settings": "name: [oops", "csrf_token": csrf_of(page)})
    assert bad_yaml.status_code == 422 and "not valid YAML" in bad_yaml.text
    got = client.get("/v1/agents/a1", headers=auth(tokens["manager"])).json()
    assert "timezone" not in got


def test_console_post_without_csrf_is_403(client: TestClient) -> None:
    login(client, "boss@example.com")
    r = client.post("/console/agents/a1/settings", data={"settings": "name: X\n"})
    assert r.status_code == 403


def test_agent_role_gets_403_on_the_settings_page(client: TestClient) -> None:
    login(client, "a1@example.com")
    assert 'href="/console/agents/a1"' not in client.get("/console/agents").text
    assert client.get("/console/agents/a1").status_code == 403
    page = client.get("/console/agents")
    r = client.post("/console/agents/a1/settings",
                    data={"settings": "name: X\n", "csrf_token": csrf_of(page)})
    assert r.status_code == 403
