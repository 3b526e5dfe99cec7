"""Buyers of leads: their spec (parsed from config data), their live load, and eligibility.

A buyer is to the marketplace what an agent is to routing: ``Buyer`` is the validated
spec (built from config data by ``buyer_config.parse_buyer``), ``BuyerLoad`` the live
counters the service loads for each decision (like ``AgentLoad``), ``BuyerCandidate``
the pair, and :func:`eligibility` the stable reason codes that keep a buyer out of a
sale (empty = eligible). See docs/marketplace.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from leadgate.domain.conditions import Always, Condition
from leadgate.domain.errors import RoutingError
from leadgate.domain.market.amounts import ZERO, show
from leadgate.domain.schedule import (
    WeekSchedule,
    calendar,
    parse_working_hours,
    window_starts,
    zone,
)

__all__ = [
    "BUDGET_WINDOWS",
    "CAP_WINDOWS",
    "REASONS",
    "Buyer",
    "BuyerCandidate",
    "BuyerLoad",
    "PriceRule",
    "Pricing",
    "buyer_window_starts",
    "calendar",
    "eligibility",
    "explain",
    "zone",
]

#: caps key -> BuyerLoad.sold window key (the windows of ``cap_window_starts``)
CAP_WINDOWS: dict[str, str] = {
    "hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month"}
#: budget key -> BuyerLoad attribute holding the money spent in that window
BUDGET_WINDOWS: dict[str, str] = {"daily": "spent_today", "monthly": "spent_month"}
STATUSES = ("active", "paused")
PRICE_KINDS = ("fixed", "rules", "bid")

#: reason code -> description, in the order :func:`eligibility` reports them. Stable:
#: services, traces and the console rely on these codes.
REASONS: dict[str, str] = {
    "paused": "the buyer is paused",
    "filters_not_met": "the lead does not meet the buyer's filters",
    "no_price": "none of the buyer's price rules matched the lead",
    "hourly_cap": "leads bought this hour reached caps.hourly",
    "daily_cap": "leads bought today reached caps.daily",
    "weekly_cap": "leads bought this week reached caps.weekly",
    "monthly_cap": "leads bought this month reached caps.monthly",
    "daily_budget": "money spent today plus this lead's price would exceed budget.daily",
    "monthly_budget": "money spent this month plus this lead's price would exceed "
                      "budget.monthly",
    "holiday": "it is a public holiday in the buyer's holiday calendar",
    "out_of_hours": "outside the buyer's delivery hours (in the buyer's time zone)",
    "already_sold_to_buyer": "this lead was already sold to this buyer",
    "sold_out": "the lead was sold as many times as the buyer's sale type allows "
                "(once for exclusive, N for shared: N), or it was sold exclusively",
}




@dataclass(frozen=True)
class PriceRule:
    """``{when: condition, price: amount}``: the price when the condition holds."""

    when: Condition
    price: Decimal


@dataclass(frozen=True)
class Pricing:
    """What a buyer pays: ``fixed`` (``amount``), ``rules`` (first match wins) or ``bid``
    (the buyer names its price in each ping post auction)."""

    kind: str
    amount: Decimal | None = None
    rules: tuple[PriceRule, ...] = ()

    def price_for(self, lead: Mapping[str, Any]) -> Decimal | None:
        """The price for this lead; None for ``bid`` or when no rule matches."""
        if self.kind == "fixed":
            return self.amount
        for rule in self.rules:
            if rule.when.evaluate(lead):
                return rule.price
        return None

    def to_data(self) -> Any:
        if self.kind == "fixed":
            return show(self.amount)
        if self.kind == "bid":
            return "bid"
        return [({"when": r.when.to_dict()} if not isinstance(r.when, Always) else {})
                | {"price": show(r.price)} for r in self.rules]


@dataclass(frozen=True)
class Buyer:
    """A buyer's validated spec. Build it with :func:`parse_buyer` from config data."""

    key: str
    name: str = ""
    status: str = "active"
    filters: Condition = field(default_factory=Always)
    caps: Mapping[str, int] = field(default_factory=dict)          # hourly/daily/weekly/monthly
    budget: Mapping[str, Decimal] = field(default_factory=dict)    # daily/monthly
    timezone: str = "UTC"
    working_hours: Mapping[str, str] | None = None
    holidays: str | None = None
    pricing: Pricing = field(default_factory=lambda: Pricing("bid"))
    max_sales: int = 1         # 1 = exclusive; N >= 2 = shared, sold at most N times
    priority: int = 100        # lower is pinged first in a ping tree
    weight: float = 1.0        # share in weighted selling
    destinations: tuple[str, ...] = ()  # where a bought lead is posted (the first)
    ping: str | None = None    # the destination pinged for a bid in ping post auctions
    _schedule: WeekSchedule | None = field(init=False, repr=False, compare=False,
                                           default=None)

    def __post_init__(self) -> None:
        if self.working_hours is not None:
            object.__setattr__(self, "_schedule", parse_working_hours(self.working_hours))

    @property
    def schedule(self) -> WeekSchedule | None:
        """Parsed delivery hours; None means any time."""
        return self._schedule

    @property
    def label(self) -> str:
        """The name to show people (falls back to the key)."""
        return self.name or self.key

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def exclusive(self) -> bool:
        return self.max_sales == 1

    def price_for(self, lead: Mapping[str, Any]) -> Decimal | None:
        """The buyer's price for this lead (None for bid buyers or no matching rule)."""
        return self.pricing.price_for(lead)

    def on_holiday(self, now: datetime) -> str | None:
        """The public holiday's name if the buyer's local date is one."""
        if not self.holidays:
            return None
        name = calendar(self.holidays).get(now.astimezone(self.zone).date())
        return str(name) if name else None

    def to_mapping(self) -> dict[str, Any]:
        """The buyer as config data; round-trips :func:`parse_buyer`."""
        out: dict[str, Any] = {"key": self.key}
        if self.name:
            out["name"] = self.name
        if self.status != "active":
            out["status"] = self.status
        if not isinstance(self.filters, Always):
            out["filters"] = self.filters.to_dict()
        if self.caps:
            out["caps"] = dict(self.caps)
        if self.budget:
            out["budget"] = {k: show(v) for k, v in self.budget.items()}
        if self.timezone != "UTC":
            out["timezone"] = self.timezone
        if self.working_hours is not None:
            out["working_hours"] = dict(self.working_hours)
        if self.holidays:
            out["holidays"] = self.holidays
        out["price"] = self.pricing.to_data()
        out["sale"] = "exclusive" if self.exclusive else {"shared": self.max_sales}
        out["priority"] = self.priority
        out["weight"] = self.weight
        if self.destinations:
            out["destinations"] = list(self.destinations)
        if self.ping:
            out["ping"] = self.ping
        return out


@dataclass(frozen=True)
class BuyerLoad:
    """A buyer's live counters, loaded by the service for each lead.

    ``sold`` counts the buyer's purchases since each window start of
    :func:`buyer_window_starts` (keys ``hour``, ``day``, ``week``, ``month``);
    ``spent_today`` / ``spent_month`` are the money spent in the day / month windows.
    The ``lead_*`` fields are about the lead being sold: how many times it was sold
    already (to anyone), whether this buyer bought it, whether it went exclusively.
    """

    sold: Mapping[str, int] = field(default_factory=dict)
    spent_today: Decimal = ZERO
    spent_month: Decimal = ZERO
    lead_sales: int = 0
    lead_sold_to_buyer: bool = False
    lead_sold_exclusively: bool = False


@dataclass(frozen=True)
class BuyerCandidate:
    """A buyer with its live load."""

    buyer: Buyer
    load: BuyerLoad = BuyerLoad()


def buyer_window_starts(buyer: Buyer, now: datetime) -> dict[str, datetime]:
    """UTC starts of the current hour, day, week (Monday) and month in the buyer's zone
    (the same windows as agents' caps): the service counts the buyer's purchases (and
    money spent) since these instants to fill :class:`BuyerLoad` (``window_starts``
    computes them once per zone and instant)."""
    return window_starts(buyer.zone, now)


def eligibility(buyer: Buyer, load: BuyerLoad, lead: Mapping[str, Any], now: datetime, *,
                price: Decimal | None = None) -> tuple[str, ...]:
    """The reason codes (see :data:`REASONS`) that keep ``buyer`` from buying ``lead`` at
    ``now``; empty means eligible.

    Budgets are checked against the lead's price: ``price`` when given (a bid), else the
    buyer's own price for the lead. When neither is known (a bid buyer before bidding) a
    budget blocks only once it is used up.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise RoutingError("now must be timezone-aware")
    out: list[str] = []
    if buyer.status != "active":
        out.append("paused")
    if not buyer.filters.evaluate(lead):
        out.append("filters_not_met")
    if price is None:
        price = buyer.price_for(lead)
        if price is None and buyer.pricing.kind == "rules":
            out.append("no_price")
    for key, window in CAP_WINDOWS.items():
        limit = buyer.caps.get(key)
        if limit is not None and load.sold.get(window, 0) >= limit:
            out.append(f"{key}_cap")
    for key, attr in BUDGET_WINDOWS.items():
        limit_money = buyer.budget.get(key)
        if limit_money is None:
            continue
        spent: Decimal = getattr(load, attr)
        if (spent >= limit_money if price is None else spent + price > limit_money):
            out.append(f"{key}_budget")
    if buyer.holidays and buyer.on_holiday(now):
        out.append("holiday")
    if buyer.schedule is not None and not buyer.schedule.is_open(
            now.astimezone(buyer.zone)):
        out.append("out_of_hours")
    if load.lead_sold_to_buyer:
        out.append("already_sold_to_buyer")
    if load.lead_sold_exclusively or load.lead_sales >= buyer.max_sales:
        out.append("sold_out")
    return tuple(out)


def explain(buyer: Buyer, load: BuyerLoad, reasons: tuple[str, ...], now: datetime) -> str:
    """A sentence for people: 'Acme reached the daily cap (100 of 100)'."""
    parts: list[str] = []
    for r in reasons:
        if r.endswith("_cap"):
            key = r[:-4]
            used = load.sold.get(CAP_WINDOWS[key], 0)
            parts.append(f"reached the {key} cap ({used} of {buyer.caps[key]})")
        elif r.endswith("_budget"):
            key = r[:-7]
            spent = getattr(load, BUDGET_WINDOWS[key])
            parts.append(f"had no {key} budget left for it ({show(spent)} spent of "
                         f"{show(buyer.budget[key])})")
        elif r == "holiday":
            parts.append(f"was on a public holiday ({buyer.on_holiday(now)})")
        elif r == "out_of_hours":
            local = now.astimezone(buyer.zone).strftime("%a %H:%M")
            hours = buyer.schedule.describe() if buyer.schedule else ""
            parts.append(f"was outside delivery hours ({local} {buyer.timezone}; "
                         f"hours {hours})")
        elif r == "sold_out":
            parts.append(f"could not buy a lead already sold {load.lead_sales} time(s)"
                         + (" exclusively" if load.lead_sold_exclusively else ""))
        else:
            parts.append(REASONS.get(r, r))
    if not parts:
        return f"{buyer.label} was eligible"
    return f"{buyer.label}: " + "; ".join(parts)
