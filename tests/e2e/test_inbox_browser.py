"""The rep's inbox in a real browser (Debian chromium driven by Playwright) against a
real ``leadgate serve`` process on a SQLite file: an offer pushed over server-sent
events without reload, and two reps racing to claim the same shotgun lead."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import PASSWORD, WEBSITE_KEY, apply_setup, create_users, make_app
from tests.e2e.servers import Server
from tests.e2e.test_console_browser import ARGS, CHROMIUM, require_chromium
from tests.integration.workloop import setup_with

from leadgate.store import models as m

pytestmark = pytest.mark.browser

WORK = setup_with("""
  - key: insurance
    rules:
      - name: Mumbai
        when: {field: city, eq: Mumbai}
        to: {agents: [a1, a2], method: shotgun, accept_within: 2m}
      - name: Delhi
        when: {field: city, eq: Delhi}
        to: {agents: [a1], method: round_robin, accept_within: 5m}
    fallback: {queue: unassigned}
""")

#: Stands in for the browser's Notification API (a headless browser shows none):
#: records what the inbox would show, and grants permission when asked.
NOTIFICATION_STUB = """
window.__notes = [];
window.Notification = function (title, options) {
  window.__notes.push([title, (options || {}).body || ""]);
};
window.Notification.permission = "default";
window.Notification.requestPermission = function () {
  window.Notification.permission = "granted";
  return Promise.resolve("granted");
};
"""


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'inbox.db'}"


@pytest.fixture
def tokens(db: str) -> dict[str, str]:
    require_chromium()
    app = make_app(db)
    try:
        apply_setup(app, WORK)
        return create_users(app)
    finally:
        app.close()


@pytest.fixture
def server(tmp_path: Path, db: str, tokens: dict[str, str]) -> Iterator[Server]:
    srv = Server(db, log=tmp_path / "serve.log")
    try:
        yield srv
    finally:
        srv.stop()


def post_lead(server: Server, **fields: str) -> dict[str, Any]:
    r = httpx.post(f"{server.url}/v1/leads", content=json.dumps(fields),
                   headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                            "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def log_in(page: Any, server: Server, email: str, to: str = "/console/inbox") -> None:
    """Log in through the form and land on the console page ``to``."""
    from playwright.sync_api import expect

    page.goto(f"{server.url}/console/login?next={to}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}{to}")


def watch_csp(page: Any) -> list[str]:
    blocked: list[str] = []
    page.on("console", lambda msg: blocked.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    return blocked


def test_a_new_offer_arrives_in_the_open_inbox_without_reload(server: Server,
                                                              tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(NOTIFICATION_STUB)
            page = context.new_page()
            blocked = watch_csp(page)
            log_in(page, server, "a1@example.com")
            expect(page.locator("#inbox-offers")).to_contain_text("No offers waiting for you.")
            # the permission button asks once, then hides itself
            ask = page.locator("#notify-permission")
            expect(ask).to_be_visible()
            ask.click()
            expect(ask).to_be_hidden()
            page.evaluate("window.__sameDocument = true")
            page.wait_for_timeout(500)  # the event stream opens

            lead = post_lead(server, first_name="Meera", last_name="Iyer",
                             phone="+91 98123 40011", city="Delhi")
            assert lead["status"] == "offered", lead
            row = page.locator(f'#inbox-offers tr[data-lead="{lead["id"]}"]')
            expect(row).to_contain_text("Meera Iyer", timeout=5000)
            countdown = row.locator(".countdown")
            expect(countdown).to_have_text(re.compile(r"^[45]:\d\d left$"))
            first = countdown.inner_text()
            expect(countdown).not_to_have_text(first, timeout=3000)  # it counts down
            assert page.evaluate("window.__sameDocument") is True  # no reload happened
            assert page.get_attribute("body", "data-offer-alerts") == "1"  # the beep
            assert page.evaluate("window.__notes") == [
                ["New lead offered", f"#{lead['id']} Meera Iyer waiting for you in the inbox."]]
            page.screenshot(path=str(tmp_path / "inbox-offer.png"), full_page=True)

            # accepting moves it to "My open leads", still without a reload
            row.locator("button", has_text="Accept").click()
            expect(page.locator(f'#inbox-mine tr[data-lead="{lead["id"]}"]')).to_be_visible()
            expect(page.locator(f'#inbox-offers tr[data-lead="{lead["id"]}"]')).to_have_count(0)
            expect(page.locator("#flash")).to_contain_text(f"Lead {lead['id']} is yours.")
            assert page.evaluate("window.__sameDocument") is True
            assert blocked == []
        finally:
            browser.close()


def test_two_reps_racing_to_claim_a_shotgun_lead_end_with_one_winner(
        server: Server, db: str, tokens: dict[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            pages, blocked = {}, []
            for key in ("a1", "a2"):
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                blocked.append(watch_csp(page))
                log_in(page, server, f"{key}@example.com")
                pages[key] = page
            pages["a2"].wait_for_timeout(500)  # both event streams open

            lead = post_lead(server, first_name="Arjun", last_name="Menon",
                             phone="+91 98123 40012", city="Mumbai")
            assert lead["status"] == "offered", lead
            button = f'#shotgun-{lead["id"]} button.claim'
            for page in pages.values():  # pushed to both reps over SSE
                expect(page.locator(button)).to_be_visible(timeout=5000)
                expect(page.locator(f'#shotgun-{lead["id"]} .countdown')).to_have_text(
                    re.compile(r"^[12]:\d\d left$"))
            # both click at the same instant: each page schedules its click for the
            # same moment of the (shared) clock
            at = pages["a1"].evaluate("Date.now()") + 800
            for page in pages.values():
                page.evaluate("([sel, at]) => setTimeout(() => document.querySelector(sel)"
                              ".click(), at - Date.now())", [button, at])

            manager = {"Authorization": f"Bearer {tokens['manager']}"}
            winner = None
            for _ in range(50):
                r = httpx.get(f"{server.url}/v1/leads/{lead['id']}", headers=manager,
                              timeout=10)
                if r.json()["status"] == "assigned":
                    winner = r.json()["assignee"]["key"]
                    break
                pages["a1"].wait_for_timeout(100)
            assert winner in ("a1", "a2")
            loser = "a2" if winner == "a1" else "a1"

            expect(pages[winner].locator(f'#inbox-mine tr[data-lead="{lead["id"]}"]')) \
                .to_be_visible(timeout=5000)
            flash = pages[loser].locator("#flash")
            expect(flash).to_be_visible(timeout=5000)
            expect(flash).to_have_text("Someone else claimed this lead.")
            # the loser's list drops the lead (refreshed after the 409 and the notice)
            expect(pages[loser].locator(f"#shotgun-{lead['id']}")).to_have_count(0)
            pages[loser].screenshot(path=str(tmp_path / "inbox-claim-lost.png"),
                                    full_page=True)

            offers = {status: httpx.get(
                f"{server.url}/v1/offers", params={"lead_id": lead["id"], "status": status},
                headers=manager, timeout=10).json()["items"] for status in ("accepted", "lost")}
            assert [o["agent"] for o in offers["accepted"]] == [winner]
            assert [o["agent"] for o in offers["lost"]] == [loser]
            app = make_app(db)
            try:
                with app.reader() as uow:
                    rows = uow.session.scalars(select(m.Assignment).where(
                        m.Assignment.lead_id == lead["id"])).all()
                    assert [(r.agent.key, r.status) for r in rows] == [(winner, "active")]
                    claims = uow.session.scalars(select(m.LeadEvent).where(
                        m.LeadEvent.lead_id == lead["id"],
                        m.LeadEvent.type == "claimed")).all()
                    assert [e.data["agent"] for e in claims] == [winner]
            finally:
                app.close()
            log = (tmp_path / "serve.log").read_text()
            assert " 500 " not in log and "Traceback" not in log
            assert blocked == [[], []]
        finally:
            browser.close()


def test_a_manager_sees_an_offer_in_flight_and_reassigns_it(
        server: Server, tokens: dict[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            blocked = watch_csp(page)
            page.goto(f"{server.url}/console/login?next=/console/offers")
            page.fill("input[name=email]", "boss@example.com")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{server.url}/console/offers")
            expect(page.locator("#in-flight")).to_contain_text("No offers in flight.")
            page.wait_for_timeout(500)  # the event stream opens

            lead = post_lead(server, first_name="Sana", last_name="Khan",
                             phone="+91 98123 40013", city="Delhi")
            row = page.locator(f'#in-flight tr[data-lead="{lead["id"]}"]')
            expect(row).to_contain_text("Agent One", timeout=5000)  # live, no reload
            expect(row.locator(".countdown")).to_have_text(re.compile(r"^[45]:\d\d left$"))
            page.screenshot(path=str(tmp_path / "offers.png"), full_page=True)
            row.locator("select[name=to]").select_option("agent:a2")
            row.locator("input[name=reason]").fill("a1 is on a call")
            row.locator("button", has_text="Reassign").click()
            expect(page.locator("#flash")).to_contain_text(f"Lead {lead['id']} reassigned.")
            expect(page.locator(f'#in-flight tr[data-lead="{lead["id"]}"]')).to_have_count(0)
            r = httpx.get(f"{server.url}/v1/leads/{lead['id']}",
                          headers={"Authorization": f"Bearer {tokens['manager']}"}, timeout=10)
            assert (r.json()["status"], r.json()["assignee"]["key"]) == ("assigned", "a2")
            assert blocked == []
        finally:
            browser.close()
