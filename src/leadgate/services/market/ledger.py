"""Buyers' live loads and the atomic sale.

A buyer's caps and budgets live in one ``buyer_loads`` row per buyer (counts per
hour/day/week/month window with the window's start, cents spent today and this month),
and a lead's sales in its ``market_leads`` row (times sold, sold exclusively). A sale is
two conditional UPDATEs in one transaction::

    UPDATE market_leads SET sales = sales + 1 ...
     WHERE lead_id = :lead AND NOT exclusive AND sales < :max_sales   -- exclusivity
    UPDATE buyer_loads SET day_count = CASE WHEN day_start = :day THEN day_count + 1
                                            ELSE 1 END, day_start = :day, ...
     WHERE buyer_key = :buyer AND (day_start <> :day OR day_count < :daily_cap)
       AND (day_start <> :day OR day_spent + :price <= :daily_budget) ...

after inserting the ``sales`` row (unique per lead and buyer). Either UPDATE matching no
row refuses the sale (compensating statements take back what the reservation wrote, in
the same transaction: see :func:`reserve`). Every sale takes its locks in the
same order (sale key, lead, buyer), so concurrent sales never deadlock. On PostgreSQL
the row lock taken by an UPDATE makes a concurrent sale of the same buyer wait and
re-check the WHERE against the committed counts, so two processes can never push a
buyer past a cap or a budget, nor sell an exclusive lead twice; SQLite serialises
writers. Nothing here scans sales.

A sale is *reserved* (status ``pending``) before the lead is posted to the buyer and
committed, so other workers count it; :func:`release` undoes it when the buyer rejects,
and :func:`expire` (exactly once) when its worker died before the post's outcome.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    CursorResult,
    Table,
    and_,
    bindparam,
    case,
    delete,
    false,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from leadgate.domain.market.amounts import CENT
from leadgate.domain.market.buyer_config import parse_buyer
from leadgate.domain.market.buyers import (
    BUDGET_WINDOWS,
    CAP_WINDOWS,
    Buyer,
    BuyerCandidate,
    BuyerLoad,
    buyer_window_starts,
)
from leadgate.services.market.prepared import flat, run, values_of
from leadgate.services.market.setup import ZERO_LOAD
from leadgate.store import market as mk
from leadgate.store.uow import UnitOfWork

LOADS = cast(Table, mk.BuyerLoadRow.__table__)
LEADS = cast(Table, mk.MarketLead.__table__)
SALES = cast(Table, mk.Sale.__table__)
WINDOWS = ("hour", "day", "week", "month")
_BUDGET_COLUMN = {"daily": ("day", "day_spent"), "monthly": ("month", "month_spent")}


def core(uow: UnitOfWork) -> Connection:
    """The unit of work's connection, for the sale's prebuilt Core statements: the
    same transaction as ``uow.session`` (a Core statement on a table is run as is by
    the session too, which only adds its own bookkeeping per call; nothing is
    flushed either way). Looked up once per transaction (kept in the session's
    ``info`` with the transaction it belongs to): ``Session.connection()`` costs tens
    of microseconds a call, and a sale runs several statements per transaction."""
    s = uow.session
    got = s.info.get(_CORE)
    t = s.get_transaction()
    if got is not None and t is not None and got[0] is t:
        return cast(Connection, got[1])
    c = s.connection()
    s.info[_CORE] = (s.get_transaction(), c)
    return c


_CORE = "leadgate.market.core"


def cents(amount: Decimal) -> int:
    return int((amount.quantize(CENT) * 100).to_integral_value())


def money(c: int | None) -> Decimal:
    if not c:  # most buyers' windows: nothing spent (no Decimal arithmetic)
        return _NO_MONEY
    return (Decimal(c) / 100).quantize(CENT)


_NO_MONEY = Decimal(0).quantize(CENT)


_parsed: dict[str, Buyer] = {}


def buyer_of(spec: Mapping[str, Any]) -> Buyer:
    """The domain buyer of a stored spec (parsed once per content)."""
    k = json.dumps(spec, sort_keys=True, default=str)
    got = _parsed.get(k)
    if got is None:
        got = _parsed[k] = parse_buyer(spec)
    return got


def load_buyers(uow: UnitOfWork, keys: Iterable[str]) -> dict[str, Buyer]:
    keys = list(keys)
    rows = uow.session.scalars(select(mk.Buyer).where(mk.Buyer.key.in_(keys)))
    return {r.key: buyer_of(r.spec) for r in rows}


class LeadSales(NamedTuple):
    """What a lead's ``market_leads`` row says about selling it again."""

    sales: int
    exclusive: bool
    quoted: int | None = None


def candidates(uow: UnitOfWork, buyers: Mapping[str, Buyer], lead_id: int | None,
               now: datetime, *, lead: LeadSales | None = None) -> list[BuyerCandidate]:
    """Each buyer with its live load for this lead: up to three reads by key (the
    lead's market row is not read again when the caller passes it as ``lead``). Only
    the buyers with caps or budgets have their load rows read: a buyer without either
    is eligible whatever its counts say (:func:`counted`), and its load holds none."""
    s = uow.session
    keys = [k for k, b in buyers.items() if counted(b)]
    rows = {r.buyer_key: r for r in core(uow).execute(_LOADS_OF, {"keys": keys})
            } if keys else {}
    ml: LeadSales | mk.MarketLead | None = lead
    if ml is None and lead_id is not None:
        ml = s.get(mk.MarketLead, lead_id)
    bought = set(s.scalars(select(mk.Sale.buyer_key).where(mk.Sale.lead_id == lead_id))
                 ) if ml is not None and ml.sales else set()  # a new lead: no query
    out = []
    for key, b in buyers.items():
        out.append(BuyerCandidate(b, load_of(b, rows.get(key), now, ml, key in bought)))
    return out


def counted(buyer: Buyer) -> bool:
    """Whether the buyer's eligibility reads its load row's counts (it has caps or
    budgets); a buyer without either is never kept out by them, and its sentence in a
    trace names no count."""
    return bool(buyer.caps) or bool(buyer.budget)


#: (window, its start column, its count column)
_WINDOW_COLUMNS = tuple((w, f"{w}_start", f"{w}_count") for w in WINDOWS)
#: every eligible buyer's load row in one Core statement (no ORM objects built), with
#: the columns the eligibility checks read (not the console's totals)
_LOADS_OF = select(*(LOADS.c[name] for name in (
    "buyer_key", *(c for _w, start, count in _WINDOW_COLUMNS for c in (start, count)),
    "day_spent", "month_spent"))).where(
    LOADS.c.buyer_key.in_(bindparam("keys", expanding=True)))


def load_of(b: Buyer, row: Any, now: datetime,
            ml: LeadSales | mk.MarketLead | None = None, bought: bool = False) -> BuyerLoad:
    starts = buyer_window_starts(b, now)
    sold: dict[str, int] = {}
    day = month = 0
    if row is not None:
        for w, start, count in _WINDOW_COLUMNS:
            if getattr(row, start) == starts[w]:
                sold[w] = getattr(row, count)
        day = row.day_spent if row.day_start == starts["day"] else 0
        month = row.month_spent if row.month_start == starts["month"] else 0
    return BuyerLoad(sold=sold, spent_today=money(day), spent_month=money(month),
                     lead_sales=ml.sales if ml else 0, lead_sold_to_buyer=bought,
                     lead_sold_exclusively=bool(ml and ml.exclusive))


def ensure_lead(uow: UnitOfWork, lead_id: int, source_key: str | None,
                now: datetime) -> mk.MarketLead:
    s = uow.session
    row = s.get(mk.MarketLead, lead_id)
    if row is None:
        try:
            with s.begin_nested():  # a twin job may insert it at the same moment
                s.add(mk.MarketLead(lead_id=lead_id, source_key=source_key, sales=0,
                                    exclusive=False, revenue=0, cost=0, credited=0,
                                    charged_back=0, updated_at=now))
        except IntegrityError:
            pass
        row = s.get(mk.MarketLead, lead_id, populate_existing=True)
    assert row is not None
    return row


class Refused(Exception):
    """The sale would break a cap, a budget or the lead's exclusivity.

    ``locked``: the refusal came after the lead's row was updated (and put back) or
    re-checked by a conditional UPDATE that waited for it, so on PostgreSQL the
    transaction may still hold that row's lock, as a savepoint rolled back would not
    have. A caller that goes on to another reservation and holds no
    lock that must outlive it commits first, so every transaction keeps taking its
    locks in the one order (sale key, lead, buyer)."""

    def __init__(self, code: str, *, locked: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.locked = locked


@dataclass(frozen=True)
class Reserved:
    """A pending sale as :func:`reserve` wrote it (amounts in cents)."""

    id: int
    lead_id: int
    buyer_key: str
    price: int
    payout: int
    exclusive: bool
    sold_at: datetime
    bid_id: str | None = None


def reserve(uow: UnitOfWork, buyer: Buyer, lead_id: int, price: Decimal, payout: Decimal,
            now: datetime, *, method: str, bid_id: str | None = None,
            held: int = 0) -> Reserved:
    """Record a pending sale atomically with the cap, budget and exclusivity checks;
    raises :class:`Refused` (``sold_out``, ``capped``, ``already_sold_to_buyer``).
    :func:`reserve_many` with one sale (see there)."""
    got = reserve_many(uow, [Want(buyer, price, payout, bid_id)], lead_id, now,
                       method=method, held=held)[0]
    if isinstance(got, Refused):
        raise got
    return got


@dataclass(frozen=True)
class Want:
    """One sale to reserve: the buyer, its price, the supplier's payout, its bid id."""

    buyer: Buyer
    price: Decimal
    payout: Decimal
    bid_id: str | None = None


def reserve_many(uow: UnitOfWork, wants: Sequence[Want], lead_id: int, now: datetime, *,
                 method: str, held: int = 0) -> list[Reserved | Refused]:
    """Reserve sales of one lead to several buyers in one transaction, in the order
    given (bid order): the answer for each, a :class:`Reserved` or the
    :class:`Refused` it met. Several are for a shared lead's next bids: each ``wants[k]``
    needs the lead to have fewer than ``max_sales - k`` sales, so the group must not
    hold an exclusive buyer after its first.

    Statements (Core, built once): the sales' ``INSERT ... ON CONFLICT DO NOTHING
    RETURNING`` (one statement, rows in buyer key order; no row back means the buyer
    has the lead already), ONE conditional UPDATE of the lead's row for all of them
    (``sales < min(max_sales - k)``, not sold exclusively), then each buyer's
    conditional UPDATE (caps, budgets) in buyer key order. Locks are taken in the one
    order of every sale: sale keys, the lead's row, buyers' rows by key, so twin jobs
    and sales of other leads to the same buyers never wait on each other in a cycle.
    No savepoint: a refusal takes back what this call wrote with compensating
    statements in the same transaction, so no other worker ever sees it (a refusal
    after the lead's UPDATE is ``locked``: see :class:`Refused`). When the lead's
    UPDATE refuses a group of several, every sale of it is refused ``sold_out`` (the
    lead filled meanwhile): the caller commits and goes on one bid at a time.
    ``held``: sales of this lead the caller's transaction already holds (settled): a
    lower bound of the lead's count, so a buyer it already fills is refused
    ``sold_out`` without a statement."""
    c = core(uow)
    out: list[Reserved | Refused | None] = [None] * len(wants)
    live: list[int] = []
    for i, w in enumerate(wants):
        code = refused_outright(w.buyer, w.price, held)
        if code is not None:
            out[i] = Refused(code)
        else:
            live.append(i)
    if not live:
        return cast(list[Reserved | Refused], out)
    p = {i: cents(wants[i].price) for i in live}
    pay = {i: cents(wants[i].payout) for i in live}
    # the sale rows first, in buyer key order: a twin job selling the same lead to the
    # same buyer waits here holding nothing (or only sale keys before this one), then
    # inserts nothing (the unique (lead, buyer) key)
    by_key = sorted(live, key=lambda i: wants[i].buyer.key)
    got = run(c, _new_sales(c.dialect.name, len(by_key)), flat([{
        "lead_id": lead_id, "buyer_key": wants[i].buyer.key, "method": method,
        "price": p[i], "payout": pay[i], "exclusive": wants[i].buyer.exclusive,
        "bid_id": wants[i].bid_id, "status": "pending", "sold_at": now}
        for i in by_key], _SALE_COLUMNS)).all()
    sale_ids = {r.buyer_key: int(r.id) for r in got}
    for i in list(live):
        if wants[i].buyer.key not in sale_ids:
            out[i] = Refused("already_sold_to_buyer")
            live.remove(i)
    if not live:
        return cast(list[Reserved | Refused], out)
    # one conditional UPDATE of the lead for all of them (bid order: the k-th needs
    # fewer than max_sales - k sales before the group)
    ws = [wants[i].buyer for i in live]
    if _rows(run(c, _LEAD_TAKE, {
            "b_lead": lead_id, "b_n": len(live), "b_p": sum(p[i] for i in live),
            "b_pay": sum(pay[i] for i in live), "b_now": now,
            "b_limit": min(b.max_sales - k for k, b in enumerate(ws)),
            "b_ex": len(ws) == 1 and ws[0].exclusive})) != 1:
        _drop_sales(uow, [sale_ids[b.key] for b in ws])
        # locked all the same: on PostgreSQL an UPDATE that waited for a twin's update
        # of the row and then found its condition false (the lead filled meanwhile)
        # keeps the row lock it took to re-check. Went on to the next buyer in the
        # same transaction, that lock came before the next sale key, against the
        # order every reservation takes: a twin inserting that key and waiting for the
        # lead's row was a deadlock (seen in a 1,000-lead two-server run).
        for i in live:
            out[i] = Refused("sold_out", locked=True)
        return cast(list[Reserved | Refused], out)
    capped: list[int] = []
    # the buyers' rows in key order (PostgreSQL: one conditional UPDATE each, so every
    # sale locks them in the one order); SQLite has one writer at a time, and buyers of
    # one shape (caps, budgets, window starts) go in one UPDATE ... RETURNING their keys
    batches: dict[Any, list[int]] = {}
    for i in sorted(live, key=lambda i: wants[i].buyer.key):
        b = wants[i].buyer
        starts = buyer_window_starts(b, now)
        shape = _shape(b, starts) if c.dialect.name == "sqlite" else i
        batches.setdefault(shape, []).append(i)
    for shape, batch in batches.items():
        b = wants[batch[0]].buyer
        params: dict[str, Any] = {"b_now": now}
        for win, at in buyer_window_starts(b, now).items():
            params[f"b_{win}"] = at
        if len(batch) == 1:
            params |= {"b_key": b.key, "b_p": p[batch[0]]}
            if _rows(run(c, _statements(b)[0], params)) != 1:
                capped.append(batch[0])
            continue
        for j, i in enumerate(batch):
            params |= {f"b_key{j}": wants[i].buyer.key, f"b_p{j}": p[i]}
        took = {r.buyer_key for r in run(c, _group_update(b, shape, len(batch)), params)}
        capped.extend(i for i in batch if wants[i].buyer.key not in took)
    if capped:
        _undo_lead(uow, lead_id, sum(p[i] for i in capped), sum(pay[i] for i in capped),
                   len(ws) == 1 and ws[0].exclusive, now, n=len(capped))
        _drop_sales(uow, [sale_ids[wants[i].buyer.key] for i in capped])
        for i in capped:
            out[i] = Refused("capped", locked=True)
    for i in live:
        if out[i] is None:
            w = wants[i]
            out[i] = Reserved(sale_ids[w.buyer.key], lead_id, w.buyer.key, p[i], pay[i],
                              w.buyer.exclusive, now, w.bid_id)
    return cast(list[Reserved | Refused], out)


def _drop_sales(uow: UnitOfWork, ids: Sequence[int]) -> None:
    core(uow).execute(_DROP_SALES, {"b_ids": list(ids)})


def refused_outright(buyer: Buyer, price: Decimal, held: int = 0) -> str | None:
    """The refusal :func:`reserve` answers without a statement, if any: ``capped`` for
    a price above one of the buyer's whole budgets (no window could pay it), and
    ``sold_out`` when the sales of the lead the caller holds (``held``) already fill
    it for this buyer (exclusive, or ``sale: {shared: N}`` reached)."""
    limits = _statements(buyer)[1]
    if limits and any(cents(price) > lim for lim in limits):
        return "capped"
    if held and (buyer.exclusive or held >= buyer.max_sales):
        return "sold_out"
    return None


def settle(uow: UnitOfWork, sale: Reserved, external_id: str | None) -> bool:
    """Mark a reserved sale sold (the buyer took the lead); False if it was no longer
    pending (settled as lost meanwhile: see :func:`expire`)."""
    return settle_many(uow, [(sale, external_id)]) == 1


def settle_many(uow: UnitOfWork, sales: Sequence[tuple[Reserved, str | None]]) -> int:
    """:func:`settle` for several sales in one call; how many were still pending."""
    if not sales:
        return 0
    return _rows(run(core(uow), _SETTLE, [{"b_id": s.id, "b_x": x} for s, x in sales]))


_SALE_COLUMNS = ("lead_id", "buyer_key", "method", "price", "payout", "exclusive",
                 "bid_id", "status", "sold_at")
_DIALECTS = {"postgresql": postgresql, "sqlite": sqlite}


@functools.cache
def _new_sales(dialect: str, n: int) -> Any:
    """``n`` pending sales' rows: each inserted unless the lead was sold to the buyer
    (built once per dialect and number of rows; one INSERT of all of them)."""
    return values_of(SALES, _SALE_COLUMNS, n, lambda rows: _DIALECTS[dialect].insert(SALES)
                     .values(rows).on_conflict_do_nothing(
                         index_elements=[SALES.c.lead_id, SALES.c.buyer_key])
                     .returning(SALES.c.id, SALES.c.buyer_key))
_DROP_SALES = delete(SALES).where(SALES.c.id.in_(bindparam("b_ids", expanding=True)))


_SETTLE = update(SALES).where(SALES.c.id == bindparam("b_id"),
                              SALES.c.status == "pending").values(
    status="sold", external_id=bindparam("b_x", type_=SALES.c.external_id.type))
#: the end of a sale: the lead's trace, and its committed sales back (row locked on
#: PostgreSQL: the lead's row first, then the buyers' rows, the order of every sale)
CONCLUDE = update(LEADS).where(LEADS.c.lead_id == bindparam("b_lead")).values(
    trace=bindparam("b_trace", type_=LEADS.c.trace.type),
    updated_at=bindparam("b_now", type_=LEADS.c.updated_at.type)).returning(LEADS.c.sales)


_stmts: dict[int, tuple[Buyer, Any, tuple[int, ...]]] = {}


def _statements(buyer: Buyer) -> tuple[Any, tuple[int, ...]]:
    """A buyer's conditional UPDATE of its load row, built once per parsed buyer (the
    buyer's caps and budgets are in the statement; the amounts, times and window starts
    are bound), and its whole budgets in cents."""
    got = _stmts.get(id(buyer))
    if got is None or got[0] is not buyer:
        limits = tuple(cents(buyer.budget[k]) for k in BUDGET_WINDOWS
                       if buyer.budget.get(k) is not None)
        got = _stmts[id(buyer)] = (buyer, _load_update(buyer), limits)
    return got[1], got[2]


def _rows(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


_P = bindparam("b_p", type_=BigInteger())
_PAY = bindparam("b_pay", type_=BigInteger())


#: a reservation's conditional UPDATE of the lead's row, for one sale or a group:
#: ``b_n`` sales more (``b_p`` revenue, ``b_pay`` cost unless the lead was quoted) when
#: the lead is not sold exclusively and has fewer than ``b_limit`` sales (1 for an
#: exclusive buyer, which then marks it exclusive: ``b_ex``)
_LEAD_TAKE = update(LEADS).where(
    LEADS.c.lead_id == bindparam("b_lead"), LEADS.c.exclusive == false(),
    LEADS.c.sales < bindparam("b_limit", type_=BigInteger())).values(
    sales=LEADS.c.sales + bindparam("b_n", type_=BigInteger()),
    revenue=LEADS.c.revenue + _P,
    cost=case((LEADS.c.quoted.is_(None), LEADS.c.cost + _PAY), else_=LEADS.c.cost),
    exclusive=bindparam("b_ex", type_=LEADS.c.exclusive.type),
    updated_at=bindparam("b_now", type_=LEADS.c.updated_at.type))


def _load_update(buyer: Buyer, n: int = 0) -> Any:
    """The conditional UPDATE of the load row of ``buyer`` (``b_key``, price ``b_p``);
    with ``n``, of the rows of ``n`` buyers with its caps and budgets in one statement
    (``b_key0``.. with prices ``b_p0``..), returning the keys of the rows it updated."""
    if n:
        keys = [bindparam(f"b_key{i}") for i in range(n)]
        price: Any = case({k: bindparam(f"b_p{i}", type_=BigInteger())
                           for i, k in enumerate(keys)}, value=LOADS.c.buyer_key)
        key_cond = LOADS.c.buyer_key.in_(keys)
    else:
        price, key_cond = _P, LOADS.c.buyer_key == bindparam("b_key")
    starts = {w: bindparam(f"b_{w}", type_=LOADS.c[f"{w}_start"].type) for w in WINDOWS}
    conds: list[Any] = [key_cond]
    vals: dict[str, Any] = {"sold": LOADS.c.sold + 1, "spent": LOADS.c.spent + price,
                            "updated_at": bindparam("b_now", type_=LOADS.c.updated_at.type)}
    for w in WINDOWS:
        start, count = LOADS.c[f"{w}_start"], LOADS.c[f"{w}_count"]
        current = and_(start.is_not(None), start == starts[w])
        vals[f"{w}_count"] = case((current, count + 1), else_=1)
        vals[f"{w}_start"] = starts[w]
    for key, w in CAP_WINDOWS.items():
        cap = buyer.caps.get(key)
        if cap is not None:
            start, count = LOADS.c[f"{w}_start"], LOADS.c[f"{w}_count"]
            conds.append(false() if cap <= 0 else
                         or_(start.is_(None), start != starts[w], count < cap))
    for key in BUDGET_WINDOWS:
        w, col = _BUDGET_COLUMN[key]
        start, spent = LOADS.c[f"{w}_start"], LOADS.c[col]
        current = and_(start.is_not(None), start == starts[w])
        vals[col] = case((current, spent + price), else_=price)
        limit = buyer.budget.get(key)
        if limit is not None:  # a price above the whole budget is refused before
            conds.append(or_(start.is_(None), start != starts[w],
                             spent + price <= cents(limit)))
    stmt = update(LOADS).where(*conds).values(**vals)
    return stmt.returning(LOADS.c.buyer_key) if n else stmt


def _shape(buyer: Buyer, starts: Mapping[str, datetime]) -> tuple[Any, ...]:
    """What a buyer's load UPDATE is made of: its caps and budgets and its window
    starts. Buyers of one shape have their rows updated by one statement on SQLite."""
    return (tuple(sorted(buyer.caps.items())),
            tuple(sorted((k, cents(v)) for k, v in buyer.budget.items())),
            tuple(starts[w] for w in WINDOWS))


_groups: dict[tuple[Any, ...], Any] = {}


def _group_update(buyer: Buyer, shape: tuple[Any, ...], n: int) -> Any:
    """:func:`_load_update` of ``n`` buyers of ``buyer``'s shape (built once per caps,
    budgets and number of buyers)."""
    key = (shape[:2], n)
    got = _groups.get(key)
    if got is None:
        if len(_groups) >= 256:
            _groups.clear()
        got = _groups[key] = _load_update(buyer, n)
    return got


def release(uow: UnitOfWork, buyer: Buyer, sale: Reserved, now: datetime) -> None:
    """Undo a pending sale the buyer did not take (rejected post, timeout)."""
    _undo(uow, buyer, sale, now)
    uow.session.execute(delete(SALES).where(SALES.c.id == sale.id))


def _undo_lead(uow: UnitOfWork, lead_id: int, price: int, payout: int, exclusive: bool,
               now: datetime, *, n: int = 1) -> None:
    """Take ``n`` sales (``price`` and ``payout`` their sums) back out of the lead's
    counters and money."""
    lv: dict[str, Any] = {
        "sales": LEADS.c.sales - n, "revenue": LEADS.c.revenue - price,
        "cost": case((LEADS.c.quoted.is_(None), LEADS.c.cost - payout),
                     else_=LEADS.c.cost), "updated_at": now}
    if exclusive:
        lv["exclusive"] = False
    uow.session.execute(update(LEADS).where(LEADS.c.lead_id == lead_id).values(**lv))


def _undo(uow: UnitOfWork, buyer: Buyer, sale: Reserved | mk.Sale, now: datetime) -> None:
    """Take a reserved sale back out of the lead's and the buyer's counters."""
    s = uow.session
    starts = buyer_window_starts(buyer, sale.sold_at)
    vals: dict[str, Any] = {"sold": LOADS.c.sold - 1, "spent": LOADS.c.spent - sale.price,
                            "updated_at": now}
    for w in WINDOWS:
        start, count = LOADS.c[f"{w}_start"], LOADS.c[f"{w}_count"]
        vals[f"{w}_count"] = case((start == starts[w], count - 1), else_=count)
    for _key, (w, col) in _BUDGET_COLUMN.items():
        start = LOADS.c[f"{w}_start"]
        vals[col] = case((start == starts[w], LOADS.c[col] - sale.price), else_=LOADS.c[col])
    _undo_lead(uow, sale.lead_id, sale.price, sale.payout, sale.exclusive, now)
    s.execute(update(LOADS).where(LOADS.c.buyer_key == buyer.key).values(**vals))


#: how long past ``market.sale_within`` a pending sale may wait for its post's outcome
#: before it counts as lost (its worker died between the reservation and the outcome)
PENDING_GRACE = timedelta(seconds=30)


def pending_sales(uow: UnitOfWork, lead_id: int) -> list[mk.Sale]:
    """The lead's reserved sales still waiting for their post's outcome."""
    return list(uow.session.scalars(select(mk.Sale).where(
        mk.Sale.lead_id == lead_id, mk.Sale.status == "pending").order_by(mk.Sale.id)))


def expire(uow: UnitOfWork, buyer: Buyer, sale: mk.Sale, now: datetime) -> bool:
    """Settle a pending sale whose worker was lost: the sale row goes and the lead's
    and buyer's counters and budget get it back, exactly once (the DELETE is
    conditional on the sale still pending: of two workers settling it, one deletes it
    and the other matches no row and changes nothing). True if this call settled it."""
    s = uow.session
    gone = s.execute(delete(SALES).where(SALES.c.id == sale.id,
                                         SALES.c.status == "pending"))
    if _rows(gone) != 1:
        return False
    _undo(uow, buyer, sale, now)
    if sale in s:
        s.expunge(sale)
    return True


COUNTERS = ("offered", "bids", "accepted", "rejected")


def count_all(uow: UnitOfWork, counts: Mapping[str, Mapping[str, int]]) -> None:
    """Add a sale's counters (offered, bids, accepted, rejected per buyer) to the
    buyers' rows: one cached statement run for each buyer, in key order (the order
    every sale locks buyers' rows in)."""
    rows = [{"k": k, **{c: counts[k].get(c, 0) for c in COUNTERS}}
            for k in sorted(counts) if any(counts[k].values())]
    if rows:
        run(core(uow), _COUNT, rows)


_COUNT = update(LOADS).where(LOADS.c.buyer_key == bindparam("k")).values(
    **{c: LOADS.c[c] + bindparam(c) for c in COUNTERS})


def ensure_load_rows(uow: UnitOfWork, keys: Iterable[str], now: datetime) -> None:
    have = set(uow.session.scalars(select(mk.BuyerLoadRow.buyer_key).where(
        mk.BuyerLoadRow.buyer_key.in_(list(keys)))))
    for k in set(keys) - have:
        uow.session.add(mk.BuyerLoadRow(buyer_key=k, updated_at=now, **ZERO_LOAD))


def check_budget(buyer: Buyer, cands: list[BuyerCandidate], price: Decimal,
                 facts: Mapping[str, Any], now: datetime) -> bool:
    """Whether ``buyer`` could pay ``price`` now (its budgets and caps with that price)."""
    from leadgate.domain.market.buyers import eligibility

    load = next((c.load for c in cands if c.buyer.key == buyer.key), BuyerLoad())
    return not eligibility(buyer, load, facts, now, price=price)
