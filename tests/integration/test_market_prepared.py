"""The sell job's statements sent at the driver level (``market/prepared.py``) write and
return what ``Connection.execute`` of the same Core statements does, on SQLite and
PostgreSQL: literals written in the statement, a value used several times, UTC
datetimes, JSON, many rows at once and ``RETURNING``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, update
from tests.conftest import apply_setup
from tests.integration.market_kit import capture, weighted_setup

from leadgate.bootstrap import App
from leadgate.services.market import ledger, prepared
from leadgate.store import market as mk

BUYERS = weighted_setup("""\
  - {key: acme, price: 20}
  - {key: globex, price: 15}
""", "acme, globex")

_BUMP = update(ledger.LOADS).where(
    ledger.LOADS.c.buyer_key == bindparam("k"), ledger.LOADS.c.sold >= 0).values(
    sold=ledger.LOADS.c.sold + bindparam("n"), spent=ledger.LOADS.c.spent + bindparam("n"),
    day_start=bindparam("t", type_=ledger.LOADS.c.day_start.type),
    updated_at=bindparam("t", type_=ledger.LOADS.c.updated_at.type))


def _loads(app: App) -> list[tuple[Any, ...]]:
    with app.reader() as uow:
        return [(r.buyer_key, r.sold, r.spent, r.day_start, r.updated_at) for r in
                uow.session.scalars(select(mk.BuyerLoadRow).order_by(mk.BuyerLoadRow.buyer_key))]


def test_a_prepared_statement_writes_what_the_core_statement_writes(app: App) -> None:
    apply_setup(app, BUYERS)
    # an instant given in another zone is stored as the same UTC instant
    t = datetime(2026, 12, 2, 18, 30, 5, 123456, tzinfo=timezone(timedelta(hours=5)))
    with app.uow() as uow:
        c = ledger.core(uow)
        assert prepared.run(c, _BUMP, {"k": "acme", "n": 3, "t": t}).rowcount == 1
        assert prepared.run(c, _BUMP, [{"k": "globex", "n": 2, "t": t},
                                       {"k": "globex", "n": 1, "t": t},
                                       {"k": "nobody", "n": 1, "t": t}]).rowcount == 2
        uow.commit()
    by_prepared = _loads(app)
    with app.uow() as uow:  # the same, back out, through Connection.execute
        c = ledger.core(uow)
        c.execute(_BUMP, {"k": "acme", "n": -3, "t": t})
        c.execute(_BUMP, [{"k": "globex", "n": -3, "t": t}])
        c.execute(_BUMP, {"k": "acme", "n": 3, "t": t})
        c.execute(_BUMP, {"k": "globex", "n": 3, "t": t})
        uow.commit()
    assert _loads(app) == by_prepared
    assert by_prepared[0][1:3] == (3, 3) and by_prepared[1][1:3] == (3, 3)
    assert by_prepared[0][3] == t.astimezone(UTC) == by_prepared[0][4]


def test_a_prepared_multi_row_insert_returns_its_rows_and_stores_json(app: App) -> None:
    apply_setup(app, BUYERS)
    lead_id = capture(app, 1)
    cols = ("lead_id", "buyer_key", "method", "price", "payout", "exclusive", "bid_id",
            "status", "sold_at")
    now = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    rows = [{"lead_id": lead_id, "buyer_key": k, "method": "ping_post", "price": 100 * i,
             "payout": 90 * i, "exclusive": False, "bid_id": f"x{i}", "status": "pending",
             "sold_at": now} for i, k in enumerate(("acme", "globex"), 1)]
    with app.uow() as uow:
        c = ledger.core(uow)
        stmt = ledger._new_sales(c.dialect.name, 2)
        got = prepared.run(c, stmt, prepared.flat(rows, cols)).all()
        assert sorted(r.buyer_key for r in got) == ["acme", "globex"]
        # the same rows again: ON CONFLICT DO NOTHING, nothing back
        assert prepared.run(c, stmt, prepared.flat(rows, cols)).all() == []
        trace = {"buyers": [{"buyer": "acme", "price": "1.00"}], "n": 2}
        assert prepared.run(c, ledger.CONCLUDE, {"b_lead": lead_id, "b_trace": trace,
                                                 "b_now": now}).scalar() == 0
        uow.commit()
    with app.reader() as uow:
        sales = uow.session.scalars(select(mk.Sale).order_by(mk.Sale.buyer_key)).all()
        assert [(s.buyer_key, s.price, s.bid_id, s.sold_at) for s in sales] == [
            ("acme", 100, "x1", now), ("globex", 200, "x2", now)]
        ml = uow.session.get(mk.MarketLead, lead_id)
        assert ml is not None and ml.trace == trace


def test_statements_left_to_work_out_per_call_are_refused(app: App) -> None:
    with app.uow() as uow:
        c = ledger.core(uow)
        # a column with a Python default the statement does not set
        with pytest.raises(ValueError, match="default"):
            prepared.run(c, insert(mk.Sale.__table__).values(
                lead_id=bindparam("l"), buyer_key="x", method="m", price=1, payout=1,
                status="pending", sold_at=bindparam("t", type_=mk.Sale.sold_at.type)),
                {"l": 1, "t": datetime.now(UTC)})
        with pytest.raises(ValueError, match="expanding"):
            prepared.run(c, select(ledger.LOADS.c.buyer_key).where(
                ledger.LOADS.c.buyer_key.in_(bindparam("keys", expanding=True))),
                {"keys": ["acme"]})
