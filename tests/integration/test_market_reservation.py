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
    weighted_setup,
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
#: the lead with its market row and the configuration stamps (one Core SELECT: the
#: cached buyers, destinations and settings need no statement of their own while the
#: stamps stand; the job's kind and payload came with its claim, and these buyers,
#: without caps or budgets, have no load row to read) (1 transaction); both
#: sales reserved together (one INSERT of the two sales ... ON CONFLICT DO NOTHING,
#: one conditional UPDATE of the lead, the buyers' conditional UPDATEs - one each on
#: PostgreSQL, in key order; on SQLite one for both, their caps and budgets alike -,
#: one INSERT of the two posts' delivery rows: 1 transaction), the two posts sent at
#: once, then
#: their attempts, outcomes and the sales settled (one statement each for both), the
#: lead's trace, the buyers' counters, the lead's status, the timeline row and the
#: job (the last transaction): 3 transactions, BEGINs included
EXPECTED = {"sqlite": 16, "postgresql": 17}
#: transactions of that auction (its BEGINs)
TRANSACTIONS = 3


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
    assert sum(s.startswith("BEGIN") for s in seen) == TRANSACTIONS, seen
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


GROUP = CAMPAIGN + """\
buyers:
  - {key: acme, price: 20, sale: {shared: 2}}
  - {key: globex, price: 15, sale: {shared: 2}, caps: {daily: 1}}
  - {key: initech, price: 10, sale: {shared: 2}}
flows:
  - key: market
    rules:
      - name: Sell
        to: {method: sell_weighted, buyers: [acme, globex, initech]}
    fallback: {queue: unsold}
"""


def _group_state(app: App) -> tuple[Any, ...]:
    with app.reader() as uow:
        s = uow.session
        mls = [(r.lead_id, r.sales, r.exclusive, r.revenue, r.cost) for r in
               s.scalars(select(mk.MarketLead).order_by(mk.MarketLead.lead_id))]
        sales = [(r.lead_id, r.buyer_key, r.status) for r in
                 s.scalars(select(mk.Sale).order_by(mk.Sale.lead_id, mk.Sale.buyer_key))]
        loads = [(r.buyer_key, r.day_count, r.day_spent, r.sold, r.spent) for r in
                 s.scalars(select(mk.BuyerLoadRow).order_by(mk.BuyerLoadRow.buyer_key))]
    return mls, sales, loads


def _reserve_group(app: App, lead_id: int, *keys: str) -> list[Any]:
    with app.uow() as uow:
        buyers = snapshot.market(uow.session).buyers
        got = ledger.reserve_many(uow, [
            ledger.Want(buyers[k], buyers[k].price_for({}) or Decimal(0), Decimal(1))
            for k in keys], lead_id, app.clock(), method="ping_post")
        uow.commit()
    return got


def test_a_shared_leads_next_bids_are_reserved_together_or_each_refused_alone(
        app: App) -> None:
    """Two sales of one lead in one transaction: both counted at once; a buyer at its
    cap is refused alone (its part of the lead's UPDATE taken back, the other sale
    kept); a lead without room for the whole group refuses it as a whole, leaving
    nothing, and one bid at a time the first still fits."""
    apply_setup(app, GROUP)
    first, second, third = capture(app, 1), capture(app, 2), capture(app, 3)
    got = _reserve_group(app, first, "acme", "globex")
    assert [type(g).__name__ for g in got] == ["Reserved", "Reserved"]
    mls, sales, loads = _group_state(app)
    assert mls[0] == (first, 2, False, 3500, 200)
    assert sales == [(first, "acme", "pending"), (first, "globex", "pending")]
    assert [(k, n, spent) for k, n, spent, _s, _sp in loads] == [
        ("acme", 1, 2000), ("globex", 1, 1500), ("initech", 0, 0)]
    # globex has had its one lead today: refused capped, acme's sale stands
    got = _reserve_group(app, second, "acme", "globex")
    assert isinstance(got[0], ledger.Reserved)
    assert isinstance(got[1], ledger.Refused) and (got[1].code, got[1].locked) == (
        "capped", True)
    mls, sales, loads = _group_state(app)
    assert mls[1] == (second, 1, False, 2000, 100)
    assert (second, "globex", "pending") not in sales
    assert [(k, n) for k, n, *_ in loads] == [("acme", 2), ("globex", 1), ("initech", 0)]
    # the lead of the first group is full: acme has it already (its INSERT inserts
    # nothing), initech is refused by the lead's UPDATE (sold_out, lock kept), and
    # nothing of it stays
    before = _group_state(app)
    got = _reserve_group(app, first, "initech", "acme")
    assert [(g.code, g.locked) for g in got] == [("sold_out", True),
                                                 ("already_sold_to_buyer", False)]
    assert _group_state(app) == before
    # a lead with one sale (a twin job's, say) takes one more, not two: the group is
    # refused as a whole, and one at a time the first still fits
    assert isinstance(_reserve_group(app, third, "globex")[0], ledger.Refused)  # capped
    with app.uow() as uow:
        uow.session.execute(update(mk.MarketLead).where(mk.MarketLead.lead_id == third)
                            .values(sales=1))
        uow.commit()
    before = _group_state(app)
    got = _reserve_group(app, third, "acme", "initech")
    assert [(g.code, g.locked) for g in got] == [("sold_out", True), ("sold_out", True)]
    assert _group_state(app) == before
    assert isinstance(_reserve_group(app, third, "acme")[0], ledger.Reserved)
    assert _group_state(app)[0][2][1] == 2


def test_a_shared_leads_bids_posted_together_one_rejecting_goes_on_to_the_next(
        app: App) -> None:
    """Three shared bidders, room for two: the first two are reserved and posted at
    once; the second rejects, so its reservation is released and the third is posted
    the lead. Same sales, trace and counters as posting one by one."""
    with buyer_servers(BuyerServer("acme", 30), BuyerServer("globex", 20, accept=False),
                       BuyerServer("initech", 10)) as srv:
        apply_setup(app, setup_text(srv, SHARED, TO))
        lead_id = capture(app, 1)
        drain(app)
        assert len(srv["acme"].posts) == len(srv["globex"].posts) == 1
        assert len(srv["initech"].posts) == 1
    lead, ml, sales = lead_row(app, lead_id)
    assert lead.status == "sold" and ml is not None and ml.sales == 2
    assert sorted((s.buyer_key, s.status) for s in sales) == [
        ("acme", "sold"), ("initech", "sold")]
    with app.reader() as uow:
        loads = {r.buyer_key: (r.day_count, r.day_spent, r.accepted, r.rejected)
                 for r in uow.session.scalars(select(mk.BuyerLoadRow))}
        trace = uow.session.get(mk.MarketLead, lead_id).trace
    assert loads == {"acme": (1, 3000, 1, 0), "globex": (0, 0, 0, 1),
                     "initech": (1, 1000, 1, 0)}
    assert [(p["buyer"], p["result"]) for p in trace["posts"]] == [
        ("acme", "sold"), ("globex", "rejected"), ("initech", "sold")]
    assert trace["sold"] == ["acme", "initech"] and trace["rejected"] == ["globex"]
    assert trace["post_ms"] > 0


def test_only_buyers_with_caps_or_budgets_have_their_load_rows_read(app: App) -> None:
    """A buyer without caps or budgets is eligible whatever its counts say: its load
    row is not read (no statement when no buyer in the sale has either); a capped
    buyer's counts are read and keep it out at its cap."""
    apply_setup(app, GROUP)
    first, second = capture(app, 1), capture(app, 2)
    assert [type(g).__name__ for g in _reserve_group(app, first, "acme", "globex")] \
        == ["Reserved", "Reserved"]
    with app.uow() as uow:
        buyers = snapshot.market(uow.session).buyers
        with statements(app) as seen:
            plain = ledger.candidates(uow, {k: buyers[k] for k in ("acme", "initech")},
                                      second, app.clock(), lead=ledger.LeadSales(0, False))
        assert [s for s in seen if "buyer_loads" in s] == []
        assert [c.load.sold for c in plain] == [{}, {}]
        with statements(app) as seen:
            cands = ledger.candidates(uow, buyers, second, app.clock(),
                                      lead=ledger.LeadSales(0, False))
        assert len([s for s in seen if "buyer_loads" in s]) == 1
    by_key = {c.buyer.key: c for c in cands}
    assert by_key["globex"].load.sold["day"] == 1  # its one lead today
    assert by_key["acme"].load.sold == {}  # counted, but not read: no cap to check
    from leadgate.domain.market.trace import check

    assert check(by_key["globex"], {}, app.clock()) == ("daily_cap",)
    assert check(by_key["acme"], {}, app.clock()) == ()


ALIKE = weighted_setup("""\
  - {key: acme, price: 20, sale: {shared: 3}, caps: {daily: 1}, budget: {daily: 100}}
  - {key: globex, price: 15, sale: {shared: 3}, caps: {daily: 1}, budget: {daily: 100}}
  - {key: initech, price: 10, sale: {shared: 3}, caps: {daily: 1}, budget: {daily: 100}}
""", "acme, globex, initech")


def test_buyers_alike_reserved_together_are_each_refused_or_counted_alone(
        app: App) -> None:
    """Buyers with the same caps and budgets have their rows updated by one statement
    on SQLite (one each on PostgreSQL): the one at its cap is refused alone, each
    other one counted with its own price."""
    apply_setup(app, ALIKE)
    first, second = capture(app, 1), capture(app, 2)
    assert [type(g).__name__ for g in _reserve_group(app, first, "globex")] == ["Reserved"]
    got = _reserve_group(app, second, "acme", "globex", "initech")
    assert [type(g).__name__ for g in got] == ["Reserved", "Refused", "Reserved"]
    assert isinstance(got[1], ledger.Refused) and got[1].code == "capped"
    mls, sales, loads = _group_state(app)
    assert mls[1][:2] == (second, 2) and mls[1][3] == 2000 + 1000
    assert [s[:2] for s in sales] == [(first, "globex"), (second, "acme"),
                                       (second, "initech")]
    assert [(k, day, spent) for k, day, spent, _s, _t in loads] == [
        ("acme", 1, 2000), ("globex", 1, 1500), ("initech", 1, 1000)]
