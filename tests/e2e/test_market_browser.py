"""The marketplace console in a real browser (Debian chromium driven by Playwright)
against a real ``leadgate serve`` process that sells the leads with its own worker: a
buyer returns its purchases, a manager reviews the return, sees the buyers board and a
sold lead's market card; no Content-Security-Policy violation anywhere."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import PASSWORD, WEBSITE_KEY, apply_setup, create_users, make_app
from tests.e2e.servers import Server
from tests.e2e.test_console_browser import ARGS, CHROMIUM, require_chromium
from tests.e2e.test_inbox_browser import log_in, watch_csp
from tests.integration.market_kit import returns_setup

from leadgate.services import accounts

pytestmark = pytest.mark.browser

SETUP = returns_setup("  - {key: acme, name: Acme Insurance, price: 20}\n", "[acme]")


@pytest.fixture
def market_server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    require_chromium()
    url = f"sqlite:///{tmp_path / 'market.db'}"
    app = make_app(url)
    apply_setup(app, SETUP)
    tokens = create_users(app)
    with app.uow() as uow:
        accounts.create_user(uow, "buyer@acme.example", PASSWORD, "buyer", app.clock(),
                             buyer_key="acme")
        uow.commit()
    app.close()
    srv = Server(url, log=tmp_path / "serve.log")
    try:
        yield srv, tokens["manager"]
    finally:
        srv.stop()


def sold_leads(server: Server, manager_token: str, n: int) -> list[dict[str, object]]:
    """Post ``n`` leads and wait for the server's worker to sell them all."""
    for i in range(n):
        lead = {"first_name": "Asha", "last_name": "Rao", "phone": f"+91 98000 1{i:04d}",
                "email": f"buyer-test-{i}@example.com", "state": "CA", "age": 30,
                "product": "life"}
        r = httpx.post(f"{server.url}/v1/leads", content=json.dumps(lead),
                       headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                                "Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 201, r.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = httpx.get(f"{server.url}/v1/sales",
                          headers={"Authorization": f"Bearer {manager_token}"},
                          timeout=10).json()["items"]
        if len(items) == n:
            return list(items)
        time.sleep(0.2)
    raise AssertionError(f"the worker did not sell {n} leads in 30 s")


def test_a_buyer_returns_purchases_and_a_manager_reviews_them(
        market_server: tuple[Server, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    server, manager_token = market_server
    sales = sold_leads(server, manager_token, 3)
    first, second = sales[-1], sales[-2]  # the oldest two (newest first)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            blocked = watch_csp(page)
            # the buyer lands on its purchases, with nothing of the team in sight
            page.goto(f"{server.url}/console/login")
            page.fill("input[name=email]", "buyer@acme.example")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{server.url}/console/purchases")
            expect(page.locator("h1")).to_have_text("Your purchases")
            expect(page.locator("#purchases tbody tr")).to_have_count(3)
            expect(page.locator("nav")).not_to_contain_text("Agents")
            # a return the rules approve: credited at once
            row = page.locator(f"#sale-{first['id']}")
            row.locator("input[name=reason]").fill("disconnected")
            row.locator("button", has_text="Return").click()
            expect(page.locator("#return-done")).to_contain_text(
                f"Return of sale {first['id']}: approved")
            expect(page.locator("#return-done")).to_contain_text("Credited 20.00")
            expect(page.locator(f"#sale-{first['id']} .badge")).to_have_text("returned")
            # a return the rules send to a manager
            row = page.locator(f"#sale-{second['id']}")
            row.locator("input[name=reason]").fill("fraud")
            row.locator("button", has_text="Return").click()
            expect(page.locator("#return-done")).to_contain_text("needs review")
            expect(page.locator(f"#sale-{second['id']}")).to_contain_text("waiting for review")
            page.screenshot(path=str(tmp_path / "purchases.png"), full_page=True)
            page.click("button:has-text('Log out')")

            # the manager approves it from the returns queue
            log_in(page, server, "boss@example.com", to="/console/returns")
            waiting = page.locator("#returns tbody tr", has_text="fraud")
            expect(waiting).to_have_count(1)
            waiting.locator("button", has_text="Approve").click()
            expect(page.locator("#returns tbody tr", has_text="fraud")).to_have_count(0)
            page.click(".filters >> text=all")
            expect(page.locator("#returns tbody tr .badge", has_text="approved")).to_have_count(2)
            # the buyers board and a sold lead's market card
            page.click("nav >> text=Buyers")
            expect(page.locator("#buyer-acme")).to_contain_text("acme")
            page.screenshot(path=str(tmp_path / "buyers.png"), full_page=True)
            kept = sales[0]
            page.goto(f"{server.url}/console/leads/{kept['lead_id']}")
            expect(page.locator("#market-trace")).to_contain_text("Acme Insurance was eligible")
            expect(page.locator("#market")).to_contain_text("sold")
            expect(page.locator("#timeline")).to_contain_text("sold")
            assert blocked == []
        finally:
            browser.close()
    with httpx.Client(base_url=server.url,
                      headers={"Authorization": f"Bearer {manager_token}"}) as api:
        statuses = {s["id"]: s["status"] for s in api.get("/v1/sales").json()["items"]}
    assert statuses == {first["id"]: "returned", second["id"]: "returned",
                        sales[0]["id"]: "sold"}
