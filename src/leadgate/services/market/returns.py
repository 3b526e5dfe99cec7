"""Returns and money: a buyer returns a sale within the return window; the rules
(``market.returns``, pure ``domain.market.money.decide_return``) approve, refuse or send
it to a manager. An approved return marks the sale ``returned``, credits the buyer the
price and (``charge_back_supplier``) charges the supplier back its payout, on the lead's
money row, and gives the price back to the buyer's budget of the sale's window
(:func:`refund_budget`; caps are not freed). Exactly once: the sale's ``sold`` ->
``returned`` and a review's ``needs_review`` -> decided are conditional UPDATEs.
Money per lead: revenue - credits - supplier cost = margin."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, func, select, update

from leadgate.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from leadgate.domain.market.amounts import show
from leadgate.domain.market.buyers import buyer_window_starts
from leadgate.domain.market.money import (
    ReturnDecision,
    ReturnRequest,
    Sale,
    approve_return,
    decide_return,
    lead_margin,
    return_rates,
)
from leadgate.services import timeline
from leadgate.services.market import ledger
from leadgate.services.market.ledger import _rows, money
from leadgate.services.market.settings import current
from leadgate.services.principal import Principal
from leadgate.store import market as mk
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

ML = cast(Table, mk.MarketLead.__table__)
RT = cast(Table, mk.SaleReturn.__table__)
SALES, LOADS = ledger.SALES, ledger.LOADS


def _domain_sale(row: mk.Sale, supplier: str | None) -> Sale:
    return Sale(str(row.id), str(row.lead_id), row.buyer_key, supplier or "",
                money(row.price), row.sold_at, money(row.payout), row.status == "returned")


def _visible_sale(uow: UnitOfWork, who: Principal, sale_id: int) -> mk.Sale:
    who.require_user()
    row = uow.session.get(mk.Sale, sale_id)
    if row is None or row.status == "pending" or (
            not who.is_manager and (who.role != "buyer" or row.buyer_key != who.buyer_key)):
        raise NotFound(f"no sale {sale_id}")  # a buyer sees only its own purchases
    return row


def sale_dict(row: mk.Sale, who: Principal | None = None) -> dict[str, Any]:
    """A sale as the API and console show it; a buyer's user does not see the
    supplier's payout (what the seller keeps is not the buyer's business)."""
    out = {"id": row.id, "lead_id": row.lead_id, "buyer": row.buyer_key,
           "method": row.method, "price": show(money(row.price)),
           "payout": show(money(row.payout)), "exclusive": row.exclusive,
           "bid_id": row.bid_id, "external_id": row.external_id, "status": row.status,
           "sold_at": row.sold_at.isoformat(),
           "returned_at": row.returned_at.isoformat() if row.returned_at else None}
    if who is not None and not who.is_manager:
        del out["payout"]
    return out


def list_sales(uow: UnitOfWork, who: Principal, *, buyer: str | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
    """Sales, newest first; a buyer user sees its own only."""
    who.require_user()
    q = select(mk.Sale).where(mk.Sale.status != "pending")
    if not who.is_manager:
        if who.role != "buyer":
            raise Forbidden("sales are for managers and buyers")
        q = q.where(mk.Sale.buyer_key == who.buyer_key)
    elif buyer:
        q = q.where(mk.Sale.buyer_key == buyer)
    rows = uow.session.scalars(q.order_by(mk.Sale.id.desc()).limit(min(limit, 1000)))
    return [sale_dict(r, who) for r in rows]


def buyer_rate(uow: UnitOfWork, buyer: str) -> float:
    sold = uow.session.scalar(select(mk.BuyerLoadRow.sold).where(
        mk.BuyerLoadRow.buyer_key == buyer)) or 0
    returned = uow.session.scalar(select(func.count()).select_from(mk.Sale).where(
        mk.Sale.buyer_key == buyer, mk.Sale.status == "returned")) or 0
    return returned / sold if sold else 0.0


def request_return(uow: UnitOfWork, who: Principal, sale_id: int, reason: str,
                   now: datetime, *, note: str | None = None) -> dict[str, Any]:
    """A buyer (or a manager for it) returns a sale; decided by the rules at once."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("give a reason", code="reason_required")
    row = _visible_sale(uow, who, sale_id)
    open_ = uow.session.scalar(select(mk.SaleReturn.id).where(
        mk.SaleReturn.sale_id == row.id, mk.SaleReturn.status == "needs_review"))
    if open_ is not None:
        raise Conflict(f"sale {sale_id} has a return waiting for review",
                       code="return_pending")
    settings = current(uow)
    ml = uow.session.get(mk.MarketLead, row.lead_id)
    decision = decide_return(_domain_sale(row, ml.source_key if ml else None),
                             reason.strip(), now, settings.return_window, settings.returns,
                             buyer_return_rate=buyer_rate(uow, row.buyer_key))
    ret = mk.SaleReturn(sale_id=row.id, buyer_key=row.buyer_key, reason=reason.strip(),
                        note=note, status=decision.outcome, code=decision.code,
                        text=decision.text, credit=0, chargeback=0, requested_at=now,
                        decided_at=None if decision.outcome == "needs_review" else now,
                        decided_by=None if decision.outcome == "needs_review" else "rules")
    uow.session.add(ret)
    _carry_out(uow, row, ret, decision, now, who.actor)
    uow.commit()
    return return_dict(ret, who)


def review(uow: UnitOfWork, who: Principal, return_id: int, approve: bool, now: datetime,
           *, note: str | None = None) -> dict[str, Any]:
    """A manager approves or refuses a return the rules sent to review."""
    who.require_manager()
    ret = uow.session.get(mk.SaleReturn, return_id)
    if ret is None:
        raise NotFound(f"no return {return_id}")
    if ret.status != "needs_review":
        raise Conflict(f"return {return_id} is {ret.status} already", code="return_decided")
    row = uow.session.get(mk.Sale, ret.sale_id)
    assert row is not None
    ml = uow.session.get(mk.MarketLead, row.lead_id)
    sale = _domain_sale(row, ml.source_key if ml else None)
    decision = (approve_return(sale, ret.reason, now, current(uow).returns) if approve else
                ReturnDecision("refused", "refused_by_manager",
                               note or f"refused by {who.name}"))
    # decided once: of two decisions posted at the same moment one matches the row
    decided = uow.session.execute(update(RT).where(
        RT.c.id == ret.id, RT.c.status == "needs_review").values(
        status=decision.outcome, code=decision.code, text=decision.text,
        decided_at=now, decided_by=who.actor))
    if _rows(decided) != 1:
        uow.rollback()
        raise Conflict(f"return {return_id} was decided meanwhile", code="return_decided")
    uow.session.refresh(ret)
    _carry_out(uow, row, ret, decision, now, who.actor)
    uow.commit()
    return return_dict(ret, who)


def _carry_out(uow: UnitOfWork, row: mk.Sale, ret: mk.SaleReturn, decision: ReturnDecision,
               now: datetime, actor: str) -> None:
    if decision.outcome == "approved":
        # the sale is returned once: of two approvals at the same moment one matches
        # the sold row (the other waits on its lock on PostgreSQL, then matches none)
        done = uow.session.execute(update(SALES).where(
            SALES.c.id == row.id, SALES.c.status == "sold").values(
            status="returned", returned_at=now))
        if _rows(done) != 1:
            decision = ReturnDecision("refused", "already_returned",
                                      f"sale {row.id} was returned already")
            ret.status, ret.code, ret.text = decision.outcome, decision.code, decision.text
            ret.decided_at, ret.decided_by = now, ret.decided_by or "rules"
        else:
            uow.session.refresh(row)
            credit = int(decision.credit.amount * 100) if decision.credit else 0
            back = int(decision.chargeback.amount * 100) if decision.chargeback else 0
            ret.credit, ret.chargeback = credit, back
            uow.session.execute(update(ML).where(ML.c.lead_id == row.lead_id).values(
                credited=ML.c.credited + credit, charged_back=ML.c.charged_back + back,
                updated_at=now))
            refund_budget(uow, row, now)
    lead = uow.session.get(m.Lead, row.lead_id)
    if lead is not None:
        timeline.record(uow, lead, "return_" + decision.outcome, now, actor=actor,
                        sale=row.id, buyer=row.buyer_key, reason=ret.reason,
                        code=decision.code, text=decision.text)


def refund_budget(uow: UnitOfWork, sale: mk.Sale, now: datetime) -> None:
    """Give a returned sale's price back to the buyer's daily and monthly budget of
    the windows the sale was counted in (its ``sold_at`` in the buyer's time zone),
    if those windows are still the buyer's current ones (a past window is over: there
    is nothing to give back). Caps are not freed: the buyer received the lead."""
    buyer = ledger.load_buyers(uow, [sale.buyer_key]).get(sale.buyer_key)
    if buyer is None:
        return
    starts = buyer_window_starts(buyer, sale.sold_at)
    vals: dict[str, Any] = {}
    for w, col in (("day", "day_spent"), ("month", "month_spent")):
        start, spent = LOADS.c[f"{w}_start"], LOADS.c[col]
        vals[col] = case((start == starts[w],
                          case((spent > sale.price, spent - sale.price), else_=0)),
                         else_=spent)
    uow.session.execute(update(LOADS).where(LOADS.c.buyer_key == sale.buyer_key)
                        .values(updated_at=now, **vals))


def return_dict(r: mk.SaleReturn, who: Principal | None = None) -> dict[str, Any]:
    """A return as the API and console show it. A buyer's user (``who``) is an outside
    company: it sees its credit, not the supplier's charge-back nor who the supplier
    is (the decision's text for managers names both)."""
    out = {"id": r.id, "sale_id": r.sale_id, "buyer": r.buyer_key, "reason": r.reason,
           "note": r.note, "status": r.status, "code": r.code, "text": r.text,
           "credit": show(money(r.credit)), "chargeback": show(money(r.chargeback)),
           "requested_at": r.requested_at.isoformat(),
           "decided_at": r.decided_at.isoformat() if r.decided_at else None,
           "decided_by": r.decided_by}
    if who is not None and not who.is_manager:
        del out["chargeback"]
        if r.status == "approved":
            out["text"] = f"credit {show(money(r.credit))} to {r.buyer_key}"
    return out


def list_returns(uow: UnitOfWork, who: Principal, *, status: str | None = None,
                 limit: int = 100) -> list[dict[str, Any]]:
    who.require_user()
    q = select(mk.SaleReturn)
    if not who.is_manager:
        if who.role != "buyer":
            raise Forbidden("returns are for managers and buyers")
        q = q.where(mk.SaleReturn.buyer_key == who.buyer_key)
    if status:
        q = q.where(mk.SaleReturn.status == status)
    rows = uow.session.scalars(q.order_by(mk.SaleReturn.id.desc()).limit(min(limit, 1000)))
    return [return_dict(r, who) for r in rows]


def lead_money(uow: UnitOfWork, lead_id: int) -> dict[str, Any] | None:
    """A lead's revenue, credits, supplier cost (and charge-backs) and margin."""
    ml = uow.session.get(mk.MarketLead, lead_id)
    if ml is None:
        return None
    lm = lead_margin([money(ml.revenue)], money(ml.cost - ml.charged_back))
    return {"revenue": show(lm.revenue), "credited": show(money(ml.credited)),
            "supplier_cost": show(money(ml.cost)),
            "charged_back": show(money(ml.charged_back)),
            "margin": show(lm.margin - money(ml.credited)),
            "quoted": show(money(ml.quoted)) if ml.quoted is not None else None,
            "sales": ml.sales, "exclusive": ml.exclusive}


def totals(uow: UnitOfWork) -> dict[str, Any]:
    """Money over every lead on the market, and return rates per buyer and supplier."""
    s = uow.session
    rev, cred, cost, back = s.execute(select(
        func.coalesce(func.sum(mk.MarketLead.revenue), 0),
        func.coalesce(func.sum(mk.MarketLead.credited), 0),
        func.coalesce(func.sum(mk.MarketLead.cost), 0),
        func.coalesce(func.sum(mk.MarketLead.charged_back), 0))).one()
    rows = s.execute(select(mk.Sale, mk.MarketLead.source_key).join(
        mk.MarketLead, mk.MarketLead.lead_id == mk.Sale.lead_id).where(
        mk.Sale.status != "pending")).all()
    sales = [_domain_sale(r, src) for r, src in rows]
    returns = [ReturnRequest(x.id, "", x.sold_at) for x in sales if x.returned]
    return {"revenue": show(money(rev)), "credited": show(money(cred)),
            "supplier_cost": show(money(cost)), "charged_back": show(money(back)),
            "margin": show(money(rev - cred - cost + back)),
            "return_rates": return_rates(sales, returns).to_dict()}
