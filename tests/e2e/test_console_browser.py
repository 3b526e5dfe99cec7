"""The console in a real browser (Debian chromium driven by Playwright) against a
real ``leadgate serve`` process on a SQLite file."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import ON_CI, PASSWORD, WEBSITE_KEY, apply_setup, create_users, make_app
from tests.e2e.servers import Server

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("LEADGATE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_chromium() -> None:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return
    why = f"chromium not installed: {CHROMIUM} is missing (apt-get install -y chromium)"
    if ON_CI:
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture
def console_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'console.db'}"


@pytest.fixture
def server(tmp_path: Path, console_db: str) -> Iterator[Server]:
    require_chromium()
    url = console_db
    app = make_app(url)
    apply_setup(app)
    create_users(app)
    app.close()
    srv = Server(url, log=tmp_path / "serve.log")
    try:
        yield srv
    finally:
        srv.stop()


def test_manager_follows_a_lead_and_changes_an_agents_status(server: Server,
                                                             tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    lead = {"first_name": "Priya", "last_name": "Shah", "phone": "+91 98123 45678",
            "city": "Mumbai", "product": "health", "email": "priya@example.com"}
    r = httpx.post(f"{server.url}/v1/leads", content=json.dumps(lead),
                   headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                            "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 201, r.text
    lead_id = r.json()["id"]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # the Content-Security-Policy is in force: count what it blocks (must be nothing)
            blocked: list[str] = []
            page.on("console", lambda msg: blocked.append(msg.text)
                    if "Content Security Policy" in msg.text else None)
            page.goto(f"{server.url}/console/leads")
            expect(page).to_have_url(f"{server.url}/console/login?next=%2Fconsole%2Fleads")
            page.fill("input[name=email]", "boss@example.com")
            page.fill("input[name=password]", "wrong-password")
            page.click("button[type=submit]")
            expect(page.locator(".alert.error")).to_contain_text("Wrong email or password")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{server.url}/console/leads")

            row_link = page.locator(f'#lead-table a[href="/console/leads/{lead_id}"]').last
            expect(row_link).to_contain_text("Priya Shah")
            page.screenshot(path=str(tmp_path / "console-leads.png"), full_page=True)
            row_link.click()
            expect(page).to_have_url(f"{server.url}/console/leads/{lead_id}")
            timeline = page.locator("#timeline")
            expect(timeline).to_contain_text("received")
            expect(timeline).to_contain_text("assigned")
            summary = page.locator("#decision .summary")
            expect(summary).to_contain_text("Agent One")
            page.locator("details.raw summary").click()
            expect(page.locator("details.raw pre")).to_contain_text('"rules"')
            page.screenshot(path=str(tmp_path / "console-lead.png"), full_page=True)

            page.click("nav >> text=Agents")
            row = page.locator("#agent-a2")
            expect(row.locator(".badge")).to_have_text("available")
            row.locator("button[data-status=away]").click()
            # HTMX swaps the row in place: the badge changes without a page load
            expect(page.locator("#agent-a2 .badge")).to_have_text("away")
            expect(page.locator("#agent-a2 button[data-status=away]")).to_be_disabled()
            page.screenshot(path=str(tmp_path / "console-agents.png"), full_page=True)
            page.reload()
            expect(page.locator("#agent-a2 .badge")).to_have_text("away")
            # the team filter submits itself (console.js, not an inline handler)
            page.select_option("select[name=team]", "mumbai")
            expect(page).to_have_url(f"{server.url}/console/agents?team=mumbai")
            # My tokens: a first API token, shown once, that works
            page.click("nav >> text=My tokens")
            page.fill("input[name=name]", "browser")
            page.click("#create button[type=submit]")
            secret = page.locator("#token-secret").inner_text().strip()
            assert secret.startswith("lg_usr_")
            me = httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {secret}"},
                           timeout=10)
            assert me.status_code == 200 and me.json()["name"] == "boss@example.com"
            # a confirm() guard from data-confirm: dismissing it keeps the token
            page.goto(f"{server.url}/console/tokens")
            page.once("dialog", lambda dialog: dialog.dismiss())
            page.locator("#tokens button", has_text="Revoke").first.click()
            expect(page.locator("#tokens")).to_contain_text("browser")
            assert blocked == []
        finally:
            browser.close()


def test_manager_retries_a_dead_letter_without_csp_violations(server: Server,
                                                              console_db: str) -> None:
    from datetime import UTC, datetime

    from playwright.sync_api import expect, sync_playwright

    from leadgate.store import models as m

    lead = {"first_name": "Ravi", "phone": "+91 98123 45679", "city": "Mumbai",
            "product": "health"}
    r = httpx.post(f"{server.url}/v1/leads", content=json.dumps(lead),
                   headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                            "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 201, r.text
    app = make_app(console_db)
    try:
        with app.uow() as uow:  # a dead letter, as the worker leaves one
            now = datetime.now(UTC)
            d = m.Delivery(lead_id=r.json()["id"], destination_key="partner-hook",
                           idempotency_key="d" * 32, status="dead", attempts=3,
                           attempts_offset=0, position=0, reason="HTTP 500: down",
                           created_at=now, updated_at=now, finished_at=now)
            uow.session.add(d)
            uow.commit()
            delivery_id = d.id
    finally:
        app.close()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            blocked: list[str] = []
            page.on("console", lambda msg: blocked.append(msg.text)
                    if "Content Security Policy" in msg.text else None)
            page.goto(f"{server.url}/console/login")
            page.fill("input[name=email]", "boss@example.com")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.click("nav >> text=Deliveries")
            page.click("#status-tabs >> text=Dead letters")
            row = page.locator(f"#dl-{delivery_id}")
            expect(row.locator(".badge")).to_have_text("dead")
            row.locator("button", has_text="Retry").click()
            # HTMX swaps the row with the service's answer: queued again
            expect(page.locator(f"#dl-{delivery_id} .badge")).to_have_text("pending")
            expect(page.locator(f"#dl-{delivery_id} button", has_text="Retry")).to_have_count(0)
            assert blocked == []
        finally:
            browser.close()


def test_the_lead_list_shows_a_new_lead_without_reload(server: Server, tmp_path: Path) -> None:
    """Live push: the list is refreshed by a server-sent notice, not by polling."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            blocked: list[str] = []
            page.on("console", lambda msg: blocked.append(msg.text)
                    if "Content Security Policy" in msg.text else None)
            page.goto(f"{server.url}/console/login")
            page.fill("input[name=email]", "a1@example.com")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{server.url}/console/leads")
            assert page.locator("#lead-table").get_attribute("hx-trigger") \
                == "leadgate:changed from:body"
            page.wait_for_timeout(500)  # the event stream opens
            lead = {"first_name": "Kavya", "last_name": "Rao", "phone": "+91 98123 40001",
                    "city": "Mumbai", "product": "health"}
            r = httpx.post(f"{server.url}/v1/leads", content=json.dumps(lead),
                           headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                                    "Content-Type": "application/json"}, timeout=10)
            assert r.status_code == 201 and r.json()["assignee"]["key"] == "a1", r.text
            row = page.locator(f'#lead-table a[href="/console/leads/{r.json()["id"]}"]').last
            expect(row).to_contain_text("Kavya Rao", timeout=5000)
            assert blocked == []
        finally:
            browser.close()
