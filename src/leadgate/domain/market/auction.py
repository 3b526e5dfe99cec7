"""The ping post auction as a pure function over the bids collected.

The service pings every eligible buyer in parallel with the partial lead, waits up to the
timeout, and hands the answers to :func:`decide_auction`, which:

* re-checks each buyer's eligibility (with its bid, so a bid beyond the buyer's
  remaining budget is out: ``daily_budget`` / ``monthly_budget``);
* takes each ``price: bid`` buyer's bid; a buyer with a fixed or rule price does not
  need pinging: its price stands as its bid, received at once;
* ignores bids that came after the timeout (``late``; a bid exactly at the timeout is in
  time), lists pinged buyers without a bid as ``no_answer`` and answers without an
  amount (or of 0) as ``declined``;
* refuses bids below the reserve price (``below_reserve``);
* ranks the rest: highest bid first; equal bids by the earlier answer, then the lower
  ``priority`` number, then the buyer key;
* keeps the seller's margin (``money.Margin``): the buyer pays its bid, the supplier is
  paid the bid less the margin.

The winner is the first ranked bid; the others are the fallbacks, in order: if the winner
rejects the posted lead, :func:`next_after_rejection` promotes the next
(:func:`next_after_rejections` strikes off several at once). A lead bought
by a shared buyer (``sale: {shared: N}``) is offered on to the next bid in order
(:func:`next_after_sale`), so one auction sells it to up to N distinct bidders (the
service's reservation refuses a post once the lead is full, or to an exclusive buyer);
:func:`next_after_posts` applies the outcomes of posts sent to several bidders at once.
If a buyer sent several bids, its earliest in-time bid counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from leadgate.domain.errors import RoutingError
from leadgate.domain.market.amounts import ZERO, as_amount, show
from leadgate.domain.market.buyers import BuyerCandidate
from leadgate.domain.market.money import Margin
from leadgate.domain.market.trace import BuyerLine, check, ineligible_line

__all__ = ["DEFAULT_TIMEOUT", "AuctionDecision", "Bid", "RankedBid", "decide_auction",
           "next_after_posts", "next_after_rejection", "next_after_rejections",
           "next_after_sale"]

DEFAULT_TIMEOUT = timedelta(milliseconds=750)


@dataclass(frozen=True)
class Bid:
    """A buyer's answer to a ping: ``amount`` None means it answered without a bid.

    ``received_after`` is the time from the ping to the answer.
    """

    buyer: str
    amount: Decimal | None
    received_after: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.amount is not None and not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", as_amount(self.amount))


@dataclass(frozen=True)
class RankedBid:
    """A valid bid in rank order: what the buyer pays and what the supplier gets."""

    rank: int
    buyer: str
    amount: Decimal
    payout: Decimal
    received_after: timedelta
    priority: int

    @property
    def margin(self) -> Decimal:
        return self.amount - self.payout

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "buyer": self.buyer, "amount": show(self.amount),
                "payout": show(self.payout), "margin": show(self.margin),
                "received_after_ms": _ms(self.received_after)}


@dataclass(frozen=True)
class AuctionDecision:
    """The winner (None: unsold), the fallbacks in order, and every buyer's line."""

    winner: RankedBid | None
    fallbacks: tuple[RankedBid, ...]
    lines: tuple[BuyerLine, ...]
    reserve_price: Decimal
    margin: Margin
    timeout: timedelta
    now: datetime
    summary: str = ""
    rejected: tuple[str, ...] = field(default=())
    #: the buyers that bought the (shared) lead already, in bid order
    sold: tuple[str, ...] = field(default=())

    @property
    def outcome(self) -> str:
        return "sold" if self.winner or self.sold else "unsold"

    def line(self, buyer: str) -> BuyerLine:
        return next(ln for ln in self.lines if ln.buyer == buyer)

    def to_dict(self) -> dict[str, Any]:
        return {"method": "ping_post", "outcome": self.outcome,
                "winner": self.winner.to_dict() if self.winner else None,
                "fallbacks": [b.to_dict() for b in self.fallbacks],
                "rejected": list(self.rejected), "sold": list(self.sold),
                "buyers": [ln.to_dict() for ln in self.lines],
                "reserve_price": show(self.reserve_price), "margin": self.margin.to_dict(),
                "timeout_ms": _ms(self.timeout), "summary": self.summary,
                "now": self.now.isoformat()}


def _ms(d: timedelta) -> float:
    return round(d.total_seconds() * 1000, 3)


def decide_auction(bids: Sequence[Bid], candidates: Sequence[BuyerCandidate],
                   lead: Mapping[str, Any], now: datetime, *,
                   reserve_price: Decimal = ZERO, margin: Margin | None = None,
                   timeout: timedelta = DEFAULT_TIMEOUT) -> AuctionDecision:
    """Rank the bids for ``lead`` and pick the winner; pure (see the module docstring)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise RoutingError("now must be timezone-aware")
    margin = margin if margin is not None else Margin()
    by_buyer: dict[str, list[Bid]] = {}
    for bid in bids:
        by_buyer.setdefault(bid.buyer, []).append(bid)
    known = {c.buyer.key for c in candidates}
    lines: dict[str, BuyerLine] = {}
    valid: list[tuple[Decimal, timedelta, int, str]] = []
    for c in sorted(candidates, key=lambda c: c.buyer.key):
        b = c.buyer
        mine = sorted(by_buyer.get(b.key, ()), key=lambda x: x.received_after)
        if b.pricing.kind != "bid":
            price = b.price_for(lead)
            answer: Bid | None = None if price is None else Bid(b.key, price)
        else:
            in_time = [x for x in mine if x.received_after <= timeout]
            answer = in_time[0] if in_time else (mine[0] if mine else None)
        amount = answer.amount if answer is not None else None
        in_time_bid = (amount if answer is not None and answer.received_after <= timeout
                       and amount is not None and amount > 0 else None)
        reasons = check(c, lead, now, price=in_time_bid)
        if reasons:
            lines[b.key] = ineligible_line(c, reasons, now, amount)
            continue
        if answer is None:
            lines[b.key] = BuyerLine(b.key, b.label, "no_answer",
                                     text=f"{b.label} did not answer")
            continue
        after = {"received_after_ms": _ms(answer.received_after)}
        if answer.received_after > timeout:
            lines[b.key] = BuyerLine(
                b.key, b.label, "late", price=amount, extra=after,
                text=f"{b.label} answered after {_ms(answer.received_after):g} ms, past the "
                     f"{_ms(timeout):g} ms timeout")
        elif amount is None or amount <= 0:
            lines[b.key] = BuyerLine(b.key, b.label, "declined", extra=after,
                                     text=f"{b.label} declined to bid")
        elif amount < reserve_price:
            lines[b.key] = BuyerLine(
                b.key, b.label, "below_reserve", price=amount, extra=after,
                text=f"{b.label} bid {show(amount)}, below the reserve {show(reserve_price)}")
        else:
            valid.append((amount, answer.received_after, b.priority, b.key))
            lines[b.key] = BuyerLine(b.key, b.label, "fallback", price=amount, extra=after)
    for key in sorted(set(by_buyer) - known):
        lines[key] = BuyerLine(key, key, "unknown_buyer",
                               text=f"a bid from {key!r}, not a buyer in this sale, "
                                    "was ignored")
    valid.sort(key=lambda v: (-v[0], v[1], v[2], v[3]))
    ranked = tuple(RankedBid(i + 1, key, amt, margin.payout(amt), after_, prio)
                   for i, (amt, after_, prio, key) in enumerate(valid))
    return _settle(ranked, lines, (), reserve_price, margin, timeout, now)


def _settle(ranked: tuple[RankedBid, ...], lines: dict[str, BuyerLine],
            rejected: tuple[str, ...], reserve: Decimal, margin: Margin,
            timeout: timedelta, now: datetime,
            sold: tuple[str, ...] = ()) -> AuctionDecision:
    """Mark the winner and fallbacks in the lines and write the summary."""
    for r in ranked:
        status = "winner" if r.rank == ranked[0].rank else "fallback"
        ln = lines[r.buyer]
        text = (f"{ln.name} won with {show(r.amount)} (supplier paid {show(r.payout)})"
                if status == "winner" else
                f"{ln.name} bid {show(r.amount)}: fallback #{r.rank - ranked[0].rank}")
        lines[r.buyer] = ln.but(status=status, text=text,
                                extra={**ln.extra, "rank": r.rank, "payout": r.payout})
    ordered = tuple(lines[k] for k in sorted(lines))
    winner = ranked[0] if ranked else None
    if winner is not None:
        name = lines[winner.buyer].name
        runner = (f"; next {lines[ranked[1].buyer].name} at {show(ranked[1].amount)}"
                  if len(ranked) > 1 else "")
        summary = (f"Sold to {name} for {show(winner.amount)}, supplier paid "
                   f"{show(winner.payout)}{runner}.")
    if sold:
        bought = ", ".join(f"{lines[k].name} for {show(lines[k].price)}" for k in sold)
        summary = f"Sold (shared) to {bought}." + (f" Next: {summary}" if winner else "")
    elif winner is None:
        counts: dict[str, int] = {}
        for ln in ordered:
            counts[ln.status] = counts.get(ln.status, 0) + 1
        detail = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items()))
        summary = f"Unsold: no valid bid ({detail or 'no buyers'})."
    return AuctionDecision(winner, ranked[1:], ordered, reserve, margin, timeout, now,
                           summary, rejected, sold)


def next_after_rejection(decision: AuctionDecision, rejected_buyer: str) -> AuctionDecision:
    """The decision after ``rejected_buyer`` rejected the posted lead: the next ranked
    bid wins (or nobody). A fallback may also be struck off before its turn."""
    return next_after_rejections(decision, (rejected_buyer,))


def next_after_rejections(decision: AuctionDecision,
                          rejected: Sequence[str]) -> AuctionDecision:
    """:func:`next_after_rejection` for several buyers at once, in the order given: the
    same decision as rejecting them one by one (each line is written once and the
    ranking settled once, not once per buyer)."""
    return next_after_posts(decision, [(b, False) for b in rejected])


def next_after_sale(decision: AuctionDecision, sold_buyer: str) -> AuctionDecision:
    """The decision after ``sold_buyer`` bought a shared lead: the next ranked bid is
    offered the lead too (or nobody); the buyer is listed in ``sold``."""
    return next_after_posts(decision, [(sold_buyer, True)])


def next_after_posts(decision: AuctionDecision,
                     outcomes: Sequence[tuple[str, bool]]) -> AuctionDecision:
    """The decision after the lead was posted to several bidders at once (a shared
    lead's next bids): ``outcomes`` is each buyer with whether it took the lead, in bid
    order. The same decision as :func:`next_after_sale` for each that took it and
    :func:`next_after_rejection` for each that did not, one by one in that order
    (each line written once, the ranking settled once)."""
    ranked = ((decision.winner,) if decision.winner else ()) + decision.fallbacks
    holding = {r.buyer for r in ranked}
    lines = {ln.buyer: ln for ln in decision.lines}
    sold, rejected = list(decision.sold), list(decision.rejected)
    for buyer, took in outcomes:
        if buyer not in holding:
            raise RoutingError(f"{buyer!r} holds no bid in this auction")
        holding.discard(buyer)
        ln = lines[buyer]
        if took:
            sold.append(buyer)
            lines[buyer] = ln.but(status="sold", text=f"{ln.name} bought the shared lead "
                                                      f"for {show(ln.price)}")
        else:
            rejected.append(buyer)
            lines[buyer] = ln.but(status="rejected",
                                  text=f"{ln.name} rejected the lead after bidding "
                                       f"{show(ln.price)}")
    left = tuple(r for r in ranked if r.buyer in holding)
    return _settle(left, lines, tuple(rejected), decision.reserve_price, decision.margin,
                   decision.timeout, decision.now, tuple(sold))
