"""Supplier pre-ping over HTTP (quote, held price, expired / forged / reused ids),
returns (buyer sees only its purchases, window, rules, manager review, credits and
charge-backs) and money per lead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import PARTNER_KEY, PASSWORD, WEBSITE_KEY, FakeClock, apply_setup, make_app
from tests.integration.market_kit import (
    BuyerServer,
    buyer_servers,
    drain,
    lead_row,
    setup_text,
)

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.services import accounts

BUYERS = """\
  - {key: acme, price: bid, ping: acme-ping, destinations: [acme-post]}
  - {key: globex, price: bid, ping: globex-ping, destinations: [globex-post]}
  - {key: fixed, price: [{when: {field: age, lt: 40}, price: 15}, {price: 8}],
     destinations: [fixed-post]}
"""
TO = "{method: ping_post, buyers: [acme, globex, fixed], timeout: 200ms}"
MARKET = """\
market:
  margin: {percent: 10}
  ping_ttl: 5m
  return_window: 3d
  returns: {reasons: {disconnected: approve, fraud: review}, review_above: 100}
"""
PARTIAL = {"state": "CA", "age": 30, "product": "life"}
FULL = PARTIAL | {"first_name": "Asha", "phone": "+91 98000 00001"}


@pytest.fixture
def app(sqlite_url: str, clock: FakeClock) -> Iterator[App]:
    a = make_app(sqlite_url, clock)
    yield a
    a.close()


@pytest.fixture
def market(app: App) -> Iterator[dict[str, BuyerServer]]:
    with buyer_servers(BuyerServer("acme", 20), BuyerServer("globex", 12),
                       BuyerServer("fixed")) as srv:
        apply_setup(app, setup_text(srv, BUYERS, TO, MARKET))
        yield srv


@pytest.fixture
def client(app: App, market: Any) -> Iterator[TestClient]:
    with TestClient(create_app(app=app, worker=False)) as c:
        yield c


def call(client: TestClient, path: str, body: Any, key: str = WEBSITE_KEY) -> Any:
    return client.post(path, content=json.dumps(body),
                       headers={"Authorization": f"Bearer {key}",
                                "Content-Type": "application/json"})


def test_a_ping_quotes_the_best_price_less_margin_and_creates_no_lead(
        client: TestClient, market: dict[str, BuyerServer], app: App) -> None:
    r = call(client, "/v1/ping", PARTIAL)
    assert r.status_code == 200, r.text
    body = r.json()
    # acme bids 20 live, fixed pays 15 for age < 40: 20 less 10% = 18.00
    assert body["accept"] is True and body["price"] == "18.00"
    assert body["ping_id"] and body["expires_at"] == "2026-11-23T10:05:00+00:00"
    assert "phone" not in market["acme"].pings[0].json()
    lead_count = client.get("/v1/leads", headers=manager(app)).json()
    assert lead_count["items"] == []


def test_a_lead_posted_with_its_ping_id_is_held_to_the_quoted_price(
        client: TestClient, market: dict[str, BuyerServer], app: App) -> None:
    quote = call(client, "/v1/ping", PARTIAL).json()
    market["acme"].bid = 25  # the market moved: the lead now sells for more
    r = call(client, "/v1/leads", FULL | {"ping_id": quote["ping_id"]})
    assert r.status_code == 201, r.text
    assert r.json()["price"] == "18.00"
    lead_id = r.json()["id"]
    drain(app)
    _lead, ml, sales = lead_row(app, lead_id)
    assert [(s.buyer_key, s.price) for s in sales] == [("acme", 2500)]
    assert ml is not None and (ml.quoted, ml.cost, ml.revenue) == (1800, 1800, 2500)
    money = client.get(f"/v1/leads/{lead_id}/market", headers=manager(app)).json()["money"]
    assert money == money | {"revenue": "25.00", "supplier_cost": "18.00", "margin": "7.00",
                             "quoted": "18.00"}


def test_expired_forged_reused_and_altered_ping_ids_are_refused(
        client: TestClient, app: App, clock: FakeClock) -> None:
    quote = call(client, "/v1/ping", PARTIAL).json()
    token = quote["ping_id"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = call(client, "/v1/leads", FULL | {"ping_id": forged})
    assert (r.status_code, r.json()["code"]) == (422, "ping_invalid")
    r = call(client, "/v1/leads", FULL | {"age": 55, "ping_id": token})
    assert (r.status_code, r.json()["code"]) == (422, "ping_lead_mismatch")
    assert call(client, "/v1/leads", FULL | {"ping_id": token}).status_code == 201
    r = call(client, "/v1/leads", FULL | {"phone": "+91 98000 00002", "ping_id": token})
    assert (r.status_code, r.json()["code"]) == (409, "ping_used")
    late = call(client, "/v1/ping", PARTIAL).json()["ping_id"]
    clock.advance(minutes=5)
    r = call(client, "/v1/leads", FULL | {"phone": "+91 98000 00003", "ping_id": late})
    assert (r.status_code, r.json()["code"]) == (422, "ping_expired")
    assert r.headers["content-type"].startswith("application/problem+json")


def test_a_ping_from_another_campaigns_rules_not_for_sale(client: TestClient) -> None:
    body = call(client, "/v1/ping", {"state": "CA", "age": 30, "product": "health"},
                key=PARTNER_KEY).json()
    # the market flow sells every lead: health leads too; a user token may not ping
    assert body["accept"] is True
    r = client.post("/v1/ping", json=PARTIAL, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def manager(app: App) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(app, 'boss@example.com', 'manager')}"}


def token(app: App, email: str, role: str, buyer: str | None = None) -> str:
    with app.uow() as uow:
        from sqlalchemy import select

        from leadgate.store import models as m

        user = uow.session.scalar(select(m.User).where(m.User.email == email))
        if user is None:
            user = accounts.create_user(uow, email, PASSWORD, role, app.clock(),
                                        buyer_key=buyer)
        t = accounts.create_token(uow, user, "test", app.clock())
        uow.commit()
    return t


def sold_lead(client: TestClient, app: App, phone: str) -> int:
    r = call(client, "/v1/leads", FULL | {"phone": phone})
    assert r.status_code == 201, r.text
    drain(app)
    return int(r.json()["id"])


def test_returns_buyer_sees_only_its_purchases_rules_window_and_review(
        client: TestClient, app: App, clock: FakeClock,
        market: dict[str, BuyerServer]) -> None:
    acme = {"Authorization": f"Bearer {token(app, 'acme@example.com', 'buyer', 'acme')}"}
    globex = {"Authorization": f"Bearer {token(app, 'gx@example.com', 'buyer', 'globex')}"}
    boss = manager(app)
    first = sold_lead(client, app, "+91 98000 00011")
    second = sold_lead(client, app, "+91 98000 00012")
    third = sold_lead(client, app, "+91 98000 00013")
    sales = client.get("/v1/sales", headers=acme).json()["items"]
    assert sorted(s["lead_id"] for s in sales) == [first, second, third]
    assert client.get("/v1/sales", headers=globex).json()["items"] == []
    sale = {s["lead_id"]: s["id"] for s in sales}
    # another buyer cannot see, let alone return, acme's purchase
    r = client.post(f"/v1/sales/{sale[first]}/return", json={"reason": "disconnected"},
                    headers=globex)
    assert r.status_code == 404
    r = client.post(f"/v1/sales/{sale[first]}/return", json={"reason": "disconnected"},
                    headers=acme)
    assert r.status_code == 201 and r.json()["status"] == "approved", r.text
    assert r.json()["credit"] == "20.00" and "chargeback" not in r.json()  # the buyer's view
    decided = {x["sale_id"]: x for x in client.get("/v1/returns", headers=boss).json()["items"]}
    assert decided[sale[first]]["chargeback"] == "18.00"  # the manager's
    again = client.post(f"/v1/sales/{sale[first]}/return", json={"reason": "disconnected"},
                        headers=acme).json()
    assert again["code"] == "already_returned"
    r = client.post(f"/v1/sales/{sale[second]}/return", json={"reason": "fraud"},
                    headers=acme).json()
    assert r["status"] == "needs_review"
    queue = client.get("/v1/returns?status=needs_review", headers=boss).json()["items"]
    assert [q["id"] for q in queue] == [r["id"]]
    assert client.post(f"/v1/returns/{r['id']}/approve", headers=acme).status_code == 403
    done = client.post(f"/v1/returns/{r['id']}/approve", headers=boss).json()
    assert done["status"] == "approved" and done["decided_by"] == "user:boss@example.com"
    clock.advance(days=3, seconds=1)
    late = client.post(f"/v1/sales/{sale[third]}/return", json={"reason": "disconnected"},
                       headers=acme).json()
    assert (late["status"], late["code"]) == ("refused", "window_closed")
    money = client.get("/v1/market/money", headers=boss).json()
    assert money["revenue"] == "60.00" and money["credited"] == "40.00"
    assert money["supplier_cost"] == "54.00" and money["charged_back"] == "36.00"
    assert money["margin"] == "2.00"  # 60 - 40 - (54 - 36)
    assert money["return_rates"]["buyers"]["acme"] == {"sold": 3, "returned": 2,
                                                       "rate": 0.6667}
    lead_money = client.get(f"/v1/leads/{first}/market", headers=boss).json()["money"]
    assert lead_money["credited"] == "20.00" and lead_money["margin"] == "0.00"


def test_console_buyers_returns_queue_and_the_auction_trace_on_the_lead_page(
        client: TestClient, app: App, market: dict[str, BuyerServer]) -> None:
    from tests.integration.test_console_pages import csrf_of, login

    acme = {"Authorization": f"Bearer {token(app, 'acme@example.com', 'buyer', 'acme')}"}
    token(app, "boss@example.com", "manager")
    lead_id = sold_lead(client, app, "+91 98000 00021")
    sale = client.get("/v1/sales", headers=acme).json()["items"][0]
    ret = client.post(f"/v1/sales/{sale['id']}/return", json={"reason": "fraud"},
                      headers=acme).json()
    assert login(client, "boss@example.com").status_code == 303
    page = client.get("/console/buyers")
    assert page.status_code == 200
    assert 'id="buyer-acme"' in page.text and "100% of 1" in page.text
    lead_page = client.get(f"/console/leads/{lead_id}")
    assert 'id="market-trace"' in lead_page.text
    assert "won with 20.00" in lead_page.text and "globex" in lead_page.text
    queue = client.get("/console/returns")
    assert f'id="return-{ret["id"]}"' in queue.text
    r = client.post(f"/console/returns/{ret['id']}/refuse",
                    data={"csrf_token": csrf_of(queue), "note": "looks fine"},
                    follow_redirects=False)
    assert r.status_code == 303
    done = client.get("/v1/returns", headers=manager(app)).json()["items"][0]
    assert (done["status"], done["code"], done["text"]) == (
        "refused", "refused_by_manager", "looks fine")
