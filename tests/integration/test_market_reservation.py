"""The reservation without a savepoint, and how many SQL statements one ping post
auction sends (a structural fact of the
``lead.sell`` job, not a timing): three bidders, shared leads (``sale: {shared: 2}``),
so the auction reserves, posts and settles two sales. Counted with a
``before_cursor_execute`` listener, BEGINs included (SQLite's is sent by leadgate,
psycopg's is counted from the ``begin`` event), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import event, select, update
from tests.conftest import apply_setup
from tests.integration.market_kit import (
    CAMPAIGN,
    BuyerServer,
    buyer_servers,
    capture,
    drain,
    lead_row,
    setup_text,
)

from leadgate.bootstrap import App
from leadgate.services import jobs, snapshot
from leadgate.services.market import ledger, settings
from leadgate.store import market as mk

SHARED = """\
  - {key: acme, price: bid, ping: acme-ping, destinations: [acme-post], sale: {shared: 2}}
  - {key: globex, price: bid, ping: globex-ping, destinations: [globex-post], sale: {shared: 2}}
  - {key: initech, price: bid, ping: initech-ping, destinations: [initech-post], sale: {shared: 2}}
"""
TO = "{method: ping_post, buyers: [acme, globex, initech], timeout: 300ms}"

#: statements of one auction selling a lead twice, with the configuration cached:
#: the job's row, the lead with its market row (one joined SELECT), the market stamp
#: (buyers, destinations and settings) and the buyers' loads (1 transaction); per
#: sale the reservation (the sale's INSERT ... ON CONFLICT DO NOTHING and two
#: conditional UPDATEs, no savepoint) and the post's delivery row (1 transaction),
#: then its attempt, outcome and the sale settled; the lead's trace, the buyers'
#: counters, the lead's status, the timeline row and the job (the last transaction)
EXPECTED = {"sqlite": 27, "postgresql": 27}


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, stmt: str, *rest: Any) -> None:
        seen.append(" ".join(stmt.split()))

    def begin(conn: Any) -> None:
        seen.append("BEGIN (implicit)")

    implicit = app.engine.dialect.name != "sqlite"  # SQLite's BEGIN is a statement
    event.listen(app.engine, "before_cursor_execute", count)
    if implicit:
        event.listen(app.engine, "begin", begin)
    try:
        yield seen
    finally:
        event.remove(app.engine, "before_cursor_execute", count)
        if implicit:
            event.remove(app.engine, "begin", begin)


def test_one_auction_selling_a_shared_lead_twice_sends_a_fixed_number_of_statements(
        app: App) -> None:
    with buyer_servers(BuyerServer("acme", 12), BuyerServer("globex", 19.5),
                       BuyerServer("initech", 7)) as srv:
        apply_setup(app, setup_text(srv, SHARED, TO))
        capture(app, 1)
        drain(app)  # the first auction reads and caches the configuration
        lead_id = capture(app, 2)
        with app.uow() as uow:
            ids = jobs.claim(uow, app.clock(), limit=1)
        assert len(ids) == 1
        with statements(app) as seen:
            assert jobs.run_one(app.uow, ids[0], app.clock) == "done"
    lead, ml, sales = lead_row(app, lead_id)
    assert lead.status == "sold" and ml is not None and ml.sales == 2
    assert sorted(s.buyer_key for s in sales if s.status == "sold") == ["acme", "globex"]
    assert len(seen) == EXPECTED[app.engine.dialect.name], "\n".join(seen)
    assert not any(s.startswith(("SAVEPOINT", "RELEASE")) for s in seen), seen


CAPPED = CAMPAIGN + """\
buyers:
  - {key: acme, price: 20, caps: {daily: 1}}
  - {key: globex, price: 15}
flows:
  - key: market
    rules:
      - name: Sell
        to: {method: sell_weighted, buyers: [acme, globex]}
    fallback: {queue: unsold}
"""


def test_a_refused_reservation_leaves_no_trace_without_a_savepoint(app: App) -> None:
    """Each refusal comes after some of the reservation's statements ran; what they
    wrote is taken back in the same transaction (no savepoint to roll back to)."""
    apply_setup(app, CAPPED)
    first, second = capture(app, 1), capture(app, 2)

    def state() -> tuple[Any, ...]:
        with app.reader() as uow:
            s = uow.session
            mls = [(r.lead_id, r.sales, r.exclusive, r.revenue, r.cost) for r in
                   s.scalars(select(mk.MarketLead).order_by(mk.MarketLead.lead_id))]
            sales = [(r.lead_id, r.buyer_key) for r in
                     s.scalars(select(mk.Sale).order_by(mk.Sale.id))]
            loads = [(r.buyer_key, r.day_count, r.day_spent, r.sold, r.spent) for r in
                     s.scalars(select(mk.BuyerLoadRow).order_by(mk.BuyerLoadRow.buyer_key))]
        return mls, sales, loads

    def reserve(buyer: str, lead_id: int) -> ledger.Refused | None:
        with app.uow() as uow:
            b = snapshot.market(uow.session).buyers[buyer]
            try:
                ledger.reserve(uow, b, lead_id, Decimal(20), Decimal(18), app.clock(),
                               method="sell_weighted")
            except ledger.Refused as exc:
                uow.commit()  # what a refusal left is committed, as the job would
                return exc
            uow.commit()
        return None

    assert reserve("acme", first) is None  # exclusive, and acme's one lead today
    before = state()
    assert before[1] == [(first, "acme")]
    for buyer, lead_id, code, locked in [
            ("acme", first, "already_sold_to_buyer", False),  # the INSERT inserts nothing
            # after the sale's INSERT and the lead's conditional UPDATE, which on
            # PostgreSQL may keep the row locked (it waited for a twin, then re-checked)
            ("globex", first, "sold_out", True),
            ("acme", second, "capped", True)]:  # after the INSERT and the lead's UPDATE
        refused = reserve(buyer, lead_id)
        assert refused is not None and (refused.code, refused.locked) == (code, locked)
        assert state() == before, (buyer, lead_id)
    assert reserve("globex", second) is None  # the lead was left as it was: sellable
    assert state()[1] == [(first, "acme"), (second, "globex")]


def test_market_settings_are_cached_per_version_and_any_change_to_them_is_seen(
        app: App) -> None:
    apply_setup(app, CAPPED + "market: {reserve: 2}\n")

    def current() -> Decimal:
        with app.reader() as uow:
            return settings.current(uow).reserve

    assert current() == Decimal(2)
    apply_setup(app, CAPPED + "market: {reserve: 5}\n")
    assert current() == Decimal(5)
    # whatever writes the row (migration 0010's triggers), and only the settings' row
    with app.uow() as uow:
        stamp = snapshot.market(uow.session).version
        uow.session.execute(update(mk.MarketState).where(mk.MarketState.key == "config")
                            .values(data={"reserve": 7}))
        uow.session.add(mk.MarketState(key="weighted:x:y", data={}, updated_at=app.clock()))
        uow.commit()
    assert current() == Decimal(7)
    with app.uow() as uow:
        after = snapshot.market(uow.session).version
        uow.session.execute(update(mk.MarketState).where(mk.MarketState.key != "config")
                            .values(data={"n": 1}))
        uow.commit()
    with app.uow() as uow:
        assert after[0] == stamp[0] + 1
        assert snapshot.market(uow.session).version == after
