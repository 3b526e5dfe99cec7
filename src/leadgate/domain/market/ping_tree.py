"""The ping tree: eligible buyers in the order the lead is offered to them (a waterfall).

``order="priority"``: lower ``priority`` first, then higher price, then key.
``order="price"``: higher price first, then lower priority, then key.

Only buyers with a known price (fixed or by rules) are in a tree; ``price: bid`` buyers
are listed as ``bid_only`` (they buy through ping post). A buyer whose price is below
``min_price`` is listed as ``below_reserve``. The service offers the lead to
``steps[0]``, and on a rejection to the next step, until one accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from leadgate.domain.errors import RoutingError
from leadgate.domain.market.amounts import ZERO, show
from leadgate.domain.market.buyers import BuyerCandidate
from leadgate.domain.market.trace import BuyerLine, check, ineligible_line

__all__ = ["ORDERS", "PingTree", "TreeStep", "order_ping_tree"]

ORDERS = ("priority", "price")


@dataclass(frozen=True)
class TreeStep:
    """One buyer in the tree, with the price it pays."""

    buyer: str
    price: Decimal
    priority: int

    def to_dict(self) -> dict[str, Any]:
        return {"buyer": self.buyer, "price": show(self.price), "priority": self.priority}


@dataclass(frozen=True)
class PingTree:
    """The ordered buyers, and every buyer's line (sorted by key) with why it was skipped."""

    order: str
    steps: tuple[TreeStep, ...]
    lines: tuple[BuyerLine, ...]
    summary: str
    now: datetime

    @property
    def first(self) -> TreeStep | None:
        return self.steps[0] if self.steps else None

    def after(self, buyer: str) -> tuple[TreeStep, ...]:
        """The steps left when ``buyer`` rejected the lead (those after it)."""
        keys = [s.buyer for s in self.steps]
        if buyer not in keys:
            raise RoutingError(f"{buyer!r} is not in the ping tree")
        return self.steps[keys.index(buyer) + 1:]

    def to_dict(self) -> dict[str, Any]:
        return {"method": "ping_tree", "order": self.order,
                "steps": [s.to_dict() for s in self.steps],
                "buyers": [ln.to_dict() for ln in self.lines], "summary": self.summary,
                "now": self.now.isoformat()}


def order_ping_tree(candidates: Sequence[BuyerCandidate], lead: Mapping[str, Any],
                    now: datetime, *, order: str = "priority",
                    min_price: Decimal = ZERO) -> PingTree:
    """Order the eligible buyers of ``lead`` (see the module docstring); pure."""
    if order not in ORDERS:
        raise RoutingError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    lines: list[BuyerLine] = []
    steps: list[TreeStep] = []
    for c in sorted(candidates, key=lambda c: c.buyer.key):
        b = c.buyer
        if b.pricing.kind == "bid":
            lines.append(BuyerLine(b.key, b.label, "bid_only",
                                   text=f"{b.label} prices by bid: sold only by ping post"))
            continue
        reasons = check(c, lead, now)
        price = b.price_for(lead)
        if reasons:
            lines.append(ineligible_line(c, reasons, now, price))
            continue
        assert price is not None
        if price < min_price:
            lines.append(BuyerLine(b.key, b.label, "below_reserve", price=price,
                                   text=f"{b.label} pays {show(price)}, below the minimum "
                                        f"{show(min_price)}"))
            continue
        steps.append(TreeStep(b.key, price, b.priority))
        lines.append(BuyerLine(b.key, b.label, "ordered", price=price))
    if order == "priority":
        steps.sort(key=lambda s: (s.priority, -s.price, s.buyer))
    else:
        steps.sort(key=lambda s: (-s.price, s.priority, s.buyer))
    position = {s.buyer: i + 1 for i, s in enumerate(steps)}
    lines = [ln.but(extra={"position": position[ln.buyer]},
                    text=f"{ln.name} is #{position[ln.buyer]} at {show(ln.price)}")
             if ln.status == "ordered" else ln for ln in lines]
    if steps:
        names = {ln.buyer: ln.name for ln in lines}
        head = ", ".join(f"{names[s.buyer]} ({show(s.price)})" for s in steps[:3])
        more = f" and {len(steps) - 3} more" if len(steps) > 3 else ""
        summary = f"Ping tree by {order}: {head}{more}."
    else:
        summary = "Ping tree is empty: no eligible buyer with a price."
    skipped = len(lines) - len(steps)
    if skipped:
        summary = summary[:-1] + f"; {skipped} buyer(s) skipped."
    return PingTree(order, tuple(steps), tuple(lines), summary, now)
