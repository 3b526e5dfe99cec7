"""The console's flow pages: editor, validation errors, publish, restore, test, simulate."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.conftest import create_users
from tests.integration.test_console_pages import csrf_of, login, post_lead

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.services import flows

GOOD_DRAFT = """
rules:
  - name: Mumbai health
    when: {all: [{field: city, eq: Mumbai}, {field: product, eq: health}]}
    to: {agents: [a1, a2], method: round_robin}
  - name: Mumbai
    when: {field: city, eq: Mumbai}
    to: {team: mumbai, method: least_loaded}
fallback: {queue: unassigned}
"""


@pytest.fixture
def client(workspace: App) -> Iterator[TestClient]:
    create_users(workspace)
    with TestClient(create_app(app=workspace, worker=False)) as c:
        yield c


def manager(client: TestClient) -> str:
    login(client, "boss@example.com")
    return csrf_of(client.get("/console/flows/insurance"))


def view(app: App) -> dict[str, object]:
    with app.reader() as uow:
        return flows.flow_view(uow, "insurance")


def test_flows_list_and_flow_page_render(client: TestClient) -> None:
    login(client, "boss@example.com")
    page = client.get("/console/flows")
    assert page.status_code == 200
    assert 'href="/console/flows/insurance"' in page.text and "v1" in page.text
    assert 'href="/console/flows"' in client.get("/console/leads").text
    flow = client.get("/console/flows/insurance")
    assert flow.status_code == 200
    text = flow.text
    assert "city eq Mumbai" in text and "team mumbai" in text and "round robin" in text
    assert "queue unassigned" in text
    assert '<textarea name="spec"' in text and "Save &amp; publish" in text
    assert "Vocabulary" in text and "least_loaded" in text and "languages" in text
    assert "Never published." not in text


def test_unknown_flow_is_a_friendly_404(client: TestClient) -> None:
    login(client, "boss@example.com")
    r = client.get("/console/flows/nope")
    assert r.status_code == 404 and "no flow" in r.text


def test_saving_a_bad_flow_shows_the_path_and_changes_nothing(client: TestClient,
                                                             workspace: App) -> None:
    token = manager(client)
    before = view(workspace)
    bad = GOOD_DRAFT.replace("eq: health", "equals: health")
    r = client.post("/console/flows/insurance/save",
                    data={"csrf_token": token, "spec": bad, "action": "publish"})
    assert r.status_code == 422
    assert "The flow was not saved" in r.text
    assert "rules[0].when.all[1]" in r.text and "unknown operator" in r.text
    assert "equals: health" in r.text  # the text typed is kept in the editor
    r = client.post("/console/flows/insurance/save",
                    data={"csrf_token": token, "spec": "rules: [unclosed", "action": "draft"})
    assert r.status_code == 422 and "not valid YAML" in r.text and "line 1" in r.text
    r = client.post("/console/flows/insurance/save",
                    data={"csrf_token": token, "spec": "rules:\n  - to: {team: nowhere}\n"})
    assert r.status_code == 422 and "nowhere" in r.text
    assert view(workspace) == before


def test_save_draft_then_publish_makes_version_2_and_restore_brings_back_1(
        client: TestClient, workspace: App) -> None:
    token = manager(client)
    r = client.post("/console/flows/insurance/save",
                    data={"csrf_token": token, "spec": GOOD_DRAFT, "action": "draft"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=draft")
    page = client.get(r.headers["location"])
    assert "Draft saved." in page.text and "unpublished changes" in page.text
    assert "city eq Mumbai AND product eq health" in page.text
    state = view(workspace)
    assert state["published_version"] == 1
    r = client.post("/console/flows/insurance/save",
                    data={"csrf_token": token, "spec": GOOD_DRAFT, "action": "publish"},
                    follow_redirects=False)
    assert r.status_code == 303
    state = view(workspace)
    assert state["published_version"] == 2
    versions = state["versions"]
    assert isinstance(versions, list) and versions[-1]["created_by"].endswith("boss@example.com")
    page = client.get("/console/flows/insurance")
    assert 'name="version" value="1"' in page.text
    r = client.post("/console/flows/insurance/restore",
                    data={"csrf_token": token, "version": "1"}, follow_redirects=False)
    assert r.status_code == 303
    state = view(workspace)
    assert state["published_version"] == 3
    assert versions[0]["spec"] == view(workspace)["versions"][-1]["spec"]  # type: ignore[index]
    missing = client.post("/console/flows/insurance/restore",
                          data={"csrf_token": token, "version": "99"})
    assert missing.status_code == 404


def test_test_a_lead_shows_summary_and_trace(client: TestClient) -> None:
    token = manager(client)
    r = client.post("/console/flows/insurance/test",
                    data={"csrf_token": token, "lead": "city: Mumbai\nproduct: health",
                          "which": "published"})
    assert r.status_code == 200
    result = r.text.split('id="test-result"')[1]
    assert 'class="summary"' in result and "Mumbai" in result
    assert "How it was decided" in result and "Raw trace (JSON)" in result
    r = client.post("/console/flows/insurance/test",
                    data={"csrf_token": token, "lead": '{"city": "Pune"}', "which": "draft"})
    assert r.status_code == 200 and "unassigned" in r.text.split('id="test-result"')[1]
    lead = post_lead(client, 3)
    r = client.post("/console/flows/insurance/test",
                    data={"csrf_token": token, "lead_id": str(lead["id"]), "which": "draft"},
                    headers={"HX-Request": "true"})
    assert r.status_code == 200 and "How it was decided" in r.text
    bad = client.post("/console/flows/insurance/test",
                      data={"csrf_token": token, "lead": "just words", "which": "draft"})
    assert bad.status_code == 422 and "key: value" in bad.text
    gone = client.post("/console/flows/insurance/test",
                       data={"csrf_token": token, "lead_id": "999999", "which": "draft"})
    assert gone.status_code == 422 and "no lead 999999" in gone.text


def test_simulate_shows_per_agent_counts_and_nobody(client: TestClient) -> None:
    for i in range(4):
        post_lead(client, 60 + i)
    post_lead(client, 70, city="Pune")
    token = manager(client)
    r = client.post("/console/flows/insurance/simulate",
                    data={"csrf_token": token, "since_days": "30"})
    assert r.status_code == 200, r.text
    result = r.text.split('id="sim-result"')[1]
    assert '<dd data-sim="leads">5</dd>' in result
    assert '<dd data-sim="nobody">1</dd>' in result
    rows = dict(re.findall(r'<tr data-agent="(a\d)"><td>a\d</td><td>(\d+)</td>', result))
    assert rows == {"a1": "1", "a2": "1", "a3": "1", "a4": "1"}
    assert "Mumbai" in result and "(fallback)" in result
    bad = client.post("/console/flows/insurance/simulate",
                      data={"csrf_token": token, "since_days": "lots"})
    assert bad.status_code == 422 and "not a number of days" in bad.text


def test_agent_cannot_open_or_change_flows(client: TestClient, workspace: App) -> None:
    login(client, "a1@example.com")
    assert client.get("/console/flows").status_code == 403
    assert client.get("/console/flows/insurance").status_code == 403
    token = csrf_of(client.get("/console/agents"))
    r = client.post("/console/flows/insurance/save",
                    data={"csrf_token": token, "spec": GOOD_DRAFT, "action": "publish"})
    assert r.status_code == 403
    assert view(workspace)["published_version"] == 1
    assert 'href="/console/flows"' not in client.get("/console/agents").text


def test_saving_a_flow_without_csrf_is_refused(client: TestClient, workspace: App) -> None:
    manager(client)
    r = client.post("/console/flows/insurance/save",
                    data={"spec": GOOD_DRAFT, "action": "publish"})
    assert r.status_code == 403
    assert view(workspace)["published_version"] == 1


def test_publish_button_publishes_the_saved_draft(client: TestClient, workspace: App) -> None:
    token = manager(client)
    client.post("/console/flows/insurance/save",
                data={"csrf_token": token, "spec": GOOD_DRAFT, "action": "draft"})
    page = client.get("/console/flows/insurance")
    assert 'action="/console/flows/insurance/publish"' in page.text
    r = client.post("/console/flows/insurance/publish", data={"csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    assert view(workspace)["published_version"] == 2
    assert "unpublished changes" not in client.get("/console/flows/insurance").text
