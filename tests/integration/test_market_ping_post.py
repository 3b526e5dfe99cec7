"""Ping post auctions against real local buyer servers: the highest bid wins, late
bids are ignored and the auction ends on time, a rejected post promotes the next bid,
no bid above the reserve goes to the fallback, capped or over-budget buyers are never
pinged, pings carry no personal data."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tests.conftest import FakeClock, apply_setup, make_app
from tests.integration.market_kit import (
    BuyerServer,
    buyer_servers,
    capture,
    drain,
    lead_row,
    sale_event,
    setup_text,
)

from leadgate.bootstrap import App
from leadgate.services.market.ledger import money

BIDDERS = """\
  - {key: acme, price: bid, ping: acme-ping, destinations: [acme-post]}
  - {key: globex, price: bid, ping: globex-ping, destinations: [globex-post]}
  - {key: initech, price: bid, ping: initech-ping, destinations: [initech-post]}
"""
TO = "{method: ping_post, buyers: [acme, globex, initech], timeout: 300ms}"


@pytest.fixture
def app(sqlite_url: str, clock: FakeClock) -> Iterator[App]:
    a = make_app(sqlite_url, clock)
    yield a
    a.close()


def test_highest_bid_wins_and_pays_its_bid(app: App) -> None:
    with buyer_servers(BuyerServer("acme", 12), BuyerServer("globex", 19.5),
                       BuyerServer("initech", 7)) as srv:
        apply_setup(app, setup_text(srv, BIDDERS, TO, "market: {margin: {percent: 10}}\n"))
        lead_id = capture(app, 1)
        drain(app)
    lead, ml, sales = lead_row(app, lead_id)
    assert lead.status == "sold"
    assert [(s.buyer_key, money(s.price), money(s.payout), s.status) for s in sales] == [
        ("globex", money(1950), money(1755), "sold")]
    assert ml is not None and ml.revenue == 1950 and ml.cost == 1755
    assert len(srv["globex"].posts) == 1 and not srv["acme"].posts
    posted = srv["globex"].posts[0].json()
    assert posted["bid_id"] == "globex-1" and posted["phone"] == "+919800000001"
    ev = sale_event(app, lead_id)
    trace = ev["trace"]
    assert ev["buyer"] == "globex" and trace["winner"]["buyer"] == "globex"
    assert {b["buyer"]: b["status"] for b in trace["buyers"]} == {
        "acme": "fallback", "globex": "winner", "initech": "fallback"}
    assert trace["posts"][0]["result"] == "sold"


def test_pings_carry_no_personal_fields(app: App) -> None:
    with buyer_servers(BuyerServer("acme", 12), BuyerServer("globex", 10),
                       BuyerServer("initech", 7)) as srv:
        apply_setup(app, setup_text(srv, BIDDERS, TO))
        capture(app, 1)
        drain(app)
    ping = srv["acme"].pings[0].json()
    assert ping["state"] == "CA" and ping["age"] == 30 and ping["product"] == "life"
    for personal in ("first_name", "last_name", "phone", "email", "lead_id"):
        assert personal not in ping


def test_a_late_bid_is_ignored_and_the_auction_ends_on_time(app: App) -> None:
    with buyer_servers(BuyerServer("acme", 12), BuyerServer("globex", 50, delay=1.0),
                       BuyerServer("initech", 7)) as srv:
        apply_setup(app, setup_text(srv, BIDDERS, TO))
        lead_id = capture(app, 1)
        t0 = time.perf_counter()
        drain(app)
        elapsed = time.perf_counter() - t0
    _lead, _ml, sales = lead_row(app, lead_id)
    assert [s.buyer_key for s in sales] == ["acme"]
    trace = sale_event(app, lead_id)["trace"]
    assert {b["buyer"]: b["status"] for b in trace["buyers"]}["globex"] == "no_answer"
    # the pings end at the 300 ms timeout (+ scheduling); the whole job, post included,
    # never waits for the 1 s buyer
    assert 300 <= trace["ping_ms"] < 300 + 50, trace["ping_ms"]
    assert elapsed < 0.9


def test_the_winner_rejecting_the_post_gives_the_lead_to_the_next_bid(app: App) -> None:
    with buyer_servers(BuyerServer("acme", 12), BuyerServer("globex", 30, accept=False),
                       BuyerServer("initech", 7)) as srv:
        apply_setup(app, setup_text(srv, BIDDERS, TO))
        lead_id = capture(app, 1)
        drain(app)
    lead, ml, sales = lead_row(app, lead_id)
    assert lead.status == "sold"
    assert [(s.buyer_key, s.price) for s in sales] == [("acme", 1200)]
    assert ml is not None and ml.sales == 1 and ml.revenue == 1200
    trace = sale_event(app, lead_id)["trace"]
    assert trace["rejected"] == ["globex"]
    assert [(p["buyer"], p["result"]) for p in trace["posts"]] == [
        ("globex", "rejected"), ("acme", "sold")]
    assert srv["acme"].posts[0].json()["bid_id"] == "acme-1"


def test_no_bid_above_the_reserve_goes_to_the_fallback_queue(app: App) -> None:
    with buyer_servers(BuyerServer("acme", 3), BuyerServer("globex", None),
                       BuyerServer("initech", 4.99)) as srv:
        apply_setup(app, setup_text(srv, BIDDERS, TO, "market: {reserve: 5}\n"))
        lead_id = capture(app, 1)
        drain(app)
    lead, _ml, sales = lead_row(app, lead_id)
    assert (lead.status, lead.queue, sales) == ("queued", "unsold", [])
    ev = sale_event(app, lead_id)
    assert ev["type"] == "unsold" and ev["queue"] == "unsold"
    assert {b["buyer"]: b["status"] for b in ev["trace"]["buyers"]} == {
        "acme": "below_reserve", "globex": "declined", "initech": "below_reserve"}
    assert not any(b.posts for b in srv.values())


def test_a_capped_or_over_budget_buyer_is_never_pinged(app: App) -> None:
    buyers = """\
  - {key: acme, price: bid, ping: acme-ping, destinations: [acme-post], caps: {daily: 1}}
  - {key: globex, price: bid, ping: globex-ping, destinations: [globex-post],
     budget: {daily: 20}}
  - {key: initech, price: bid, ping: initech-ping, destinations: [initech-post]}
"""
    with buyer_servers(BuyerServer("acme", 30), BuyerServer("globex", 20),
                       BuyerServer("initech", 5)) as srv:
        apply_setup(app, setup_text(srv, buyers, TO))
        first, second, third = (capture(app, i) for i in (1, 2, 3))
        drain(app)
        assert [s.buyer_key for s in lead_row(app, first)[2]] == ["acme"]
        assert [s.buyer_key for s in lead_row(app, second)[2]] == ["globex"]
        assert [s.buyer_key for s in lead_row(app, third)[2]] == ["initech"]
        # acme hit its daily cap after one lead, globex used up its budget (20 of 20)
        assert len(srv["acme"].pings) == 1
        assert len(srv["globex"].pings) == 2   # pinged for lead 2 (bid 20 beat 5)
        lines = {b["buyer"]: b for b in sale_event(app, third)["trace"]["buyers"]}
        assert lines["acme"]["reasons"] == ["daily_cap"]
        assert lines["globex"]["reasons"] == ["daily_budget"]
        assert "acme" not in sale_event(app, third)["trace"]["pinged"]


@pytest.mark.postgres
def test_auction_with_a_rejected_post_on_postgresql(pg_url: str, clock: FakeClock) -> None:
    app = make_app(pg_url, clock)
    try:
        with buyer_servers(BuyerServer("acme", 12), BuyerServer("globex", 30, accept=False),
                           BuyerServer("initech", 7)) as srv:
            apply_setup(app, setup_text(srv, BIDDERS, TO, "market: {margin: {percent: 10}}\n"))
            lead_id = capture(app, 1)
            drain(app)
        lead, ml, sales = lead_row(app, lead_id)
        assert lead.status == "sold"
        assert [(s.buyer_key, s.price, s.payout) for s in sales] == [("acme", 1200, 1080)]
        assert ml is not None and (ml.sales, ml.revenue, ml.cost) == (1, 1200, 1080)
        assert sale_event(app, lead_id)["trace"]["rejected"] == ["globex"]
    finally:
        app.close()


SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVg=="


def test_the_post_to_the_winner_is_signed_authenticated_and_recorded(app: App) -> None:
    """The auction's post (sent by the pinger's event loop) carries what the delivery
    engine would send: the rendered headers, the auth header, the idempotency key and a
    Standard Webhooks signature; the attempt keeps request and response, secrets
    redacted."""
    from sqlalchemy import select
    from standardwebhooks.webhooks import Webhook

    from leadgate.store import models as m

    with buyer_servers(BuyerServer("acme", 12), BuyerServer("globex", 19.5),
                       BuyerServer("initech", 7)) as srv:
        text = setup_text(srv, BIDDERS, TO)
        post_url = f"url: '{srv['globex'].rec.url}/post', "  # type: ignore[union-attr]
        text = text.replace(post_url, post_url + "auth: {type: bearer, token: tok_s3cr3t_99}, "
                            f"sign: {{secrets: [{SECRET}]}}, "
                            "headers: {X-Bid: '{{ lead.bid_id }}'}, ")
        apply_setup(app, text)
        lead_id = capture(app, 1)
        drain(app)
    got = srv["globex"].posts[0]
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["authorization"] == "Bearer tok_s3cr3t_99"
    assert headers["x-bid"] == "globex-1"
    assert headers["webhook-id"] == headers["idempotency-key"]
    Webhook(SECRET).verify(got.body, headers)  # raises if the signature is wrong
    with app.reader() as uow:
        d = uow.session.scalar(select(m.Delivery).where(m.Delivery.lead_id == lead_id))
        assert d is not None
        attempt = uow.session.scalar(select(m.DeliveryAttempt).where(
            m.DeliveryAttempt.delivery_id == d.id))
        assert attempt is not None
        assert (d.status, d.destination_key, d.external_id) == (
            "accepted", "globex-post", "globex-lead")
        assert d.idempotency_key == headers["idempotency-key"]
        assert attempt.outcome == "accepted"
        sent = {k.lower(): v for k, v in attempt.request["headers"].items()}
        assert sent["authorization"] == "***" and "tok_s3cr3t_99" not in str(attempt.request)
        assert attempt.request["url"].endswith("/post")
        assert attempt.request["body"] == got.body.decode()
        assert attempt.response is not None and attempt.response["status"] == 200
        assert "globex-lead" in attempt.response["body"]
    assert sale_event(app, lead_id)["trace"]["posts"][0]["result"] == "sold"
