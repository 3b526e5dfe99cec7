"""Money in the marketplace: the seller's margin, lead margins, returns, return rates.

Margin (ping post): the buyer pays its bid; the supplier is paid
``bid * (1 - percent/100) - fixed``, rounded down to the cent and never below 0; the
margin is the difference (so the rounding always favours the seller by under a cent).

Returns: a buyer asks to return a sale with a reason. :func:`decide_return` refuses it
(``already_returned``, ``before_sale``, ``reason_not_allowed``, ``window_closed``), sends
it to a person (``review_reason``, ``review_amount``, ``review_rate``) or approves it
(``approved``). An approved return credits the buyer the sale price and, when the rules
say so, charges the supplier back what it was paid for the lead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from leadgate.domain.errors import InvalidConfig
from leadgate.domain.market.amounts import CENT, ZERO, parse_amount, show

__all__ = [
    "RETURN_CODES",
    "RETURN_OUTCOMES",
    "Chargeback",
    "Credit",
    "LeadMargin",
    "Margin",
    "Rate",
    "ReturnDecision",
    "ReturnRates",
    "ReturnRequest",
    "ReturnRules",
    "Sale",
    "approve_return",
    "decide_return",
    "lead_margin",
    "return_rates",
]

RETURN_OUTCOMES = ("approved", "refused", "needs_review")
#: return decision code -> (outcome, meaning)
RETURN_CODES: dict[str, tuple[str, str]] = {
    "approved": ("approved", "within the window for an allowed reason"),
    "already_returned": ("refused", "the sale was already returned"),
    "before_sale": ("refused", "the request predates the sale"),
    "reason_not_allowed": ("refused", "the reason is not one the rules accept"),
    "window_closed": ("refused", "the return window had closed"),
    "review_reason": ("needs_review", "the rules send this reason to a person"),
    "review_amount": ("needs_review", "the sale price is above rules.review_above"),
    "review_rate": ("needs_review", "the buyer's return rate is above rules.max_rate"),
}
_HANDLING = ("approve", "review")


@dataclass(frozen=True)
class Margin:
    """The seller's margin on a sale: a percentage of the price and/or a fixed amount."""

    percent: Decimal = ZERO
    fixed: Decimal = ZERO

    def payout(self, price: Decimal) -> Decimal:
        """What the supplier is paid for a lead sold at ``price``."""
        out = (price * (1 - self.percent / 100) - self.fixed).quantize(CENT, ROUND_DOWN)
        return max(out, ZERO)

    def kept(self, price: Decimal) -> Decimal:
        """The margin kept on ``price``."""
        return price - self.payout(price)

    def to_dict(self) -> dict[str, Any]:
        return {"percent": str(self.percent), "fixed": show(self.fixed)}

    @classmethod
    def parse(cls, data: Any, *, path: str = "margin") -> Margin:
        """``{percent: 10}``, ``{fixed: 2.50}`` or both; percent within 0..100."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidConfig("expected {percent: P} and/or {fixed: AMOUNT}", path=path)
        extra = [k for k in data if k not in ("percent", "fixed")]
        if extra:
            raise InvalidConfig(f"unknown key {extra[0]!r}; use percent, fixed",
                                path=f"{path}.{extra[0]}")
        percent = parse_amount(data.get("percent", 0), f"{path}.percent")
        if percent > 100:
            raise InvalidConfig(f"percent must be at most 100, got {data['percent']!r}",
                                path=f"{path}.percent")
        return cls(percent, parse_amount(data.get("fixed", 0), f"{path}.fixed"))


@dataclass(frozen=True)
class Sale:
    """One sale of a lead to a buyer: ``price`` is what the buyer pays, ``cost`` what the
    supplier is paid for it."""

    id: str
    lead: str
    buyer: str
    supplier: str
    price: Decimal
    sold_at: datetime
    cost: Decimal = ZERO
    returned: bool = False


@dataclass(frozen=True)
class LeadMargin:
    """A lead's money: revenue from its sales, minus credits, minus the supplier cost."""

    revenue: Decimal
    credited: Decimal
    cost: Decimal

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.credited - self.cost

    def to_dict(self) -> dict[str, Any]:
        return {"revenue": show(self.revenue), "credited": show(self.credited),
                "cost": show(self.cost), "margin": show(self.margin)}


def lead_margin(sale_prices: Iterable[Decimal], supplier_cost: Decimal,
                credits: Iterable[Credit] = ()) -> LeadMargin:
    """The margin on one lead: what its buyers paid, less credits for returns, less
    what the supplier was paid. May be negative."""
    return LeadMargin(sum(sale_prices, ZERO), sum((c.amount for c in credits), ZERO),
                      supplier_cost)


@dataclass(frozen=True)
class Credit:
    """Money owed back to a buyer for a returned sale."""

    buyer: str
    sale: str
    amount: Decimal
    reason: str
    at: datetime


@dataclass(frozen=True)
class Chargeback:
    """Money taken back from a supplier for a returned lead."""

    supplier: str
    sale: str
    amount: Decimal
    reason: str
    at: datetime


@dataclass(frozen=True)
class ReturnRules:
    """How returns are handled: ``reasons`` maps each accepted reason to ``approve`` or
    ``review``; sales priced above ``review_above``, and buyers whose return rate is above
    ``max_rate``, go to review; ``charge_back_supplier`` claws the payout back."""

    reasons: Mapping[str, str] = field(default_factory=dict)
    review_above: Decimal | None = None
    max_rate: float | None = None
    charge_back_supplier: bool = True

    @classmethod
    def parse(cls, data: Any, *, path: str = "returns") -> ReturnRules:
        if not isinstance(data, Mapping):
            raise InvalidConfig("expected a mapping with reasons", path=path)
        extra = [k for k in data if k not in ("reasons", "review_above", "max_rate",
                                              "charge_back_supplier")]
        if extra:
            raise InvalidConfig(f"unknown key {extra[0]!r}", path=f"{path}.{extra[0]}")
        reasons = data.get("reasons")
        if not isinstance(reasons, Mapping) or not reasons:
            raise InvalidConfig("expected {reason: approve|review, ...}", path=f"{path}.reasons")
        for k, v in reasons.items():
            if v not in _HANDLING:
                raise InvalidConfig(f"expected approve or review, got {v!r}",
                                    path=f"{path}.reasons.{k}")
        above = data.get("review_above")
        rate = data.get("max_rate")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float)
                                 or not 0 <= rate <= 1):
            raise InvalidConfig(f"expected a rate between 0 and 1, got {rate!r}",
                                path=f"{path}.max_rate")
        back = data.get("charge_back_supplier", True)
        if not isinstance(back, bool):
            raise InvalidConfig("expected true or false", path=f"{path}.charge_back_supplier")
        return cls({str(k): str(v) for k, v in reasons.items()},
                   None if above is None else parse_amount(above, f"{path}.review_above"),
                   None if rate is None else float(rate), back)


@dataclass(frozen=True)
class ReturnDecision:
    """The answer to a return request, with the credit and charge-back to record."""

    outcome: str
    code: str
    text: str
    credit: Credit | None = None
    chargeback: Chargeback | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.outcome, "code": self.code, "text": self.text,
                               "credit": None, "chargeback": None}
        if self.credit:
            out["credit"] = {"buyer": self.credit.buyer, "amount": show(self.credit.amount)}
        if self.chargeback:
            out["chargeback"] = {"supplier": self.chargeback.supplier,
                                 "amount": show(self.chargeback.amount)}
        return out


def decide_return(sale: Sale, reason: str, now: datetime, window: timedelta,
                  rules: ReturnRules, *, buyer_return_rate: float | None = None,
                  ) -> ReturnDecision:
    """Approve, refuse or send to review a buyer's return of ``sale`` (see module doc).

    The window is inclusive: a request exactly ``window`` after the sale is in time.
    """
    def out(code: str, text: str) -> ReturnDecision:
        return ReturnDecision(RETURN_CODES[code][0], code, text)

    if sale.returned:
        return out("already_returned", f"sale {sale.id} was already returned")
    if now < sale.sold_at:
        return out("before_sale", "the request is dated before the sale")
    handling = rules.reasons.get(reason)
    if handling is None:
        allowed = ", ".join(sorted(rules.reasons)) or "none"
        return out("reason_not_allowed", f"reason {reason!r} is not accepted ({allowed})")
    age = now - sale.sold_at
    if age > window:
        return out("window_closed", f"asked {_human(age)} after the sale; returns close "
                                    f"after {_human(window)}")
    if handling == "review":
        return out("review_reason", f"reason {reason!r} is reviewed by a person")
    if rules.review_above is not None and sale.price > rules.review_above:
        return out("review_amount", f"price {show(sale.price)} is above "
                                    f"{show(rules.review_above)}")
    if (rules.max_rate is not None and buyer_return_rate is not None
            and buyer_return_rate > rules.max_rate):
        return out("review_rate", f"the buyer's return rate {buyer_return_rate:.0%} is above "
                                  f"{rules.max_rate:.0%}")
    return approve_return(sale, reason, now, rules)


def approve_return(sale: Sale, reason: str, now: datetime,
                   rules: ReturnRules) -> ReturnDecision:
    """The approved decision (also what a person's approval after review records)."""
    credit = Credit(sale.buyer, sale.id, sale.price, reason, now)
    back = (Chargeback(sale.supplier, sale.id, sale.cost, reason, now)
            if rules.charge_back_supplier and sale.cost > 0 else None)
    return ReturnDecision("approved", "approved",
                          f"credit {show(sale.price)} to {sale.buyer}"
                          + (f"; charge {show(sale.cost)} back to {sale.supplier}"
                             if back else ""), credit, back)


def _human(d: timedelta) -> str:
    s = int(d.total_seconds())
    if s % 86400 == 0:
        return f"{s // 86400}d"
    if s % 3600 == 0:
        return f"{s // 3600}h"
    return f"{s // 60}m" if s % 60 == 0 else f"{s}s"


@dataclass(frozen=True)
class ReturnRequest:
    """An approved return of a sale (what return rates count)."""

    sale: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class Rate:
    """Sales, approved returns, and their ratio (0.0 with no sales)."""

    sold: int
    returned: int

    @property
    def rate(self) -> float:
        return self.returned / self.sold if self.sold else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"sold": self.sold, "returned": self.returned, "rate": round(self.rate, 4)}


@dataclass(frozen=True)
class ReturnRates:
    """Return rates per buyer and per supplier."""

    buyers: Mapping[str, Rate]
    suppliers: Mapping[str, Rate]

    def to_dict(self) -> dict[str, Any]:
        return {"buyers": {k: v.to_dict() for k, v in sorted(self.buyers.items())},
                "suppliers": {k: v.to_dict() for k, v in sorted(self.suppliers.items())}}


def return_rates(sales: Iterable[Sale], returns: Iterable[ReturnRequest]) -> ReturnRates:
    """Count each sale once for its buyer and its supplier, and each approved return
    (by sale id; repeats and returns of unknown sales are ignored) against both."""
    by_id: dict[str, Sale] = {}
    for s in sales:
        by_id.setdefault(s.id, s)
    returned = {r.sale for r in returns if r.sale in by_id}
    buyers: dict[str, list[int]] = {}
    suppliers: dict[str, list[int]] = {}
    for s in by_id.values():
        for table, key in ((buyers, s.buyer), (suppliers, s.supplier)):
            row = table.setdefault(key, [0, 0])
            row[0] += 1
            row[1] += s.id in returned
    return ReturnRates({k: Rate(*v) for k, v in buyers.items()},
                       {k: Rate(*v) for k, v in suppliers.items()})
