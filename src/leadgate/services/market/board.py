"""Read side of the market for the API and the console: buyers with their caps, budget
used and acceptance rate (from the live load rows, no scans), a lead's market view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from leadgate.domain.market.amounts import show
from leadgate.domain.market.buyers import CAP_WINDOWS
from leadgate.services.market import ledger
from leadgate.services.market.returns import lead_money, sale_dict
from leadgate.store import market as mk
from leadgate.store.uow import UnitOfWork


def buyers(uow: UnitOfWork, now: datetime) -> list[dict[str, Any]]:
    """Every buyer: spec summary, caps used per window, budget used, acceptance rate."""
    s = uow.session
    rows = {r.buyer_key: r for r in s.scalars(select(mk.BuyerLoadRow))}
    out = []
    for b in s.scalars(select(mk.Buyer).order_by(mk.Buyer.key)):
        buyer = ledger.buyer_of(b.spec)
        row = rows.get(b.key)
        load = ledger.load_of(buyer, row, now)
        caps = {k: {"used": load.sold.get(w, 0), "limit": buyer.caps[k]}
                for k, w in CAP_WINDOWS.items() if k in buyer.caps}
        budget = {k: {"used": show(load.spent_today if k == "daily" else load.spent_month),
                      "limit": show(v)} for k, v in buyer.budget.items()}
        offered = (row.offered if row else 0)
        accepted, rejected = (row.accepted, row.rejected) if row else (0, 0)
        posts = accepted + rejected
        out.append({
            "key": b.key, "name": b.name, "status": b.status,
            "price": buyer.pricing.to_data(),
            "sale": "exclusive" if buyer.exclusive else {"shared": buyer.max_sales},
            "caps": caps, "budget": budget,
            "sold": row.sold if row else 0, "spent": show(ledger.money(row.spent if row else 0)),
            "pinged": offered, "bids": row.bids if row else 0,
            "bid_rate": round((row.bids / offered), 4) if row and offered else None,
            "posts": posts, "accepted": accepted,
            "acceptance_rate": round(accepted / posts, 4) if posts else None})
    return out


def lead_market(uow: UnitOfWork, lead_id: int) -> dict[str, Any] | None:
    """A lead's sales, money and the last sale's trace (None: never on the market)."""
    ml = uow.session.get(mk.MarketLead, lead_id)
    if ml is None:
        return None
    sales = uow.session.scalars(select(mk.Sale).where(mk.Sale.lead_id == lead_id)
                                .order_by(mk.Sale.id))
    return {"money": lead_money(uow, lead_id), "sales": [sale_dict(x) for x in sales],
            "trace": ml.trace}
