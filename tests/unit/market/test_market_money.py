from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from market_factories import NOW, D

from leadgate.domain.errors import InvalidConfig
from leadgate.domain.market.money import (
    RETURN_CODES,
    Margin,
    ReturnRequest,
    ReturnRules,
    Sale,
    decide_return,
    lead_margin,
    return_rates,
)

WINDOW = timedelta(hours=72)
RULES = ReturnRules.parse({"reasons": {"disconnected": "approve", "fraud": "review"},
                           "review_above": 100, "max_rate": 0.25})


def _sale(sid: str = "s1", *, buyer: str = "acme", supplier: str = "web", price: Any = 30,
          cost: Any = 20, returned: bool = False, age: timedelta = timedelta(0)) -> Sale:
    return Sale(sid, "lead-1", buyer, supplier, D(price), NOW - age, D(cost), returned)


@pytest.mark.parametrize(("sale", "reason", "rate", "outcome", "code"), [
    (_sale(age=timedelta(hours=71)), "disconnected", None, "approved", "approved"),
    (_sale(age=WINDOW), "disconnected", None, "approved", "approved"),
    (_sale(age=WINDOW + timedelta(seconds=1)), "disconnected", None, "refused",
     "window_closed"),
    (_sale(), "changed_mind", None, "refused", "reason_not_allowed"),
    (_sale(returned=True), "disconnected", None, "refused", "already_returned"),
    (_sale(age=-timedelta(minutes=1)), "disconnected", None, "refused", "before_sale"),
    (_sale(), "fraud", None, "needs_review", "review_reason"),
    (_sale(price=150), "disconnected", None, "needs_review", "review_amount"),
    (_sale(), "disconnected", 0.3, "needs_review", "review_rate"),
    (_sale(), "disconnected", 0.2, "approved", "approved"),
])
def test_return_within_or_after_the_window_and_by_rule(
        sale: Sale, reason: str, rate: float | None, outcome: str, code: str) -> None:
    d = decide_return(sale, reason, NOW, WINDOW, RULES, buyer_return_rate=rate)
    assert (d.outcome, d.code) == (outcome, code)
    assert RETURN_CODES[code][0] == outcome


def test_approved_return_credits_the_buyer_and_charges_the_supplier_back() -> None:
    d = decide_return(_sale(), "disconnected", NOW, WINDOW, RULES)
    assert d.credit is not None and d.credit.buyer == "acme" and d.credit.amount == D(30)
    assert d.chargeback is not None and d.chargeback.supplier == "web"
    assert d.chargeback.amount == D(20)
    assert d.to_dict()["credit"] == {"buyer": "acme", "amount": "30.00"}
    no_back = ReturnRules({"disconnected": "approve"}, charge_back_supplier=False)
    assert decide_return(_sale(), "disconnected", NOW, WINDOW, no_back).chargeback is None


def test_refused_return_records_no_money() -> None:
    d = decide_return(_sale(), "changed_mind", NOW, WINDOW, RULES)
    assert d.credit is None and d.chargeback is None


@pytest.mark.parametrize(("data", "path"), [
    ({}, "returns.reasons"),
    ({"reasons": {"x": "maybe"}}, "returns.reasons.x"),
    ({"reasons": {"x": "approve"}, "max_rate": 2}, "returns.max_rate"),
    ({"reasons": {"x": "approve"}, "review_above": -1}, "returns.review_above"),
    ({"reasons": {"x": "approve"}, "window": "3d"}, "returns.window"),
])
def test_bad_return_rules_are_refused_with_their_key_path(data: Any, path: str) -> None:
    with pytest.raises(InvalidConfig) as err:
        ReturnRules.parse(data)
    assert err.value.path == path


def test_lead_margin_is_revenue_less_credits_less_supplier_cost() -> None:
    d = decide_return(_sale(), "disconnected", NOW, WINDOW, RULES)
    assert d.credit is not None
    m = lead_margin([D(30), D(25)], D(20), [d.credit])
    assert (m.revenue, m.credited, m.cost, m.margin) == (D(55), D(30), D(20), D(5))
    assert m.to_dict()["margin"] == "5.00"


def test_return_rates_per_buyer_and_supplier() -> None:
    sales = [_sale("1"), _sale("2"), _sale("3", buyer="globex"), _sale("4", supplier="aff")]
    returns = [ReturnRequest("1", "disconnected", NOW), ReturnRequest("1", "dup", NOW),
               ReturnRequest("3", "fraud", NOW), ReturnRequest("99", "unknown", NOW)]
    r = return_rates(sales, returns)
    assert (r.buyers["acme"].sold, r.buyers["acme"].returned) == (3, 1)
    assert r.buyers["globex"].rate == 1.0
    assert r.suppliers["web"].returned == 2 and r.suppliers["aff"].rate == 0.0
    assert r.to_dict()["buyers"]["acme"] == {"sold": 3, "returned": 1, "rate": 0.3333}


@pytest.mark.parametrize(("data", "path"), [
    ({"percent": 101}, "margin.percent"),
    ({"fixed": "x"}, "margin.fixed"),
    ({"flat": 1}, "margin.flat"),
])
def test_bad_margin_is_refused_with_its_key_path(data: Any, path: str) -> None:
    with pytest.raises(InvalidConfig) as err:
        Margin.parse(data)
    assert err.value.path == path


@given(st.integers(0, 10**7), st.integers(0, 10000), st.integers(0, 10**4))
def test_margin_payout_plus_margin_is_the_price_and_never_negative(
        cents: int, percent_hundredths: int, fixed_cents: int) -> None:
    m = Margin(D(percent_hundredths) / 100, D(fixed_cents) / 100)
    price = D(cents) / 100
    payout = m.payout(price)
    assert D(0) <= payout <= price and payout + m.kept(price) == price
    assert payout == payout.quantize(D("0.01"))
