"""The marketplace's correctness gaps (issue 10), on SQLite and PostgreSQL: a ping id is
used up only by an accepted lead (exactly one of two concurrent posts), pre-ping prices
on the campaign's normalised values, and an approved return gives the sale's price back
to the buyer's budget of the sale's window exactly once (caps are not freed)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import WEBSITE_KEY, FakeClock, apply_setup
from tests.integration.market_kit import BuyerServer, buyer_servers, drain, setup_text

from leadgate.api.app import create_app
from leadgate.bootstrap import App
from leadgate.domain.errors import Conflict
from leadgate.services.market import returns
from leadgate.services.principal import Principal
from leadgate.store import market as mk
from leadgate.store import models as m

BUYERS = """\
  - {key: acme, price: bid, ping: acme-ping, destinations: [acme-post]}
  - {key: fixed, price: [{when: {field: product, eq: life}, price: 15}, {price: 8}],
     timezone: Asia/Kolkata, caps: {daily: 2}, budget: {daily: 100, monthly: 1000},
     destinations: [fixed-post]}
"""
TO = "{method: ping_post, buyers: [acme, fixed], timeout: 200ms}"
MARKET = """\
market:
  margin: {percent: 10}
  ping_ttl: 5m
  return_window: 3d
  returns: {reasons: {disconnected: approve, fraud: review}}
"""
PARTIAL = {"age": 30, "product": "life"}
FULL = PARTIAL | {"first_name": "Asha", "phone": "+91 98000 00001"}


@pytest.fixture
def market(app: App) -> Iterator[dict[str, BuyerServer]]:
    with buyer_servers(BuyerServer("acme", None), BuyerServer("fixed")) as srv:
        apply_setup(app, setup_text(srv, BUYERS, TO, MARKET))
        yield srv


@pytest.fixture
def client(app: App, market: Any) -> Iterator[TestClient]:
    with TestClient(create_app(app=app, worker=False)) as c:
        yield c


def call(client: TestClient, path: str, body: Any) -> Any:
    return client.post(path, content=json.dumps(body),
                       headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                                "Content-Type": "application/json"})


def used_pings(app: App) -> list[tuple[int | None]]:
    with app.reader() as uow:
        return [tuple(r) for r in uow.session.execute(select(mk.MarketPing.lead_id))]


# --- 1. a ping id is used up only when its lead is accepted ---------------------------


def test_a_refused_post_leaves_the_ping_id_for_a_corrected_lead(
        client: TestClient, app: App) -> None:
    token = call(client, "/v1/ping", PARTIAL).json()["ping_id"]
    refused = call(client, "/v1/leads", PARTIAL | {"phone": "+91 98000 00001",
                                                   "ping_id": token})
    assert refused.status_code == 422, refused.text  # first_name is required
    assert used_pings(app) == []
    fixed = call(client, "/v1/leads", FULL | {"ping_id": token})
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["price"] == "13.50"
    assert used_pings(app) == [(fixed.json()["id"],)]
    again = call(client, "/v1/leads", FULL | {"phone": "+91 98000 00002", "ping_id": token})
    assert (again.status_code, again.json()["code"]) == (409, "ping_used")


def test_two_posts_of_one_ping_id_at_once_accept_exactly_one(
        client: TestClient, app: App) -> None:
    token = call(client, "/v1/ping", PARTIAL).json()["ping_id"]
    gate = threading.Barrier(2)
    answers: list[Any] = []

    def post(phone: str) -> None:
        gate.wait()
        answers.append(call(client, "/v1/leads", FULL | {"phone": phone, "ping_id": token}))

    threads = [threading.Thread(target=post, args=(f"+91 98000 0000{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in answers)
    assert codes == [201, 409], [r.text for r in answers]
    assert next(r for r in answers if r.status_code == 409).json()["code"] == "ping_used"
    with app.reader() as uow:
        leads = uow.session.scalars(select(m.Lead.id)).all()
    assert len(leads) == 1 and used_pings(app) == [(leads[0],)]


# --- 2. pre-ping prices on normalised values ------------------------------------------


def test_a_ping_prices_normalised_values_and_the_post_matches_them(
        client: TestClient, app: App) -> None:
    # "LIFE" is the enum value life once normalised: the fixed buyer pays 15, not 8
    body = call(client, "/v1/ping", {"age": "30", "product": " LIFE ",
                                     "phone": "098000 00001"}).json()
    assert body["accept"] is True and body["price"] == "13.50"
    # the post writes the phone and product the capture way: the same lead, no mismatch
    r = call(client, "/v1/leads", FULL | {"ping_id": body["ping_id"]})
    assert r.status_code == 201, r.text
    assert r.json()["price"] == "13.50"
    # a field the ping does not carry is not required; a different phone is refused
    other = call(client, "/v1/ping", {"product": "Life", "phone": "+91 98000 00009"}).json()
    assert other["price"] == "13.50"
    r = call(client, "/v1/leads", FULL | {"phone": "+91 98000 00008",
                                          "ping_id": other["ping_id"]})
    assert (r.status_code, r.json()["code"]) == (422, "ping_lead_mismatch")


# --- 3. returns give the budget back --------------------------------------------------


BOSS = Principal(kind="user", name="boss", role="manager", user_id=99)


def sell(client: TestClient, app: App, phone: str) -> int:
    r = call(client, "/v1/leads", FULL | {"phone": phone})
    assert r.status_code == 201, r.text
    drain(app)
    with app.reader() as uow:
        sale = uow.session.scalar(select(mk.Sale).where(mk.Sale.lead_id == r.json()["id"]))
    assert sale is not None and sale.buyer_key == "fixed" and sale.status == "sold"
    return sale.id


def load(app: App) -> mk.BuyerLoadRow:
    with app.reader() as uow:
        row = uow.session.get(mk.BuyerLoadRow, "fixed")
        assert row is not None
        uow.session.expunge(row)
    return row


def test_an_approved_return_refunds_the_budget_once_and_keeps_the_cap(
        client: TestClient, app: App, clock: FakeClock) -> None:
    boss = BOSS
    first = sell(client, app, "+91 98000 00021")
    second = sell(client, app, "+91 98000 00022")
    row = load(app)
    assert (row.day_spent, row.month_spent, row.day_count) == (3000, 3000, 2)
    # two managers approve the same review at the same moment: one approval counts
    with app.uow() as uow:
        ret = returns.request_return(uow, boss, first, "fraud", clock())
    assert ret["status"] == "needs_review"
    gate = threading.Barrier(2)
    outcomes: list[str] = []

    def approve() -> None:
        gate.wait()
        try:
            with app.uow() as uow:
                outcomes.append(returns.review(uow, boss, ret["id"], True, clock())["status"])
        except Conflict as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["approved", "return_decided"]
    row = load(app)
    assert (row.day_spent, row.month_spent) == (1500, 1500)  # 15.00 back, once
    # the cap is not freed: the buyer received two leads today (cap 2)
    assert row.day_count == 2
    r = call(client, "/v1/leads", FULL | {"phone": "+91 98000 00023"})
    drain(app)
    with app.reader() as uow:
        assert uow.session.scalar(select(mk.Sale).where(
            mk.Sale.lead_id == r.json()["id"])) is None
        sale = uow.session.get(mk.Sale, first)
        assert sale is not None and sale.status == "returned"
        ml = uow.session.get(mk.MarketLead, sale.lead_id)
        assert ml is not None and ml.credited == 1500
    # the buyer's next day (Asia/Kolkata: 00:30 on 2026-11-24) has its own budget: a
    # return of yesterday's sale gives back to the month only
    clock.advance(hours=9)
    third = sell(client, app, "+91 98000 00024")
    with app.uow() as uow:
        assert returns.request_return(uow, boss, second, "disconnected",
                                      clock())["status"] == "approved"
    row = load(app)
    assert (row.day_spent, row.month_spent) == (1500, 1500)
    with app.uow() as uow:
        again = returns.request_return(uow, boss, second, "disconnected", clock())
    assert again["code"] == "already_returned"
    assert load(app).month_spent == 1500 and third


# --- 4. a ping post auction sells a shared lead to up to N bidders --------------------

SHARED = """\
  - {key: a, price: bid, ping: a-ping, sale: {shared: 2}, destinations: [a-post]}
  - {key: x, price: bid, ping: x-ping, destinations: [x-post]}
  - {key: b, price: bid, ping: b-ping, sale: {shared: 2}, destinations: [b-post]}
  - {key: c, price: bid, ping: c-ping, sale: {shared: 2}, destinations: [c-post]}
  - {key: d, price: bid, ping: d-ping, sale: {shared: 2}, destinations: [d-post]}
"""


def test_a_shared_lead_is_sold_to_up_to_n_bidders_in_bid_order(app: App) -> None:
    from tests.integration.market_kit import capture, lead_row, sale_event

    from leadgate.services.market.ledger import money

    with buyer_servers(BuyerServer("a", 30), BuyerServer("x", 25),
                       BuyerServer("b", 20, accept=False), BuyerServer("c", 15),
                       BuyerServer("d", 10)) as srv:
        apply_setup(app, setup_text(
            srv, SHARED, "{method: ping_post, buyers: [a, x, b, c, d], timeout: 300ms}",
            "market: {margin: {percent: 10}}\n"))
        lead_id = capture(app, 1)
        drain(app)
    lead, ml, sales = lead_row(app, lead_id)
    # a buys (shared); x is exclusive: not posted a shared lead; b rejects; c buys and
    # the lead is full (2 sales): d is not posted
    assert lead.status == "sold"
    assert sorted((s.buyer_key, money(s.price), s.bid_id, s.status) for s in sales) == [
        ("a", money(3000), "a-1", "sold"), ("c", money(1500), "c-1", "sold")]
    assert ml is not None and (ml.sales, ml.revenue, ml.cost) == (2, 4500, 4050)
    assert [p.json()["bid_id"] for p in srv["a"].posts] == ["a-1"]
    assert [p.json()["bid_id"] for p in srv["b"].posts] == ["b-1"]
    assert [p.json()["bid_id"] for p in srv["c"].posts] == ["c-1"]
    assert not srv["x"].posts and not srv["d"].posts
    ev = sale_event(app, lead_id)
    assert ev["buyer"] == "a" and ev["buyers"] == ["a", "c"]
    trace = ev["trace"]
    assert trace["outcome"] == "sold" and trace["sold"] == ["a", "c"]
    assert [(p["buyer"], p["result"]) for p in trace["posts"]] == [
        ("a", "sold"), ("x", "refused"), ("b", "rejected"), ("c", "sold"), ("d", "refused")]
    # d is struck off without a reservation's statement, its line as any refusal's
    assert trace["posts"][4] == {"buyer": "d", "price": "10.00", "bid_id": "d-1",
                                 "result": "refused", "reason": "sold_out"}
    assert trace["rejected"] == ["x", "b", "d"] and trace["winner"] is None
    assert {b["buyer"]: b["status"] for b in trace["buyers"]}["c"] == "sold"


def test_a_retried_ping_post_with_its_idempotency_key_replays_the_first_answer(
        client: TestClient, app: App) -> None:
    token = call(client, "/v1/ping", PARTIAL).json()["ping_id"]

    def post(body: dict[str, Any], key: str) -> Any:
        return client.post("/v1/leads", content=json.dumps(body),
                           headers={"Authorization": f"Bearer {WEBSITE_KEY}",
                                    "Content-Type": "application/json",
                                    "Idempotency-Key": key})

    first = post(FULL | {"ping_id": token}, "supplier-42")
    assert first.status_code == 201, first.text
    again = post(FULL | {"ping_id": token}, "supplier-42")  # the supplier's retry
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["price"] == again.json()["price"]  # held to the same quote
    assert again.json() == first.json()
    other_body = post(FULL | {"phone": "+91 98000 00009", "ping_id": token}, "supplier-42")
    assert other_body.status_code == 409 and other_body.json()["code"] != "ping_used"
    new_key = post(FULL | {"phone": "+91 98000 00008", "ping_id": token}, "supplier-43")
    assert (new_key.status_code, new_key.json()["code"]) == (409, "ping_used")
    with app.reader() as uow:
        assert len(list(uow.session.scalars(select(m.Lead.id)))) == 1
    assert used_pings(app) == [(first.json()["id"],)]
