"""Supplier pre-ping: ``POST /v1/ping`` prices a partial lead and answers a signed,
expiring ping id (no lead is created); ``POST /v1/leads`` with that ``ping_id`` is
held to the quoted price.

* :func:`quote` finds the flow rule the partial lead matches; if it sells the lead, it
  prices it: eligible fixed or rule-priced buyers at their price, and for ping post
  rules the ``price: bid`` buyers are pinged live (same timeout and fields as a real
  auction). The supplier is quoted the best price less the market margin
  (``market.margin``), never below the reserve; the id lives ``market.ping_ttl``.
* :func:`hold` (called by the leads route before capture) takes ``ping_id`` out of the
  posted lead, verifies it (``ping_invalid`` / ``ping_expired`` / ``ping_lead_mismatch``,
  422) and claims it so it posts one lead only (``ping_used``, 409);
  :func:`settle` (after capture stored the lead) records the quoted price as the lead's
  supplier cost and answers it as ``price``; :func:`release` frees the claim when
  capture refused the lead. Pings and posts read fields through the campaign's
  normalisers (:func:`normalised`). The captured lead goes through the usual checks, so a
  duplicate is refused as any other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from leadgate.delivery.market import PingRequest, pinger
from leadgate.domain.errors import Conflict, InvalidInput, NotFound
from leadgate.domain.market.amounts import show
from leadgate.domain.market.auction import DEFAULT_TIMEOUT
from leadgate.domain.market.ping import Quote, sign_ping, verify_ping
from leadgate.domain.market.trace import check
from leadgate.services import deliveries, snapshot
from leadgate.services.market import ledger
from leadgate.services.market.settings import current
from leadgate.store import market as mk
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

SELL_METHODS = ("ping_tree", "ping_post", "sell_weighted")


def ping_secret(secret_key: str) -> str:
    """The key ping ids are signed with (derived from the settings' secret key)."""
    return hashlib.sha256(f"leadgate-ping:{secret_key}".encode()).hexdigest()


def quote(uow: UnitOfWork, source_id: int, partial: Mapping[str, Any], now: datetime,
          secret_key: str) -> dict[str, Any]:
    """The answer to a supplier's pre-ping (see the module docstring)."""
    from leadgate.services.routing import routing_facts

    if not isinstance(partial, Mapping) or not partial:
        raise InvalidInput("send a JSON object with the fields you have", code="empty_ping")
    if "ping_id" in partial:
        raise InvalidInput("a ping carries no ping_id", code="invalid_ping")
    s = uow.session
    source = s.get(m.Source, source_id)
    if source is None:
        raise NotFound("unknown source")
    campaign = source.campaign
    values = normalised(uow, source, partial)
    facts = routing_facts(values, None, source=source.key, campaign=campaign.key,
                          score=None, grade=None, created_at=now, now=now)
    published = snapshot.current(s).flows.get(campaign.flow_key) if campaign.flow_key \
        else None
    rule = None
    if published is not None:
        rule = next((r for r in published[0].rules if r.when.evaluate(facts)), None)
    base = {"campaign": campaign.key, "accept": False, "price": None, "ping_id": None,
            "expires_at": None}
    if rule is None or rule.target.method not in SELL_METHODS:
        return base | {"reason": "not_for_sale"}
    settings = current(uow)
    buyers = ledger.load_buyers(uow, rule.target.options.get("buyers") or ())
    cands = ledger.candidates(uow, buyers, None, now)
    prices: dict[str, Decimal] = {}
    pings = []
    for c in cands:
        if check(c, facts, now):
            continue
        b = c.buyer
        if b.pricing.kind != "bid":
            price = b.price_for(facts)
            if price is not None:
                prices[b.key] = price
        elif rule.target.method == "ping_post" and b.ping:
            dest = s.scalar(select(m.Destination).where(m.Destination.key == b.ping))
            if dest is not None and dest.active:
                pings.append(PingRequest(b.key, deliveries.spec_of(dest).config,
                                         settings.ping_view(facts)))
    if pings:
        raw = rule.target.options.get("timeout")
        timeout = (timedelta(seconds=float(raw)) if raw is not None else DEFAULT_TIMEOUT)
        for a in pinger().ping_all(pings, timeout.total_seconds()):
            if a.bid is not None and ledger.check_budget(buyers[a.buyer], cands, a.bid,
                                                          facts, now):
                prices[a.buyer] = a.bid
    best = max(prices.values(), default=None)
    if best is None or best < settings.reserve:
        return base | {"reason": "no_buyer"}
    price = settings.margin.payout(best)
    token = sign_ping(Quote.for_lead(campaign.key, price, values),
                      ping_secret(secret_key), now, settings.ping_ttl)
    return base | {"accept": True, "price": show(price), "ping_id": token,
                   "expires_at": (now + settings.ping_ttl).isoformat()}


def normalised(uow: UnitOfWork, source: m.Source,
               partial: Mapping[str, Any]) -> dict[str, Any]:
    """The given fields as capture stores them: each declared field through the
    campaign's own normaliser (``domain.qualify``, with the source's default region),
    so a phone or a state written differently prices and hashes the same as the post.
    Fields the ping does not carry are not required; a value that does not normalise
    is kept as sent (capture refuses the lead later)."""
    from leadgate.domain.qualify.validate import match_fields, validate_fields
    from leadgate.services import catalog

    info = snapshot.current(uow.session).campaigns.get(source.campaign_id)
    spec = info.spec if info is not None else catalog.campaign_of(source.campaign)
    got = validate_fields(partial, spec, source.default_region)
    declared, _others = match_fields(partial, spec)
    return declared | got.values | got.extra


@dataclass(frozen=True)
class Held:
    """A verified, claimed ping id: the price the lead is held to."""

    digest: str
    price: Decimal
    claimed_at: datetime


#: how long a claim may wait for its lead's answer; after that it is a lost claim (its
#: request died between the claim and the answer) and the id may post again
CLAIM_GRACE = timedelta(minutes=2)


def hold(uow: UnitOfWork, source_id: int, source_key: str, payload: dict[str, Any],
         now: datetime, secret_key: str) -> Held:
    """Verify and claim ``payload['ping_id']`` (removed from the payload).

    The claim is a ``market_pings`` row without a lead, committed before capture so a
    second post of the same id at the same moment is refused (``ping_used``): of two
    posts, exactly one goes on. :func:`settle` makes it used for good when its lead is
    stored (201); :func:`release` frees it when capture refuses the lead, so the
    supplier may post a corrected lead with the same id at the quoted price."""
    token = payload.pop("ping_id")
    s = uow.session
    source = s.get(m.Source, source_id)
    if source is None:
        raise NotFound("unknown source")
    verified = verify_ping(token if isinstance(token, str) else "", ping_secret(secret_key),
                           now, lead=normalised(uow, source, payload))
    digest = hashlib.sha256(token.encode()).hexdigest()
    try:
        with s.begin_nested():
            s.add(mk.MarketPing(ping_hash=digest, source_key=source_key,
                                price=ledger.cents(verified.quote.price), used_at=now))
    except IntegrityError:
        # a claim lost by a dead request may be taken over (one taker: conditional)
        took = s.execute(update(mk.MarketPing).where(
            mk.MarketPing.ping_hash == digest, mk.MarketPing.lead_id.is_(None),
            mk.MarketPing.used_at < now - CLAIM_GRACE).values(used_at=now))
        if ledger._rows(took) != 1:
            raise Conflict("this ping id was used for a lead already",
                           code="ping_used") from None
    uow.commit()
    return Held(digest, verified.quote.price, now)


def release(uow: UnitOfWork, held: Held) -> None:
    """Free a claim whose lead was not stored (refused, or capture failed)."""
    uow.session.execute(delete(mk.MarketPing).where(
        mk.MarketPing.ping_hash == held.digest, mk.MarketPing.lead_id.is_(None),
        mk.MarketPing.used_at == held.claimed_at))
    uow.commit()


def settle(uow: UnitOfWork, held: Held, lead_id: int, source_key: str,
           now: datetime) -> None:
    """Hold the captured lead to the quoted price (its supplier cost)."""
    row = ledger.ensure_lead(uow, lead_id, source_key, now)
    price = ledger.cents(held.price)
    uow.session.execute(update(mk.MarketLead).where(mk.MarketLead.lead_id == row.lead_id)
                        .values(quoted=price, cost=price, updated_at=now))
    uow.session.execute(update(mk.MarketPing).where(mk.MarketPing.ping_hash == held.digest)
                        .values(lead_id=lead_id))
    uow.commit()
