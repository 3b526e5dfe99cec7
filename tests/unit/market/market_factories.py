"""Small factories shared by the market tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from leadgate.domain.market.buyer_config import parse_buyer
from leadgate.domain.market.buyers import Buyer, BuyerCandidate, BuyerLoad

NOW = datetime(2026, 1, 14, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in New York


def buyer(key: str, **data: Any) -> Buyer:
    """A buyer from config data; price defaults to 10 (fixed)."""
    data.setdefault("price", 10)
    data.setdefault("name", key.capitalize())
    return parse_buyer({"key": key, **data})


def cand(key: str, *, load: BuyerLoad | None = None, **data: Any) -> BuyerCandidate:
    return BuyerCandidate(buyer(key, **data), load or BuyerLoad())


def load(**kw: Any) -> BuyerLoad:
    for k in ("spent_today", "spent_month"):
        if k in kw:
            kw[k] = Decimal(str(kw[k]))
    return BuyerLoad(**kw)


def D(x: Any) -> Decimal:
    return Decimal(str(x))
