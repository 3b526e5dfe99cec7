"""The web console over HTTP: login, CSRF, roles, the lead pages, status toggles, import."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import httpx2
import pytest
from fastapi.testclient import TestClient
from tests.conftest import PASSWORD, WEBSITE_KEY, create_users

from leadgate.api.app import create_app
from leadgate.bootstrap import App

GOOD = {"first_name": "asha", "phone": "+91 98123 45678", "city": "Mumbai", "product": "health",
        "email": "asha@example.com"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def users(workspace: App) -> dict[str, str]:
    return create_users(workspace)


@pytest.fixture
def client(workspace: App, users: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(app=workspace, worker=False)) as c:
        yield c


def csrf_of(page: httpx2.Response) -> str:
    found = CSRF.search(page.text)
    assert found, "the page has no CSRF field"
    return found.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> httpx2.Response:
    token = csrf_of(client.get("/console/login"))
    return client.post("/console/login", data={"email": email, "password": password,
                                               "csrf_token": token},
                       follow_redirects=False)


def post_lead(client: TestClient, i: int, **extra: str) -> dict[str, object]:
    body = {**GOOD, "phone": f"+91 98123 4{i:04d}", "email": f"lead{i}@example.com", **extra}
    r = client.post("/v1/leads", content=json.dumps(body),
                    headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                             "Content-Type": "application/json"})
    assert r.status_code in (201, 422), r.text
    result: dict[str, object] = r.json()
    return result


def test_login_with_right_password_opens_the_leads_page(client: TestClient) -> None:
    r = login(client, "boss@example.com")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/leads"
    page = client.get("/console/leads")
    assert page.status_code == 200
    assert "boss" in page.text and "manager" in page.text
    assert 'hx-trigger="leadgate:changed from:body"' in page.text  # live, not polled
    assert "every 5s" not in page.text


def test_console_events_need_a_session(client: TestClient) -> None:
    r = client.get("/console/events", follow_redirects=False)
    assert r.status_code in (303, 401)


def test_wrong_password_shows_a_clear_message_not_an_error(client: TestClient) -> None:
    r = login(client, "boss@example.com", "not-the-password")
    assert r.status_code == 200
    assert "Wrong email or password." in r.text
    assert client.get("/console/leads", follow_redirects=False).status_code == 303


def test_unknown_user_gets_the_same_message(client: TestClient) -> None:
    r = login(client, "nobody@example.com")
    assert "Wrong email or password." in r.text


def test_logged_out_console_pages_redirect_to_login(client: TestClient) -> None:
    for path in ("/console/leads", "/console/leads/1", "/console/agents", "/console/import"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/console/login?next=%2Fconsole%2F")


def test_login_returns_to_the_page_asked_for_but_never_off_site(client: TestClient) -> None:
    token = csrf_of(client.get("/console/login?next=/console/agents"))
    r = client.post("/console/login", data={"email": "boss@example.com", "password": PASSWORD,
                                            "csrf_token": token, "next": "/console/agents"},
                    follow_redirects=False)
    assert r.headers["location"] == "/console/agents"
    client.post("/console/logout", data={"csrf_token": csrf_of(client.get("/console/agents"))})
    token = csrf_of(client.get("/console/login"))
    r = client.post("/console/login", data={"email": "boss@example.com", "password": PASSWORD,
                                            "csrf_token": token, "next": "//evil.example/x"},
                    follow_redirects=False)
    assert r.headers["location"] == "/console/leads"


def test_logout_ends_the_session(client: TestClient) -> None:
    login(client, "boss@example.com")
    token = csrf_of(client.get("/console/leads"))
    r = client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/console/leads", follow_redirects=False).status_code == 303


def test_post_without_the_csrf_token_is_refused(client: TestClient) -> None:
    login(client, "boss@example.com")
    r = client.post("/console/agents/a1/status", data={"status": "away"})
    assert r.status_code == 403
    assert "reload the page" in r.text
    r = client.post("/console/agents/a1/status", data={"status": "away"},
                    headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = client.post("/console/logout", follow_redirects=False)
    assert r.status_code == 403


def test_login_post_without_the_csrf_token_is_refused(client: TestClient) -> None:
    r = client.post("/console/login", data={"email": "boss@example.com", "password": PASSWORD})
    assert r.status_code == 403


def test_agent_sees_only_their_own_leads(client: TestClient) -> None:
    leads = [post_lead(client, i) for i in range(4)]
    by_agent = {lead["assignee"]["key"]: lead["id"] for lead in leads}  # type: ignore[index]
    assert set(by_agent) == {"a1", "a2", "a3", "a4"}
    login(client, "a1@example.com")
    page = client.get("/console/leads/table")
    assert page.status_code == 200
    shown = set(map(int, re.findall(r'href="/console/leads/(\d+)"', page.text)))
    assert shown == {by_agent["a1"]}
    assert client.get(f"/console/leads/{by_agent['a1']}").status_code == 200
    other = client.get(f"/console/leads/{by_agent['a2']}")
    assert other.status_code == 404
    assert "<html" in other.text.lower() and "Traceback" not in other.text


def test_agent_cannot_open_the_import_page(client: TestClient) -> None:
    login(client, "a1@example.com")
    r = client.get("/console/import")
    assert r.status_code == 403
    assert "manager" in r.text


def test_lead_page_shows_decision_summary_trace_and_timeline(client: TestClient) -> None:
    lead = post_lead(client, 7)
    login(client, "boss@example.com")
    page = client.get(f"/console/leads/{lead['id']}")
    assert page.status_code == 200
    text = page.text
    assert "Decision" in text and "How it was decided" in text
    assert "Raw trace (JSON)" in text
    assert "received" in text and "assigned" in text
    assert "Agent One" in text
    assert "placed the lead" in text


def test_lead_page_shows_the_stored_compact_trace_rules_that_did_not_match(
        client: TestClient) -> None:
    lead = post_lead(client, 8, city="Pune")
    login(client, "boss@example.com")
    page = client.get(f"/console/leads/{lead['id']}")
    assert page.status_code == 200
    assert "Did not match: rule #1 (by position in flow version)." in page.text
    assert "Queued in unassigned" in page.text


def test_manager_sees_rejected_leads_with_their_reasons(client: TestClient) -> None:
    post_lead(client, 9, first_name="", product="car")
    login(client, "boss@example.com")
    page = client.get("/console/leads?status=rejected")
    assert page.status_code == 200
    assert "rejected" in page.text
    assert "invalid_value" in page.text


def test_leads_filters_and_bad_filter_values(client: TestClient) -> None:
    for i in range(3):
        post_lead(client, 20 + i)
    login(client, "boss@example.com")
    page = client.get("/console/leads/table?assignee=a2")
    assert len(set(re.findall(r'href="/console/leads/(\d+)"', page.text))) == 1
    bad = client.get("/console/leads?status=nonsense")
    assert bad.status_code == 422
    assert "status must be one of" in bad.text
    assert client.get("/console/leads?page=0").status_code == 422


def test_agent_toggles_own_status_and_not_another_agents(client: TestClient) -> None:
    login(client, "a1@example.com")
    token = csrf_of(client.get("/console/agents"))
    hx = {"HX-Request": "true", "X-CSRF-Token": token}
    r = client.post("/console/agents/a1/status", data={"status": "away"}, headers=hx)
    assert r.status_code == 200
    assert r.text.strip().startswith('<tr id="agent-a1">')
    assert 'class="badge ag-away">away<' in r.text
    refused = client.post("/console/agents/a2/status", data={"status": "away"}, headers=hx)
    assert refused.status_code == 403
    assert "own status" in refused.text
    page = client.get("/console/agents")
    assert 'hx-post="/console/agents/a2/status"' not in page.text


def test_manager_toggles_any_agent_with_a_plain_form(client: TestClient) -> None:
    login(client, "boss@example.com")
    token = csrf_of(client.get("/console/agents"))
    r = client.post("/console/agents/a3/status", data={"status": "offline", "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/console/agents")
    row = page.text.split('id="agent-a3"')[1].split("</tr>")[0]
    assert 'class="badge ag-offline">offline<' in row


def test_import_upload_reports_counts_and_offers_rejected_rows(client: TestClient) -> None:
    login(client, "boss@example.com")
    page = client.get("/console/import")
    assert 'value="website"' in page.text
    csv_text = ("first_name,phone,city,product\n"
                "Ravi,+91 98123 30001,Mumbai,health\n"
                "Meera,+91 98123 30002,Pune,life\n"
                ",12,Mumbai,car\n")
    r = client.post("/console/import",
                    data={"csrf_token": csrf_of(page), "source": "website"},
                    files={"file": ("leads.csv", csv_text.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    counts = dict(re.findall(r'<td data-status="(\w+)">(\d+)</td>', r.text))
    assert counts == {"assigned": "1", "unassigned": "1", "rejected": "1"}
    href = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', r.text)
    assert href is not None
    rejects = base64.b64decode(href.group(1)).decode()
    assert rejects.splitlines()[0].startswith("row,reason_codes,messages")
    assert "car" in rejects.splitlines()[1]


def test_import_of_an_unreadable_file_is_a_clear_error(client: TestClient) -> None:
    login(client, "boss@example.com")
    page = client.get("/console/import")
    r = client.post("/console/import", data={"csrf_token": csrf_of(page), "source": "website"},
                    files={"file": ("leads.xlsx", b"not a workbook", "application/octet-stream")})
    assert r.status_code == 422
    assert "not a readable Excel file" in r.text


def test_unknown_console_page_is_a_friendly_404(client: TestClient) -> None:
    r = client.get("/console/nowhere")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    api = client.get("/v1/nowhere")
    assert api.headers["content-type"].startswith("application/problem+json")


def test_thank_you_page_is_public(client: TestClient) -> None:
    r = client.get("/console/thanks?lead=12")
    assert r.status_code == 200
    assert "Thank you" in r.text
    assert "Log out" not in r.text


def test_static_assets_are_served(client: TestClient) -> None:
    r = client.get("/console/static/htmx.min.js")
    assert r.status_code == 200
    assert "htmx" in r.text[:2000]
    assert client.get("/console/static/console.css").status_code == 200


def test_thank_you_page_explains_a_refused_form(client: TestClient) -> None:
    r = client.get("/console/thanks?error=lead_rejected&reason=invalid_phone")
    assert r.status_code == 200
    assert "could not accept" in r.text and "invalid phone" in r.text
    assert client.get("/console/thanks?lead=abc").status_code == 200


def quarantine(app: App, lead_id: int) -> None:
    from leadgate.store import models as m

    with app.uow() as uow:
        lead = uow.session.get(m.Lead, lead_id)
        assert lead is not None
        lead.status, lead.assignee_id, lead.reasons = "quarantined", None, [
            {"code": "suspicious", "field": None, "message": "looks odd"}]
        uow.commit()


def test_manager_approves_or_refuses_a_quarantined_lead(client: TestClient,
                                                        workspace: App) -> None:
    first, second = post_lead(client, 40), post_lead(client, 41)
    quarantine(workspace, int(first["id"]))  # type: ignore[call-overload]
    quarantine(workspace, int(second["id"]))  # type: ignore[call-overload]
    login(client, "boss@example.com")
    page = client.get(f"/console/leads/{first['id']}")
    assert "Approve and route" in page.text
    token = csrf_of(page)
    r = client.post(f"/console/leads/{first['id']}/approve", data={"csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    assert "approved" in client.get(f"/console/leads/{first['id']}").text
    r = client.post(f"/console/leads/{second['id']}/refuse",
                    data={"csrf_token": token, "note": "fake name"})
    assert r.status_code == 200
    assert "refused_by_reviewer" in r.text and "fake name" in r.text
    again = client.post(f"/console/leads/{second['id']}/refuse", data={"csrf_token": token})
    assert again.status_code == 409


def test_agent_records_an_outcome_on_their_own_lead_only(client: TestClient) -> None:
    leads = [post_lead(client, 50 + i) for i in range(2)]
    own = next(x for x in leads if x["assignee"]["key"] == "a1")  # type: ignore[index]
    other = next(x for x in leads if x["assignee"]["key"] == "a2")  # type: ignore[index]
    login(client, "a1@example.com")
    page = client.get(f"/console/leads/{own['id']}")
    token = csrf_of(page)
    r = client.post(f"/console/leads/{own['id']}/outcome",
                    data={"csrf_token": token, "outcome": "won", "revenue": "1,200.50"})
    assert r.status_code == 200
    assert "1200.5" in r.text and 'class="badge st-won">won<' in r.text
    bad = client.post(f"/console/leads/{own['id']}/outcome",
                      data={"csrf_token": token, "outcome": "won", "revenue": "lots"})
    assert bad.status_code == 422 and "not a number" in bad.text
    refused = client.post(f"/console/leads/{other['id']}/outcome",
                          data={"csrf_token": token, "outcome": "contacted"})
    assert refused.status_code == 404
