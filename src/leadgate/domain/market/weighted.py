"""Weighted selling: each lead to one buyer, with exact shares by weight (e.g. 60/20/20).

The algorithm and state are the routing engine's ``weighted`` method's (see
``routing/methods/weighted.py`` and docs/routing.md), reused as is: state
``{"weights": {BUYER: w}, "counts": {BUYER: leads so far}}``; with ``n`` leads sold so
far, the next goes to the eligible buyer whose next lead is due first among those with a
positive deficit ``(n+1)*w/W - count`` (ties by key), else to the largest deficit. With
every buyer eligible, each count stays strictly within one lead of ``n*w/W`` after every
lead. A buyer that was capped, out of hours or out of budget is skipped and catches up
when it is back; changing any weight restarts the counts.

Pass every buyer of the sale (not only the eligible ones): the weights are those of all
buyers given with a weight above 0 and a known price (``price: bid`` buyers are sold
only through auctions and are listed as ``bid_only``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from leadgate.domain.market.amounts import show
from leadgate.domain.market.buyers import BuyerCandidate
from leadgate.domain.market.trace import BuyerLine, check, ineligible_line
from leadgate.domain.routing.methods.weighted import next_due

__all__ = ["WeightedSale", "choose_weighted"]


@dataclass(frozen=True)
class WeightedSale:
    """Who gets the lead, at what price, the new state to persist, and the trace."""

    buyer: str | None
    price: Decimal | None
    state: Mapping[str, Any]
    lines: tuple[BuyerLine, ...] = ()
    arithmetic: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""
    now: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the state included as is)."""
        return {"method": "weighted", "buyer": self.buyer, "price": show(self.price),
                "state": {k: dict(v) for k, v in self.state.items()},
                "buyers": [ln.to_dict() for ln in self.lines],
                "arithmetic": dict(self.arithmetic), "summary": self.summary,
                "now": self.now.isoformat() if self.now else None}


def choose_weighted(candidates: Sequence[BuyerCandidate], lead: Mapping[str, Any],
                    now: datetime, state: Mapping[str, Any]) -> WeightedSale:
    """Choose the buyer of ``lead`` by weight; pure and deterministic.

    ``state`` is the previous sale's ``WeightedSale.state`` (``{}`` at first). The
    returned state is the full new one (unchanged when nobody could buy).
    """
    lines: dict[str, BuyerLine] = {}
    eligible: list[str] = []
    prices: dict[str, Decimal] = {}
    target_w: dict[str, float] = {}
    for c in sorted(candidates, key=lambda c: c.buyer.key):
        b = c.buyer
        if b.pricing.kind == "bid":
            lines[b.key] = BuyerLine(b.key, b.label, "bid_only",
                                     text=f"{b.label} prices by bid: sold only by ping post")
            continue
        if b.weight > 0:
            target_w[b.key] = b.weight
        reasons = check(c, lead, now)
        price = b.price_for(lead)
        if reasons:
            lines[b.key] = ineligible_line(c, reasons, now, price)
            continue
        assert price is not None  # eligible fixed/rules buyers have a price
        prices[b.key] = price
        if b.weight > 0:
            eligible.append(b.key)
            lines[b.key] = BuyerLine(b.key, b.label, "eligible", price=price,
                                     text=f"{b.label} was eligible")
        else:
            lines[b.key] = BuyerLine(b.key, b.label, "no_weight", price=price,
                                     text=f"{b.label} was eligible but has weight 0")
    weights = {k: Fraction(str(w)) for k, w in target_w.items()}
    stored_w = state.get("weights")
    counts_in = state.get("counts") if stored_w == target_w else None
    counts = {k: int(v) for k, v in (counts_in or {}).items()
              if isinstance(v, int) and not isinstance(v, bool) and k in weights}
    n = sum(counts.values())
    chosen, deficits = next_due(eligible, weights, counts, n) if weights else (None, {})
    arithmetic: dict[str, Any] = {
        "weights": dict(target_w), "counts": dict(counts), "n": n,
        "deficits": {k: round(float(d), 4) for k, d in deficits.items()},
        "reset": counts_in is None and bool(state), "next": chosen}
    ordered = tuple(lines[k] for k in sorted(lines))
    if chosen is None:
        blocked = [ln.text for ln in ordered if ln.status == "not_eligible"]
        why = "; ".join(blocked) if blocked else "no buyer has a weight and a price"
        return WeightedSale(None, None, dict(state), ordered, arithmetic,
                            f"Unsold: no eligible buyer ({why}).", now)
    lines[chosen] = lines[chosen].but(status="chosen")
    new_state = {"weights": dict(target_w), "counts": {**counts, chosen: counts.get(chosen, 0) + 1}}
    share = float(weights[chosen] / sum(weights.values(), Fraction(0)) * 100)
    label = lines[chosen].name
    summary = (f"Sold to {label} at {show(prices[chosen])}: due next for a {share:.0f}% "
               f"share (deficit {float(deficits[chosen]):.2f} leads).")
    return WeightedSale(chosen, prices[chosen], new_state,
                        tuple(lines[k] for k in sorted(lines)), arithmetic, summary, now)
