"""No stuck sale: a worker killed between a sale's reservation and its post's outcome
leaves a ``pending`` sale; once it is past ``market.sale_within`` + the grace, the
re-run ``lead.sell`` job releases it exactly once (counters and budget back), closes
the unanswered post, and the lead goes on (sold again, or to the fallback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
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
from leadgate.services.market import ledger, offer
from leadgate.store import market as mk
from leadgate.store import models as m

BIDDERS = """\
  - {key: acme, price: bid, ping: acme-ping, destinations: [acme-post]}
  - {key: globex, price: bid, ping: globex-ping, destinations: [globex-post],
     caps: {daily: 1}, budget: {daily: 25}}
"""
TO = "{method: ping_post, buyers: [acme, globex], timeout: 300ms}"


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing after it runs, nothing uncommitted survives."""


@pytest.fixture
def app(db_url: str, clock: FakeClock) -> Iterator[App]:
    a = make_app(db_url, clock)
    yield a
    a.close()


def _crash_on_post(monkeypatch: pytest.MonkeyPatch, app: App) -> None:
    """Run the jobs until the first post is about to leave, and kill the worker."""
    def killed(*_a: Any, **_k: Any) -> Any:
        raise WorkerKilled

    with monkeypatch.context() as mp:
        mp.setattr(offer, "post_all", killed)
        with pytest.raises(WorkerKilled):
            drain(app)


def _load(app: App, key: str) -> mk.BuyerLoadRow:
    with app.reader() as uow:
        row = uow.session.get(mk.BuyerLoadRow, key)
        assert row is not None
        uow.session.expunge(row)
    return row


def test_a_sale_stuck_by_a_killed_worker_is_released_and_the_lead_sold_again(
        app: App, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    with buyer_servers(BuyerServer("acme", 12), BuyerServer("globex", 19.5)) as srv:
        apply_setup(app, setup_text(srv, BIDDERS, TO))
        lead_id = capture(app, 1)
        _crash_on_post(monkeypatch, app)
        lead, ml, sales = lead_row(app, lead_id)
        assert lead.status == "sell"
        assert [(s.buyer_key, s.status) for s in sales] == [("globex", "pending")]
        stuck = _load(app, "globex")
        assert (stuck.day_count, stuck.day_spent, stuck.sold) == (1, 1950, 1)
        # the job's lease runs out (the worker is gone) and the sale is long expired
        clock.advance(minutes=6)
        assert drain(app) == 1
    lead, ml, sales = lead_row(app, lead_id)
    assert lead.status == "sold"
    assert [(s.buyer_key, s.price, s.status, s.bid_id) for s in sales] == [
        ("globex", 1950, "sold", "globex-2")]
    assert ml is not None and (ml.sales, ml.revenue, ml.exclusive) == (1, 1950, True)
    load = _load(app, "globex")
    # counted once: the lost reservation was given back before the new sale
    assert (load.day_count, load.day_spent, load.sold, load.spent) == (1, 1950, 1, 1950)
    assert (load.offered, load.accepted) == (1, 1)
    assert len(srv["globex"].posts) == 1
    trace = sale_event(app, lead_id)["trace"]
    assert [r["buyer"] for r in trace["recovered"]] == ["globex"]
    assert trace["recovered"][0]["bid_id"] == "globex-1"
    with app.reader() as uow:
        states = sorted(uow.session.scalars(select(m.Delivery.status).where(
            m.Delivery.lead_id == lead_id)))
    assert states == ["accepted", "dead"]  # the lost post is closed, not left sending


def test_a_released_sale_lets_the_lead_reach_the_fallback(
        app: App, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    globex = BuyerServer("globex", 19.5)
    with buyer_servers(BuyerServer("acme", None), globex) as srv:
        apply_setup(app, setup_text(srv, BIDDERS, TO))
        lead_id = capture(app, 1)
        _crash_on_post(monkeypatch, app)
        globex.accept = False  # on the re-run the buyer turns the lead down
        clock.advance(minutes=6)
        drain(app)
    lead, ml, sales = lead_row(app, lead_id)
    assert (lead.status, lead.queue) == ("queued", "unsold")
    assert sales == []
    assert ml is not None and (ml.sales, ml.revenue, ml.cost, ml.exclusive) == (
        0, 0, 0, False)
    load = _load(app, "globex")
    assert (load.day_count, load.day_spent, load.sold, load.spent) == (0, 0, 0, 0)
    assert (load.offered, load.rejected, load.accepted) == (1, 1, 0)


def test_a_pending_sale_is_released_exactly_once(
        app: App, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    with buyer_servers(BuyerServer("acme", None), BuyerServer("globex", 19.5)) as srv:
        apply_setup(app, setup_text(srv, BIDDERS, TO))
        lead_id = capture(app, 1)
        _crash_on_post(monkeypatch, app)
    buyer = ledger.buyer_of({"key": "globex", "price": "bid", "caps": {"daily": 1},
                             "budget": {"daily": 25}})
    with app.reader() as uow:  # both sweepers saw the sale pending
        sale = ledger.pending_sales(uow, lead_id)[0]
        uow.session.expunge(sale)
    settled = []
    for _ in range(2):
        with app.uow() as uow:
            settled.append(ledger.expire(uow, buyer, sale, clock()))
            uow.commit()
    assert settled == [True, False]
    _, ml, sales = lead_row(app, lead_id)
    assert sales == [] and ml is not None and (ml.sales, ml.revenue) == (0, 0)
    load = _load(app, "globex")
    assert (load.day_count, load.day_spent, load.sold, load.spent) == (0, 0, 0, 0)


def test_a_rerun_before_the_sale_expires_waits_for_it(
        app: App, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    with buyer_servers(BuyerServer("acme", None), BuyerServer("globex", 19.5)) as srv:
        apply_setup(app, setup_text(srv, BIDDERS, TO))
        lead_id = capture(app, 1)
        _crash_on_post(monkeypatch, app)
        with app.uow() as uow:  # the job re-run early (as a redelivered twin would be)
            job = uow.session.scalar(select(m.Job).where(m.Job.kind == "lead.sell"))
            assert job is not None
            job.locked_until, job.status = None, "pending"
            uow.commit()
        clock.advance(seconds=2)
        drain(app)
        lead, _, sales = lead_row(app, lead_id)
        assert lead.status == "sell" and [s.status for s in sales] == ["pending"]
        assert not srv["globex"].posts
        clock.advance(minutes=1)  # past the expiry: the deferred job settles and sells
        drain(app)
    lead, _, sales = lead_row(app, lead_id)
    assert lead.status == "sold" and [s.status for s in sales] == ["sold"]
    load = _load(app, "globex")
    assert (load.day_count, load.day_spent) == (1, 1950)


def test_a_lost_reservation_is_released_when_a_twin_placed_the_lead_meanwhile(
        app: App, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker that reserved dies (or its last transaction fails) and a twin job
    places the lead meanwhile: nobody sells the lead again, yet its pending sale is
    released once expired, counters and budget back, and the release is on the
    timeline (CI once ended a 1,000-lead run with such a sale left pending)."""
    with buyer_servers(BuyerServer("acme", None), BuyerServer("globex", 19.5)) as srv:
        apply_setup(app, setup_text(srv, BIDDERS, TO))
        lead_id = capture(app, 1)
        _crash_on_post(monkeypatch, app)
        with app.uow() as uow:  # a twin job placed the lead (queued for a rep, say)
            lead = uow.session.get(m.Lead, lead_id)
            assert lead is not None
            lead.status, lead.queue = "queued", "unsold"
            job = uow.session.scalar(select(m.Job).where(m.Job.kind == "lead.sell"))
            assert job is not None
            job.locked_until, job.status = None, "pending"  # the lost job runs again
            uow.commit()
        clock.advance(seconds=2)
        drain(app)  # before the sale expires: it waits, and comes back for it
        _, _, sales = lead_row(app, lead_id)
        assert [s.status for s in sales] == ["pending"]
        with app.reader() as uow:
            waiting = list(uow.session.scalars(select(m.Job).where(
                m.Job.kind == "lead.sell", m.Job.status == "pending")))
        assert len(waiting) == 1
        clock.advance(minutes=1)
        drain(app)
        assert not srv["globex"].posts  # nothing is sold again
    lead, ml, sales = lead_row(app, lead_id)
    assert (lead.status, lead.queue) == ("queued", "unsold") and sales == []
    assert ml is not None and (ml.sales, ml.revenue, ml.cost) == (0, 0, 0)
    load = _load(app, "globex")
    assert (load.day_count, load.day_spent, load.sold, load.spent) == (0, 0, 0, 0)
    with app.reader() as uow:
        released = uow.session.scalars(select(m.LeadEvent.data).where(
            m.LeadEvent.lead_id == lead_id, m.LeadEvent.type == "sale_released")).all()
        left = uow.session.scalar(select(m.Job.id).where(
            m.Job.kind == "lead.sell", m.Job.status.in_(("pending", "running"))))
    assert [r["buyer"] for e in released for r in e["recovered"]] == ["globex"]
    assert left is None
