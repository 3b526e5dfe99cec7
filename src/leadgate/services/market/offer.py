"""Offering a lead to buyers: reserve the sales, post the full lead, keep or release.

:func:`offer_many` is one step of a sale: the sales of the lead to one buyer, or to a
shared lead's next bidders together (:func:`next_group`), are reserved in one
committed transaction (``ledger.reserve_many``), the full lead is posted to each of
them at once (:func:`post_all`: ``http`` destinations through the pinger's event
loop, ``Pinger.post_all``), and each sale is then settled (the buyer took the lead)
or released (it did not), with each post's delivery row and attempt recorded. The
posts' delivery rows are written with the reservation (``sending``) so a worker lost
during the posts leaves them for the job's re-run to close (``sell._recover``).
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert, update

from leadgate.delivery.base import Exchange, Outcome, Spec
from leadgate.delivery.market import pinger
from leadgate.domain.market.amounts import show
from leadgate.domain.market.auction import AuctionDecision, RankedBid
from leadgate.domain.market.buyers import Buyer
from leadgate.services import deliveries
from leadgate.services.market import ledger
from leadgate.services.market.lead_row import LeadForSale
from leadgate.services.market.prepared import flat, run, values_of
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

if TYPE_CHECKING:
    from leadgate.services.market.sell import Sold


def next_group(decision: AuctionDecision, buyers: Mapping[str, Buyer],
               held: int) -> list[RankedBid]:
    """The winner and the next bids reserved and posted with it: while the lead is
    shared, each next bidder in order that is shared too and that the lead has room
    for if every bid before it sells (``held`` + its place < its ``max_sales``), and
    that the reservation would not refuse outright. An exclusive winner goes alone;
    the group stops at the first bid that does not fit (bid order is kept)."""
    assert decision.winner is not None
    group = [decision.winner]
    if buyers[decision.winner.buyer].exclusive:
        return group
    for bid in decision.fallbacks:
        b = buyers[bid.buyer]
        if (b.exclusive or held + len(group) >= b.max_sales
                or ledger.refused_outright(b, bid.amount, held)):
            break
        group.append(bid)
    return group


_DELIVERIES = cast(Table, m.Delivery.__table__)
_DELIVERY_COLUMNS = ("lead_id", "destination_key", "idempotency_key", "status", "attempts",
                     "attempts_offset", "position", "created_at", "updated_at")


@functools.cache
def _new_deliveries(n: int) -> Any:
    """The INSERT of ``n`` posts' delivery rows, their ids back (built once per n)."""
    return values_of(_DELIVERIES, _DELIVERY_COLUMNS, n, lambda rows: insert(_DELIVERIES)
                     .values(rows).returning(_DELIVERIES.c.id,
                                             _DELIVERIES.c.idempotency_key))


_ATTEMPTS = cast(Table, m.DeliveryAttempt.__table__)
#: ``deliveries.record_attempts``' INSERT of attempt rows (``deliveries.attempt_row``)
_NEW_ATTEMPT = insert(_ATTEMPTS).values({c: bindparam(c, type_=_ATTEMPTS.c[c].type) for c in (
    "delivery_id", "number", "outcome", "reason", "retryable", "request", "response",
    "started_at", "duration_ms", "worker")})
_POSTED = update(_DELIVERIES).where(_DELIVERIES.c.id == bindparam("b_id")).values(
    status=bindparam("b_status"), reason=bindparam("b_reason"),
    external_id=bindparam("b_x", type_=_DELIVERIES.c.external_id.type),
    finished_at=bindparam("b_now", type_=_DELIVERIES.c.finished_at.type),
    updated_at=bindparam("b_now", type_=_DELIVERIES.c.updated_at.type))


def offer(uow: UnitOfWork, lead: LeadForSale, buyer: Buyer, price: Decimal, payout: Decimal,
           now: datetime, *, method: str, bid_id: str | None, within: float,
           sold: Sold, dests: Mapping[str, Spec]) -> dict[str, Any]:
    """Reserve the sale (committed), post the full lead, then keep or release it."""
    got = offer_many(uow, lead, [ledger.Want(buyer, price, payout, bid_id)], now,
                      method=method, within=within, sold=sold, dests=dests)
    assert got is not None  # one sale is never a group refused as a whole
    return got[0]


def offer_many(uow: UnitOfWork, lead: LeadForSale, wants: list[ledger.Want], now: datetime, *,
                method: str, within: float, sold: Sold,
                dests: Mapping[str, Spec]) -> list[dict[str, Any]] | None:
    """Reserve the sales (one transaction, committed), post the full lead to each
    buyer at once, then keep or release each sale: the post lines, in the order of
    ``wants``. None when the lead's UPDATE refused a group of several (the lead filled
    meanwhile; committed): the caller goes on one bid at a time."""
    lines: list[dict[str, Any]] = [
        {"buyer": w.buyer.key, "price": show(w.price), "bid_id": w.bid_id} for w in wants]
    got = ledger.reserve_many(uow, wants, lead.id, now, method=method, held=sold.held)
    locked = any(isinstance(g, ledger.Refused) and g.locked for g in got)
    if len(wants) > 1 and any(isinstance(g, ledger.Refused) and g.code == "sold_out"
                              for g in got):
        uow.commit()
        return None
    # Core, not ORM objects: one INSERT of the posts' delivery rows now, one UPDATE
    # of them after the posts
    rows, specs = [], {}
    for k, (w, g) in enumerate(zip(wants, got, strict=True)):
        if isinstance(g, ledger.Refused):
            lines[k] |= {"result": "refused", "reason": g.code}
            continue
        first = w.buyer.destinations[0] if w.buyer.destinations else None
        spec = None if first is None else dests.get(first)
        if spec is not None:
            key = uuid.uuid4().hex
            specs[key] = (k, spec)
            rows.append({"lead_id": lead.id, "destination_key": first,
                         "idempotency_key": key, "status": "sending", "attempts": 1,
                         "attempts_offset": 0, "position": 0, "created_at": now,
                         "updated_at": now})
    sending = {specs[r.idempotency_key][0]: (int(r.id), r.idempotency_key,
                                             specs[r.idempotency_key][1])
               for r in (run(ledger.core(uow), _new_deliveries(len(rows)),
                             flat(rows, _DELIVERY_COLUMNS)) if rows else ())}
    reserved = [k for k, g in enumerate(got) if isinstance(g, ledger.Reserved)]
    if reserved or locked:
        # the reservations count for every other worker from here on, and no
        # transaction (nor SQLite's write lock) is held during the posts
        uow.commit()
    if not reserved:
        return lines
    outcomes = {k: Outcome("accepted", "the buyer has no destination: bought on record")
                for k in reserved}
    attempts, posted = [], []
    if sending:
        if sold.view is None:
            sold.view = deliveries.lead_view(lead, None)
        todo = []
        for k, (did, key, spec) in sending.items():
            w = wants[k]
            spec = replace(spec, common=replace(spec.common,
                                                timeout=min(spec.common.timeout, within)))
            todo.append((k, did, spec, sold.view | {
                "delivery_id": did, "idempotency_key": key, "bid_id": w.bid_id,
                "price": show(w.price), "buyer": w.buyer.key}))
        t = time.perf_counter()
        answers = post_all([(spec, view) for _k, _d, spec, view in todo], now)
        sold.post_ms += (time.perf_counter() - t) * 1000
        for (k, did, spec, _v), (outcome, seen, started, ms) in zip(todo, answers,
                                                                   strict=True):
            outcomes[k] = outcome
            attempts.append(deliveries.attempt_row(did, 1, outcome, seen, started, ms, spec))
            posted.append({"b_id": did, "b_reason": outcome.reason, "b_now": now,
                           "b_status": outcome.status if outcome.status != "error"
                           else "dead", "b_x": (outcome.external_id or "")[:200] or None})
            lines[k] |= {"delivery": did, "ms": ms}
    if attempts:
        run(ledger.core(uow), _NEW_ATTEMPT, attempts)
    if posted:
        run(ledger.core(uow), _POSTED, posted)
    took = [k for k in reserved if outcomes[k].status == "accepted"]
    sold.held += ledger.settle_many(uow, [(cast(ledger.Reserved, got[k]),
                                           outcomes[k].external_id) for k in took])
    for k in took:  # committed with the job
        sold.counts[wants[k].buyer.key]["accepted"] += 1
        lines[k] |= {"result": "sold", "sale": cast(ledger.Reserved, got[k]).id}
    released = False
    for k in reserved:
        outcome = outcomes[k]
        if outcome.status == "accepted":
            continue
        ledger.release(uow, wants[k].buyer, cast(ledger.Reserved, got[k]), now)
        released = True
        sold.counts[wants[k].buyer.key]["rejected"] += 1
        lines[k] |= {"result": "rejected" if outcome.status != "error" else "error",
                     "reason": outcome.reason}
    if released:
        # one buyer row per transaction: sales never wait on each other in a cycle
        uow.commit()
    return lines


def post_all(posts: list[tuple[Spec, dict[str, Any]]],
              now: datetime) -> list[tuple[Outcome, Exchange, datetime, float]]:
    """Send posts of the full lead at once: those to ``http`` destinations through the
    pinger's event loop together (``Pinger.post_all``), any other (and any while tests
    inject an HTTP client) one by one through :func:`post`."""
    loop = [i for i, (spec, _v) in enumerate(posts)
            if spec.kind == "http" and not deliveries._injected]
    out: dict[int, tuple[Outcome, Exchange, datetime, float]] = {}
    if loop:
        t0 = time.monotonic()
        answers = pinger().post_all([(posts[i][0].config, posts[i][1],
                                      posts[i][0].common.timeout) for i in loop])
        ms = round((time.monotonic() - t0) * 1000, 3)
        for i, (outcome, seen) in zip(loop, answers, strict=True):
            out[i] = (outcome, seen, now, ms)
    for i, (spec, view) in enumerate(posts):
        if i not in out:
            out[i] = post(spec, view, now)
    return [out[i] for i in range(len(posts))]


def post(spec: Spec, view: Mapping[str, Any],
          now: datetime) -> tuple[Outcome, Exchange, datetime, float]:
    """Send one post of the full lead: an ``http`` destination through the pinger's
    event loop (``Pinger.post``: aiohttp, no httpx work in the worker thread), any
    other kind (and any post while tests inject an HTTP client) through the delivery
    engine's ``_send``. Returns the outcome, the exchange, when and how long (ms, as
    the worker thread waited for it)."""
    if spec.kind != "http" or deliveries._injected:
        return deliveries._send(spec, view, now, batch=None,
                                http=deliveries.http_client_for(spec.config.get("url")))
    t0 = time.monotonic()
    outcome, seen = pinger().post(spec.config, view, spec.common.timeout)
    return outcome, seen, now, round((time.monotonic() - t0) * 1000, 3)
