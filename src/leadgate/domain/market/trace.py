"""One buyer's line in a market decision's trace: what the decision saw and did with it.

Every market decision (weighted sale, ping tree, auction) lists every buyer it was given,
sorted by key, each with a ``status`` from :data:`STATUSES`, the eligibility reason codes
when it was not eligible, the price or bid, and a sentence for people. The JSON form
(``to_dict``) holds plain JSON types only; amounts are strings (``"12.50"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from leadgate.domain.market.amounts import show
from leadgate.domain.market.buyers import BuyerCandidate, eligibility, explain

__all__ = ["STATUSES", "BuyerLine", "check", "ineligible_line"]

#: line status -> meaning
STATUSES: dict[str, str] = {
    "chosen": "weighted: the buyer the lead goes to",
    "eligible": "weighted: eligible, not chosen this time",
    "no_weight": "weighted: eligible but its weight is 0",
    "ordered": "ping tree: in the tree, at ``position`` (1 = pinged first)",
    "bid_only": "ping tree: prices by bid, so it is sold only by ping post",
    "winner": "auction: the highest valid bid",
    "fallback": "auction: a valid bid, posted to if the bids above it reject the lead",
    "not_eligible": "kept out by eligibility (see reasons)",
    "no_answer": "auction: pinged, no answer",
    "declined": "auction: answered without a bid (or a bid of 0)",
    "late": "auction: the bid arrived after the timeout",
    "below_reserve": "below the reserve price (auction) or minimum price (ping tree)",
    "rejected": "auction: won, then rejected the posted lead",
    "unknown_buyer": "auction: a bid from a buyer not in the sale (ignored)",
}


@dataclass(frozen=True)
class BuyerLine:
    """One buyer as a market decision saw it."""

    buyer: str
    name: str
    status: str
    reasons: tuple[str, ...] = ()
    price: Decimal | None = None
    text: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def but(self, **changes: Any) -> BuyerLine:
        """A copy with some fields changed. An auction rewrites every bidder's line
        each time its ranking is settled, so the copy is made by copying the fields'
        dict rather than through the frozen dataclass's ``__init__`` (a setattr per
        field); the class has no ``__post_init__`` to skip, and only fields may change."""
        unknown = changes.keys() - _FIELDS
        if unknown:
            raise TypeError(f"BuyerLine has no field {sorted(unknown)[0]!r}")
        new = object.__new__(BuyerLine)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    def to_dict(self) -> dict[str, Any]:
        return {"buyer": self.buyer, "name": self.name, "status": self.status,
                "reasons": list(self.reasons), "price": show(self.price), "text": self.text,
                **{k: (show(v) if isinstance(v, Decimal) else v) for k, v in self.extra.items()}}


_FIELDS = frozenset(f.name for f in fields(BuyerLine))


def check(c: BuyerCandidate, lead: Mapping[str, Any], now: datetime, *,
          price: Decimal | None = None) -> tuple[str, ...]:
    """Eligibility reasons for one candidate (see ``buyers.eligibility``)."""
    return eligibility(c.buyer, c.load, lead, now, price=price)


def ineligible_line(c: BuyerCandidate, reasons: tuple[str, ...], now: datetime,
                    price: Decimal | None = None) -> BuyerLine:
    """The ``not_eligible`` line of a candidate with its reasons and sentence."""
    b = c.buyer
    return BuyerLine(b.key, b.label, "not_eligible", reasons, price,
                     explain(b, c.load, reasons, now))
