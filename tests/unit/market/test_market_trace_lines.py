"""A trace line's copy (``BuyerLine.but``) and an amount's JSON form (``show``), made
cheaper for auctions that rewrite every bidder's line: the same values as before."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadgate.domain.market.amounts import CENT, show
from leadgate.domain.market.trace import BuyerLine


def test_a_changed_line_equals_the_dataclass_replace_of_it_and_leaves_it_as_it_was() -> None:
    ln = BuyerLine("acme", "Acme", "fallback", price=Decimal("12.50"),
                   extra={"received_after_ms": 5.0})
    new = ln.but(status="winner", text="Acme won", extra={**ln.extra, "rank": 1})
    assert new == dataclasses.replace(ln, status="winner", text="Acme won",
                                      extra={**ln.extra, "rank": 1})
    assert (ln.status, ln.text, ln.extra) == ("fallback", "", {"received_after_ms": 5.0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.status = "x"  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field"):
        ln.but(statuz="winner")


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4,
                   min_value=Decimal(-1000), max_value=Decimal(100000)))
def test_an_amount_shows_as_its_quantized_form_however_often_it_is_shown(d: Decimal) -> None:
    expected = str(d.quantize(CENT))
    assert show(d) == expected
    assert show(d) == expected  # remembered or not, the same


def test_equal_amounts_show_alike_and_a_zeros_sign_is_kept() -> None:
    assert show(Decimal("12.5")) == show(Decimal("12.50")) == "12.50"
    assert show(Decimal("1E+1")) == "10.00"
    assert show(Decimal("0")) == "0.00" and show(Decimal("-0")) == "-0.00"
    assert show(Decimal("NaN")) == "NaN" and show(None) is None
