"""The ``lead.sell`` job: sell a lead whose routing decision is ``sell``.

* ``sell_weighted`` - one buyer by weight (``domain.market.weighted``, exact shares;
  the state row is locked so concurrent workers keep them exact); the sale is recorded
  and the lead queued for delivery to the buyer's destination (the delivery engine
  retries it).
* ``ping_tree`` - buyers in priority or price order (``domain.market.ping_tree``): the
  full lead is posted to each in turn (the destination's timeout is the buyer's); the
  first to accept buys at its price; a rejection, error or timeout goes to the next.
* ``ping_post`` - every eligible ``price: bid`` buyer is pinged at once with the
  non-personal fields (``market.ping_fields``) and bids are collected until the timeout
  (default 750 ms); fixed-price buyers bid their price without a ping. The pure
  ``decide_auction`` ranks them; the full lead is posted to the winner quoting its bid
  id (``bid_id`` in the lead the destination renders); a rejected post promotes the next
  bid, within ``market.sale_within`` overall. A lead bought by a shared buyer
  (``sale: {shared: N}``) is posted on to the next bidders in bid order, each quoting
  its own bid id, until the lead is full (up to N distinct buyers) or time runs out:
  the bids the lead has room for are reserved together and posted at once
  (``offer.next_group``, ``Pinger.post_all``), their answers taken in bid order.

Each post is preceded by a reservation (``ledger.reserve_many``: caps, budgets and
exclusivity checked and counted atomically, committed), so a buyer that was capped or
out of budget is never pinged or posted to, and no concurrent worker can overshoot.
The decision's trace (every buyer, its bid or why it was skipped, the winner and why,
each post) goes on the lead's timeline (a ``sale`` event) and in ``market_leads.trace``.
An unsold lead goes to the flow's fallback: its pool of reps if it names one
(``market/fallback.py``), else its queue.

A worker lost between a reservation and its post's outcome leaves a ``pending`` sale;
the job's re-run (after its lease) releases it once it is past ``sale_within`` + 30 s
(``_recover``, ``ledger.expire``: exactly once) and sells the lead again.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from leadgate.delivery.base import Spec
from leadgate.delivery.market import PingRequest, pinger
from leadgate.domain.market.amounts import show
from leadgate.domain.market.auction import (
    DEFAULT_TIMEOUT,
    Bid,
    decide_auction,
    next_after_posts,
    next_after_rejections,
)
from leadgate.domain.market.buyers import Buyer, BuyerCandidate
from leadgate.domain.market.ping_tree import order_ping_tree
from leadgate.domain.market.trace import check
from leadgate.domain.market.weighted import choose_weighted
from leadgate.domain.routing.durations import parse_duration
from leadgate.services import deliveries, jobs, snapshot, timeline
from leadgate.services.market import fallback, lead_row, ledger
from leadgate.services.market.lead_row import LeadForSale
from leadgate.services.market.offer import next_group, offer, offer_many
from leadgate.services.market.prepared import run
from leadgate.services.market.queue import JOB
from leadgate.services.market.settings import MarketSettings
from leadgate.services.routing import routing_facts
from leadgate.store import market as mk
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork


@jobs.handler(JOB)
def _sell_job(uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
    sell(uow, payload, now)


@dataclass
class Sold:
    """What one sale of a lead came to."""

    method: str
    buyer: str | None = None
    price: Decimal | None = None
    trace: dict[str, Any] = field(default_factory=dict)
    posts: list[dict[str, Any]] = field(default_factory=list)
    also: list[str] = field(default_factory=list)  # every buyer (ping tree shared sales)
    held: int = 0  # sales of the lead this job settled (a lower bound of its count)
    post_ms: float = 0.0  # how long the job waited for its posts' answers
    view: dict[str, Any] | None = None  # what the buyers' posts see of the lead
    #: buyer -> counter -> n, added to ``buyer_loads`` in the job's last transaction
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def sell(uow: UnitOfWork, payload: Mapping[str, Any], now: datetime) -> Sold | None:
    """Sell the lead of a ``lead.sell`` job (see the module docstring); commits."""
    s = uow.session
    # the lead, its market row and the configuration stamps in one Core statement
    lead = lead_row.load(uow, payload["lead_id"])
    if lead is None:
        return None
    got = lead.market
    if lead.status != "sell":  # sold or placed meanwhile (a twin job, say)
        if got is not None and got.sales:
            _recover_placed(uow, lead.id, payload, now)
        return None
    target = dict(payload.get("target") or {})
    method = str(target.get("method"))
    keys = [b if isinstance(b, str) else str(b.get("key")) for b in target.get("buyers") or ()]
    # buyers, destinations, settings: once per config version (no statement while the
    # stamps read with the lead are those of the configuration held)
    cfg = snapshot.market(s, lead.stamps)
    settings: MarketSettings = cfg.settings
    buyers = {k: cfg.buyers[k] for k in keys if k in cfg.buyers}
    if got is None:  # written with the lead by capture; a lead routed to sale later
        row = ledger.ensure_lead(uow, lead.id, lead.source.key if lead.source else None,
                                 now)
        got = lead.market = ledger.LeadSales(row.sales, row.exclusive, row.quoted)
    recovered: list[dict[str, Any]] = []
    if got.sales:  # a new lead has no sale: no query
        wait = _recover(uow, lead.id, buyers, settings, now, recovered)
        if wait is not None:
            # a sale is still waiting for its post's outcome (a twin job runs it, or its
            # worker died a moment ago): this lead sells again once that sale expires
            jobs.enqueue(uow, JOB, dict(payload), now, delay=wait - now).max_attempts = 3
            return None
        if recovered:
            uow.commit()  # the released reservations count for every worker at once
            lead.market = None  # its counts moved: the candidates read them again
    facts = routing_facts(lead.values, lead.enrichment,
                          source=lead.source.key if lead.source else None,
                          campaign=lead.campaign.key, score=lead.score, grade=lead.grade,
                          created_at=lead.created_at, now=now)
    t0 = time.perf_counter()
    if method == "sell_weighted":
        sold = _weighted(uow, lead, buyers, facts, now, payload, settings)
    elif method == "ping_tree":
        sold = _tree(uow, lead, buyers, facts, now, target, settings, t0, cfg.destinations)
    else:
        sold = _auction(uow, lead, buyers, facts, now, target, settings, t0, got.quoted,
                        cfg.destinations)
    sold.trace["duration_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    if recovered:
        sold.trace["recovered"] = recovered
    missing = [k for k in keys if k not in buyers]
    if missing:
        sold.trace["unknown_buyers"] = missing
    _conclude(uow, lead, sold, payload, now)
    return sold  # the worker commits it with the job's "done" (one transaction)


def _recover_placed(uow: UnitOfWork, lead_id: int, payload: Mapping[str, Any],
                    now: datetime) -> None:
    """A lead placed meanwhile may still hold a reservation of a lost worker: one that
    reserved, then died or failed its last transaction while a twin job sold the lead.
    Nobody sells this lead again, so its pending sales are settled here: released once
    expired (recorded on the timeline), or this job comes back when they expire."""
    cfg = snapshot.market(uow.session)
    recovered: list[dict[str, Any]] = []
    wait = _recover(uow, lead_id, cfg.buyers, cfg.settings, now, recovered)
    if wait is not None:
        jobs.enqueue(uow, JOB, dict(payload), now, delay=wait - now).max_attempts = 3
    if recovered:
        timeline.add(uow, lead_id, "sale_released", now, actor="market",
                     recovered=recovered)


def _recover(uow: UnitOfWork, lead_id: int, buyers: Mapping[str, Buyer],
             settings: MarketSettings, now: datetime,
             recovered: list[dict[str, Any]]) -> datetime | None:
    """Settle the lead's pending sales whose worker was lost (killed between the
    reservation and the post's outcome): past ``sale_within`` + ``PENDING_GRACE`` the
    reservation is released (counters and budget back, exactly once) and the post
    left unanswered is closed, so the lead goes on to the next bid or the fallback.
    Returns when the earliest still-live pending sale expires, if any."""
    wait: datetime | None = None
    for sale in ledger.pending_sales(uow, lead_id):
        expires = sale.sold_at + settings.sale_within + ledger.PENDING_GRACE
        if expires > now:
            wait = expires if wait is None else min(wait, expires)
            continue
        buyer = buyers.get(sale.buyer_key) or ledger.load_buyers(
            uow, [sale.buyer_key]).get(sale.buyer_key) or Buyer(sale.buyer_key)
        line = {"buyer": buyer.key, "sale": sale.id, "bid_id": sale.bid_id,
                "reserved_at": sale.sold_at.isoformat()}
        if ledger.expire(uow, buyer, sale, now):
            if buyer.destinations:
                uow.session.execute(
                    update(m.Delivery).where(m.Delivery.lead_id == lead_id,
                                             m.Delivery.destination_key
                                             == buyer.destinations[0],
                                             m.Delivery.status == "sending")
                    .values(status="dead", finished_at=now, updated_at=now,
                            reason="the worker was lost before the post's outcome"))
            recovered.append(line)
    return wait


def _weighted(uow: UnitOfWork, lead: LeadForSale, buyers: Mapping[str, Buyer],
              facts: Mapping[str, Any], now: datetime, payload: Mapping[str, Any],
              settings: MarketSettings) -> Sold:
    state_row = _lock_state(uow, f"weighted:{payload.get('flow')}:{payload.get('rule')}", now)
    refused: dict[str, str] = {}
    while True:
        cands = ledger.candidates(uow, buyers, lead.id, now, lead=lead.market)
        cands = [c if c.buyer.key not in refused else
                 BuyerCandidate(c.buyer, replace(c.load, lead_sold_to_buyer=True))
                 for c in cands]
        sale = choose_weighted(cands, facts, now, state_row.data or {})
        sold = Sold("sell_weighted", trace=sale.to_dict())
        if sale.buyer is None or sale.price is None:
            return sold
        buyer = buyers[sale.buyer]
        try:
            row = ledger.reserve(uow, buyer, lead.id, sale.price,
                                 settings.margin.payout(sale.price), now,
                                 method="sell_weighted")
        except ledger.Refused as exc:
            # no commit even if the refusal left the lead's row locked: the state row's
            # lock must last to the end (a twin job waits on it before the lead's row)
            refused[buyer.key] = exc.code
            sold.trace.setdefault("refused", {}).update(refused)
            continue
        ledger.settle(uow, row, None)
        state_row.data, state_row.updated_at = dict(sale.state), now
        for dest in buyer.destinations[:1]:
            deliveries.queue_direct(uow, lead.id, dest, now)
        sold.counts[buyer.key].update(offered=1, accepted=1)
        sold.buyer, sold.price = buyer.key, sale.price
        return sold


def _lock_state(uow: UnitOfWork, key: str, now: datetime) -> mk.MarketState:
    s = uow.session
    q = select(mk.MarketState).where(mk.MarketState.key == key)
    if uow.dialect == "postgresql":
        q = q.with_for_update()
    row = s.scalar(q)
    if row is None:
        try:
            with s.begin_nested():
                s.add(mk.MarketState(key=key, data={}, updated_at=now))
        except IntegrityError:
            pass
        row = s.scalar(q)
    assert row is not None
    return row


def _tree(uow: UnitOfWork, lead: LeadForSale, buyers: Mapping[str, Buyer],
          facts: Mapping[str, Any], now: datetime, target: Mapping[str, Any],
          settings: MarketSettings, t0: float, dests: Mapping[str, Spec]) -> Sold:
    cands = ledger.candidates(uow, buyers, lead.id, now, lead=lead.market)
    tree = order_ping_tree(cands, facts, now, order=str(target.get("order", "priority")),
                           min_price=settings.reserve)
    sold = Sold("ping_tree", trace=tree.to_dict())
    for step in tree.steps:
        left = settings.sale_within.total_seconds() - (time.perf_counter() - t0)
        if left <= 0:
            sold.trace["stopped"] = "market.sale_within ran out"
            break
        buyer = buyers[step.buyer]
        post = offer(uow, lead, buyer, step.price, settings.margin.payout(step.price), now,
                      method="ping_tree", bid_id=None, within=left, sold=sold,
                      dests=dests)
        sold.posts.append(post)
        if post["result"] == "sold":
            if sold.buyer is None:
                sold.buyer, sold.price = buyer.key, step.price
            sold.also.append(buyer.key)
            if buyer.exclusive:
                break
            # a shared sale: the tree goes on to sell the lead again, up to each buyer's
            # limit (the reservation refuses exclusive buyers and full leads: sold_out)
    return sold


def _auction(uow: UnitOfWork, lead: LeadForSale, buyers: Mapping[str, Buyer],
             facts: Mapping[str, Any], now: datetime, target: Mapping[str, Any],
             settings: MarketSettings, t0: float, quoted: int | None,
             dests: Mapping[str, Spec]) -> Sold:
    timeout = (parse_duration(target["timeout"], path="timeout")
               if target.get("timeout") is not None else DEFAULT_TIMEOUT)
    cands = ledger.candidates(uow, buyers, lead.id, now, lead=lead.market)
    view = deliveries.lead_view(lead, None)
    ref = uuid.uuid4().hex
    shown = settings.ping_view(view) | {"ping_ref": ref}
    to_ping = [c.buyer for c in cands if c.buyer.pricing.kind == "bid" and c.buyer.ping
               and not check(c, facts, now)]  # ineligible buyers are never pinged
    requests = [PingRequest(b.key, dests[b.ping].config, shown)
                for b in to_ping if b.ping in dests]
    uow.commit()  # no transaction (nor SQLite's write lock) is held while pinging
    started = time.perf_counter()
    answers = pinger().ping_all(requests, timeout.total_seconds())
    ping_ms = round((time.perf_counter() - started) * 1000, 3)
    bids = [Bid(a.buyer, a.bid, timedelta(seconds=a.seconds)) for a in answers]
    bid_ids = {a.buyer: a.outcome.external_id for a in answers}
    decision = decide_auction(bids, cands, facts, now, reserve_price=settings.reserve,
                              margin=settings.margin, timeout=timeout)
    sold = Sold("ping_post", view=view)  # the full lead, made once for pings and posts
    posts: list[dict[str, Any]] = []
    single = False  # one bid at a time, once the lead's UPDATE refused a group
    while decision.winner is not None:
        left = settings.sale_within.total_seconds() - (time.perf_counter() - t0)
        if left <= 0:
            break
        w = decision.winner
        if ledger.refused_outright(buyers[w.buyer], w.amount, sold.held):
            # the lead is full: this bid and the ones after it that the reservation
            # would refuse without a statement are struck off at once (same post
            # lines and trace as one by one)
            out = []
            for bid in (w, *decision.fallbacks):
                code = ledger.refused_outright(buyers[bid.buyer], bid.amount, sold.held)
                if code is None:
                    break
                out.append(bid.buyer)
                posts.append({"buyer": bid.buyer, "price": show(bid.amount),
                              "bid_id": bid_ids.get(bid.buyer), "result": "refused",
                              "reason": code})
            decision = next_after_rejections(decision, out)
            continue
        # a shared lead's next bids that fit in it are reserved in one transaction and
        # posted at once (the answers as one by one: sold or not, in bid order)
        group = [w] if single else next_group(decision, buyers, sold.held)
        lines = offer_many(uow, lead, [
            ledger.Want(buyers[b.buyer], b.amount,
                        b.payout if quoted is None else ledger.money(quoted),
                        bid_ids.get(b.buyer)) for b in group],
            now, method="ping_post", within=left, dests=dests, sold=sold)
        if lines is None:  # the lead filled meanwhile (a twin job): one bid at a time
            single = True
            continue
        posts.extend(lines)
        outcomes = []
        for bid, post in zip(group, lines, strict=True):
            took = post["result"] == "sold"
            outcomes.append((bid.buyer, took))
            if took:
                if sold.buyer is None:
                    sold.buyer, sold.price = bid.buyer, bid.amount
                sold.also.append(bid.buyer)
        if any(took and buyers[b].exclusive for b, took in outcomes):
            break  # an exclusive sale (a group of one) ends the auction, winner and all
        # a shared sale: the next bidders in order are posted the lead too, up to the
        # buyers' limits (the reservation refuses a full lead and exclusive buyers)
        decision = next_after_posts(decision, outcomes)
    sold.trace = decision.to_dict() | {"pinged": [r.buyer for r in requests],
                                       "ping_ms": ping_ms, "ping_ref": ref,
                                       "post_ms": round(sold.post_ms, 3)}
    sold.posts = posts
    for r in requests:
        sold.counts[r.buyer]["offered"] += 1
    for a in answers:
        sold.counts[a.buyer]["bids"] += a.bid is not None
    return sold


def _conclude(uow: UnitOfWork, lead: LeadForSale, sold: Sold, payload: Mapping[str, Any],
              now: datetime) -> None:
    trace = dict(sold.trace) | {"posts": sold.posts}
    # the lead's row first, then the buyers' rows: the order every sale takes its locks
    # (the UPDATE locks the row on PostgreSQL and returns its committed sales)
    sales = run(ledger.core(uow), ledger.CONCLUDE, {
        "b_lead": lead.id, "b_trace": trace, "b_now": now}).scalar()
    ledger.count_all(uow, sold.counts)
    if sold.buyer is None and sales:
        # a twin job (a redelivered one) sold it meanwhile: it stays sold
        _set_status(uow, lead, "sold", None)
        return
    if sold.buyer is not None:
        _set_status(uow, lead, "sold", None)
        _event(uow, lead.id, "sold", now, method=sold.method, buyer=sold.buyer,
               price=show(sold.price), buyers=sold.also or [sold.buyer], trace=trace)
        return
    orm_lead = uow.session.get(m.Lead, lead.id)  # routing works on the ORM lead
    if orm_lead is not None and fallback.route_unsold(uow, orm_lead, payload, sold.method,
                                                      trace, now):
        return  # the flow's fallback pool took it (or its queue, if nobody could)
    queue = str(payload.get("fallback") or "unassigned")
    _set_status(uow, lead, "queued" if queue != "unassigned" else "unassigned", queue)
    _event(uow, lead.id, "unsold", now, method=sold.method, queue=queue, trace=trace)


_LEADS = cast(Table, m.Lead.__table__)
_LEAD_STATUS = update(_LEADS).where(_LEADS.c.id == bindparam("b_id")).values(
    status=bindparam("b_status"), queue=bindparam("b_queue"))


_EVENTS = cast(Table, m.LeadEvent.__table__)
_NEW_EVENT = insert(_EVENTS).values(
    {c: bindparam(c, type_=_EVENTS.c[c].type) for c in ("lead_id", "type", "actor", "data",
                                                         "at")})


def _event(uow: UnitOfWork, lead_id: int, type_: str, now: datetime, **data: Any) -> None:
    """The sale's timeline row (``timeline.add``'s row, actor ``market``), through the
    prepared statement."""
    run(ledger.core(uow), _NEW_EVENT, {"lead_id": lead_id, "type": type_,
                                       "actor": "market", "data": data, "at": now})


def _set_status(uow: UnitOfWork, lead: LeadForSale, status: str, queue: str | None) -> None:
    """The lead's status and queue: one Core UPDATE (no ORM flush at the commit)."""
    run(ledger.core(uow), _LEAD_STATUS, {"b_id": lead.id, "b_status": status,
                                         "b_queue": queue})
    lead.status = status
