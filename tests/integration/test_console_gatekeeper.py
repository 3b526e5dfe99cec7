"""The console's gatekeeper pages: the do-not-contact list and the quarantine queue."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.conftest import create_users
from tests.integration.test_console_pages import csrf_of, login, post_lead, quarantine

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.store import models as m


@pytest.fixture
def client(workspace: App) -> Iterator[TestClient]:
    create_users(workspace)
    with TestClient(create_app(app=workspace, worker=False)) as c:
        yield c


def manager(client: TestClient, page: str = "/console/suppressions") -> str:
    login(client, "boss@example.com")
    return csrf_of(client.get(page))


def status_of(app: App, lead_id: object) -> str:
    with app.reader() as uow:
        lead = uow.session.get(m.Lead, int(str(lead_id)))
        assert lead is not None
        return lead.status


def test_suppressions_add_list_remove_and_a_suppressed_lead_is_refused(
        client: TestClient) -> None:
    token = manager(client)
    r = client.post("/console/suppressions",
                    data={"csrf_token": token, "values": "+91 98123 49001\nspam@example.com\n",
                          "reason": "asked not to be called"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "Added 2 entries." in page.text
    assert "+919812349001" in page.text and "spam@example.com" in page.text
    assert "asked not to be called" in page.text
    assert 'href="/console/suppressions"' in page.text
    refused = post_lead(client, 9001)
    assert refused["status"] == "rejected" or "reasons" in refused
    assert "suppressed" in {x["code"] for x in refused["reasons"]}  # type: ignore[attr-defined]
    again = client.post("/console/suppressions",
                        data={"csrf_token": token, "values": "spam@example.com"})
    assert again.status_code == 200 and "Added 0 entries; 1 already listed." in again.text
    r = client.post("/console/suppressions/remove",
                    data={"csrf_token": token, "value": "phone:+919812349001"},
                    headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.text == ""
    page = client.get("/console/suppressions")
    assert "+919812349001" not in page.text and "spam@example.com" in page.text
    gone = client.post("/console/suppressions/remove",
                       data={"csrf_token": token, "value": "phone:+919812349001"})
    assert gone.status_code == 404 and "not on the do-not-contact list" in gone.text
    accepted = post_lead(client, 9001, email="other9001@example.com")
    assert accepted.get("status") == "assigned"


def test_a_bad_suppression_entry_adds_nothing_and_says_which_line(client: TestClient) -> None:
    token = manager(client)
    r = client.post("/console/suppressions",
                    data={"csrf_token": token, "values": "ok@example.com\nnot a phone 12",
                          "kind": ""})
    assert r.status_code == 422
    assert "Nothing was added" in r.text and "entry 2" in r.text
    assert "not a phone 12" in r.text  # kept in the textarea
    assert "The list is empty." in r.text


def test_suppression_list_is_paginated(client: TestClient) -> None:
    token = manager(client)
    values = "\n".join(f"user{i}@example.com" for i in range(55))
    client.post("/console/suppressions", data={"csrf_token": token, "values": values})
    first = client.get("/console/suppressions")
    assert "page 1 of 2" in first.text and 'href="/console/suppressions?page=2"' in first.text
    second = client.get("/console/suppressions?page=2")
    assert len(re.findall(r'name="value" value="email:', second.text)) == 5


def test_quarantine_approve_routes_and_refuse_rejects(client: TestClient,
                                                      workspace: App) -> None:
    first, second = post_lead(client, 80), post_lead(client, 81)
    quarantine(workspace, int(str(first["id"])))
    quarantine(workspace, int(str(second["id"])))
    token = manager(client, "/console/quarantine")
    page = client.get("/console/quarantine")
    assert page.status_code == 200
    assert f'id="q-{first["id"]}"' in page.text and "looks odd" in page.text
    assert "2 leads waiting" in page.text
    hx = {"HX-Request": "true", "X-CSRF-Token": token}
    r = client.post(f"/console/quarantine/{first['id']}/approve", headers=hx)
    assert r.status_code == 200 and r.text == ""
    assert status_of(workspace, first["id"]) == "assigned"
    r = client.post(f"/console/quarantine/{second['id']}/refuse",
                    data={"csrf_token": token, "note": "fake"}, follow_redirects=False)
    assert r.status_code == 303
    assert status_of(workspace, second["id"]) == "rejected"
    page = client.get("/console/quarantine")
    assert "Nothing is waiting for review." in page.text
    again = client.post(f"/console/quarantine/{second['id']}/approve", headers=hx)
    assert again.status_code == 409 and "not quarantined" in again.text


def test_agent_cannot_use_the_gatekeeper_pages(client: TestClient) -> None:
    login(client, "a1@example.com")
    assert client.get("/console/suppressions").status_code == 403
    assert client.get("/console/quarantine").status_code == 403
    token = csrf_of(client.get("/console/agents"))
    r = client.post("/console/suppressions", data={"csrf_token": token, "values": "x@y.com"})
    assert r.status_code == 403
    r = client.post("/console/quarantine/1/approve", data={"csrf_token": token})
    assert r.status_code == 403


def test_gatekeeper_posts_without_csrf_are_refused(client: TestClient) -> None:
    manager(client)
    r = client.post("/console/suppressions", data={"values": "x@example.com"})
    assert r.status_code == 403
    assert "The list is empty." in client.get("/console/suppressions").text
    r = client.post("/console/quarantine/1/refuse", headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403


def test_lead_page_shows_the_score_explanation(client: TestClient, workspace: App) -> None:
    lead = post_lead(client, 90)
    with workspace.uow() as uow:
        row = uow.session.get(m.Lead, int(str(lead["id"])))
        assert row is not None
        row.score, row.grade = 35.0, "B"
        row.score_explanation = [
            {"source": "rule", "rule": "city is Mumbai", "points": 20},
            {"source": "rule", "rule": "has email", "points": 15}]
        uow.commit()
    login(client, "boss@example.com")
    page = client.get(f"/console/leads/{lead['id']}")
    assert page.status_code == 200
    box = page.text.split('id="score-explanation"')[1].split("</details>")[0]
    assert "Why this score" in box and "city is Mumbai" in box and "<td>20</td>" in box
