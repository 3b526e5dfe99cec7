"""A buyer's user in the console and the API: its own purchases with a Return form,
its returns, and none of the team's pages or data (reps, teams, leads, flows, live
notices)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import PASSWORD, FakeClock, apply_setup, create_users, make_app
from tests.integration.market_kit import capture, drain, returns_setup
from tests.integration.test_console_pages import csrf_of, login

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.services import accounts
from leadgate.store import market as mk
from leadgate.store import models as m

SETUP = returns_setup("  - {key: acme, price: 20, weight: 50}\n"
                      "  - {key: globex, price: 15, weight: 50}\n", "[acme, globex]")
SALE_ROW = re.compile(r'<tr id="sale-(\d+)">')


@pytest.fixture
def app(sqlite_url: str, clock: FakeClock) -> Iterator[App]:
    a = make_app(sqlite_url, clock)
    apply_setup(a, SETUP)
    create_users(a)
    with a.uow() as uow:
        for key in ("acme", "globex"):
            accounts.create_user(uow, f"{key}@example.com", PASSWORD, "buyer", a.clock(),
                                 buyer_key=key)
        uow.commit()
    for i in range(4):
        capture(a, i)
    drain(a)
    yield a
    a.close()


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(app=app, worker=False)) as c:
        yield c


@pytest.fixture
def acme_token(app: App) -> str:
    """An API token of acme's buyer user."""
    with app.uow() as uow:
        user = uow.session.scalar(select(m.User).where(m.User.email == "acme@example.com"))
        assert user is not None
        token = accounts.create_token(uow, user, "script", app.clock())
        uow.commit()
    return token


def sales_of(app: App, buyer: str) -> list[int]:
    with app.reader() as uow:
        return list(uow.session.scalars(select(mk.Sale.id).where(mk.Sale.buyer_key == buyer)
                                        .order_by(mk.Sale.id.desc())))


def shown_sales(page: str) -> list[int]:
    return [int(x) for x in SALE_ROW.findall(page)]


def test_a_buyer_lands_on_its_own_purchases_only(client: TestClient, app: App) -> None:
    assert sales_of(app, "acme") and sales_of(app, "globex")  # both bought leads
    r = login(client, "acme@example.com")
    assert r.status_code == 303
    landing = client.get(r.headers["location"], follow_redirects=False)
    assert (landing.status_code, landing.headers["location"]) == (303, "/console/purchases")
    page = client.get("/console/purchases")
    assert page.status_code == 200
    assert shown_sales(page.text) == sales_of(app, "acme")  # never globex's
    assert "Your purchases" in page.text and "within 3 days" in page.text
    nav = page.text.split("<nav>", 1)[1].split("</nav>", 1)[0]
    assert "/console/purchases" in nav and "/console/agents" not in nav \
        and "/console/leads" not in nav


@pytest.mark.parametrize("path", ["/console/agents", "/console/teams", "/console/inbox",
                                  "/console/leads/table", "/console/leads/1",
                                  "/console/events", "/console/buyers", "/console/returns"])
def test_a_buyer_never_sees_the_teams_pages(client: TestClient, path: str) -> None:
    login(client, "acme@example.com")
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 403, (path, r.status_code)
    assert "Agent One" not in r.text


def test_a_buyer_returns_a_purchase_and_a_manager_reviews_it(client: TestClient,
                                                             app: App) -> None:
    login(client, "acme@example.com")
    page = client.get("/console/purchases")
    first, second = sales_of(app, "acme")[:2]
    token = csrf_of(page)
    # no reason: refused on the page, nothing stored
    r = client.post(f"/console/purchases/{first}/return", data={"csrf_token": token,
                                                                "reason": "  "})
    assert r.status_code == 422 and 'id="return-error"' in r.text
    with app.reader() as uow:
        assert list(uow.session.scalars(select(mk.SaleReturn))) == []
    # a reason the rules approve: credited at once
    r = client.post(f"/console/purchases/{first}/return",
                    data={"csrf_token": token, "reason": "disconnected"})
    assert r.status_code == 201 and 'id="return-done"' in r.text
    assert f"Return of sale {first}: approved" in r.text and "Credited 20.00" in r.text
    assert "website" not in r.text  # the supplier (a source) is not the buyer's business
    assert f'id="sale-{first}"' in r.text and "returned" in r.text
    assert f'action="/console/purchases/{first}/return"' not in r.text  # no form now
    # posted again anyway: the rules refuse it, nothing is credited twice
    r = client.post(f"/console/purchases/{first}/return",
                    data={"csrf_token": token, "reason": "disconnected"})
    assert r.status_code == 201 and f"Return of sale {first}: refused" in r.text
    assert f"sale {first} was already returned" in r.text
    with app.reader() as uow:
        credited = uow.session.scalars(select(mk.SaleReturn.credit).where(
            mk.SaleReturn.sale_id == first))
        assert sorted(credited) == [0, 2000]
    # a reason for review waits for a manager
    r = client.post(f"/console/purchases/{second}/return",
                    data={"csrf_token": token, "reason": "fraud"})
    assert r.status_code == 201 and "needs review" in r.text
    assert "waiting for review" in r.text
    # someone else's sale: not found, whatever its id
    other = sales_of(app, "globex")[0]
    r = client.post(f"/console/purchases/{other}/return",
                    data={"csrf_token": token, "reason": "disconnected"})
    assert r.status_code == 404
    # the manager approves the one waiting
    client.post("/console/logout", data={"csrf_token": csrf_of(client.get("/console/tokens"))})
    login(client, "boss@example.com")
    queue = client.get("/console/returns")
    waiting = re.search(r'action="/console/returns/(\d+)/approve"', queue.text)
    assert waiting is not None
    r = client.post(f"/console/returns/{waiting.group(1)}/approve",
                    data={"csrf_token": csrf_of(queue)}, follow_redirects=False)
    assert r.status_code == 303
    with app.reader() as uow:
        statuses = dict(uow.session.execute(select(mk.Sale.id, mk.Sale.status).where(
            mk.Sale.id.in_([first, second]))).all())
    assert statuses == {first: "returned", second: "returned"}
    # the manager's Sales page lists every buyer's sales
    sales = client.get("/console/purchases")
    assert sales.status_code == 200 and "<h1>Sales</h1>" in sales.text
    assert sorted(shown_sales(sales.text)) == sorted(sales_of(app, "acme") +
                                                     sales_of(app, "globex"))


def test_an_agent_has_no_purchases_page(client: TestClient) -> None:
    login(client, "a1@example.com")
    assert client.get("/console/purchases").status_code == 403


@pytest.mark.parametrize("path", ["/v1/agents", "/v1/agents/a1", "/v1/teams", "/v1/leads",
                                  "/v1/leads/1", "/v1/flows", "/v1/vocabulary", "/v1/queues",
                                  "/v1/offers", "/v1/events", "/v1/deliveries",
                                  "/v1/suppressions", "/v1/buyers", "/v1/market/money"])
def test_a_buyers_api_token_reaches_none_of_the_teams_data(client: TestClient,
                                                           acme_token: str, path: str) -> None:
    r = client.get(path, headers={"Authorization": f"Bearer {acme_token}"})
    assert r.status_code == 403, (path, r.status_code, r.text[:200])
    assert "Agent One" not in r.text


def test_a_buyers_api_token_has_its_purchases_returns_and_tokens(
        client: TestClient, app: App, acme_token: str) -> None:
    auth = {"Authorization": f"Bearer {acme_token}"}
    sales = client.get("/v1/sales", headers=auth)
    assert sales.status_code == 200
    assert [s["id"] for s in sales.json()["items"]] == sales_of(app, "acme")
    assert all("payout" not in s for s in sales.json()["items"])  # the supplier's share
    first = sales.json()["items"][0]["id"]
    made = client.post(f"/v1/sales/{first}/return", headers=auth,
                       json={"reason": "disconnected"})
    assert made.status_code == 201, made.text
    assert made.json()["text"] == "credit 20.00 to acme" and "chargeback" not in made.json()
    listed = client.get("/v1/returns", headers=auth)
    assert listed.status_code == 200
    assert [(x["sale_id"], x["text"]) for x in listed.json()["items"]] == [
        (first, "credit 20.00 to acme")]
    assert "website" not in listed.text
    assert client.get("/v1/tokens", headers=auth).status_code == 200
    assert client.get("/v1/me", headers=auth).json()["role"] == "buyer"
