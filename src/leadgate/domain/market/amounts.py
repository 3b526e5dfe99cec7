"""Money amounts: exact decimals in the account currency, at most two decimal places.

Amounts are :class:`~decimal.Decimal` everywhere in the market core (never floats), so
sums of many sales are exact. In JSON (traces, states) they are written as strings such
as ``"12.50"``.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from leadgate.domain.errors import InvalidConfig

__all__ = ["CENT", "ZERO", "as_amount", "parse_amount", "show"]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def as_amount(value: Any) -> Decimal:
    """A Decimal from an int, a text or a Decimal (floats go through their text form, so
    ``12.5`` is ``Decimal("12.5")``, not its binary approximation)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    if isinstance(value, int | float | str):
        return Decimal(str(value).strip())
    raise TypeError(f"not an amount: {value!r}")


def parse_amount(value: Any, path: str, *, positive: bool = False) -> Decimal:
    """A config amount (``25``, ``"12.50"``, ``12.5``): finite, >= 0 (> 0 with
    ``positive``), at most two decimal places; refused with ``path`` otherwise."""
    try:
        amount = as_amount(value)
    except (TypeError, InvalidOperation):
        raise InvalidConfig(f"expected an amount such as 25 or 12.50, got {value!r}",
                            path=path) from None
    if not amount.is_finite() or amount < 0 or (positive and amount == 0):
        bound = "above 0" if positive else ">= 0"
        raise InvalidConfig(f"amount must be {bound}, got {value!r}", path=path)
    try:
        cents = amount.quantize(CENT, rounding=ROUND_DOWN)
    except InvalidOperation:
        raise InvalidConfig(f"amount too large: {value!r}", path=path) from None
    if amount != cents:
        raise InvalidConfig(f"at most two decimal places, got {value!r}", path=path)
    return cents


def show(amount: Decimal | None) -> str | None:
    """The JSON form of an amount: ``"12.50"`` (None stays None). The forms of positive
    amounts are remembered (bounded): an auction's trace shows each bid several times."""
    if amount is None:
        return None
    got = _SHOWN.get(amount)
    if got is None:
        got = str(amount.quantize(CENT))
        if amount.is_finite() and amount > 0:  # equal amounts show alike (not a zero's sign)
            if len(_SHOWN) >= 4096:
                _SHOWN.clear()
            _SHOWN[amount] = got
    return got


_SHOWN: dict[Decimal, str] = {}
