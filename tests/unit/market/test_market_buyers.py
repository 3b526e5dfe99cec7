from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from market_factories import NOW, D, buyer, load

from leadgate.domain.errors import InvalidConfig
from leadgate.domain.market.buyer_config import parse_buyer
from leadgate.domain.market.buyers import (
    REASONS,
    BuyerLoad,
    buyer_window_starts,
    eligibility,
    explain,
)

LEAD = {"state": "CA", "age": 40, "product": "health"}


def test_buyer_spec_parses_every_field_and_round_trips() -> None:
    data: dict[str, Any] = {
        "key": "acme", "name": "Acme Insurance", "status": "active",
        "filters": {"field": "state", "in": ["CA", "TX"]},
        "caps": {"hourly": 5, "daily": 100, "weekly": 400, "monthly": 1500},
        "budget": {"daily": 2500, "monthly": "50000.00"},
        "timezone": "America/New_York", "working_hours": {"mon-fri": "08:00-20:00"},
        "holidays": "US",
        "price": [{"when": {"field": "age", "lt": 30}, "price": 40}, {"price": "25.50"}],
        "sale": {"shared": 3}, "priority": 2, "weight": 60, "destinations": ["acme-post"],
    }
    b = parse_buyer(data)
    assert b.label == "Acme Insurance" and b.max_sales == 3 and not b.exclusive
    assert b.budget == {"daily": D("2500.00"), "monthly": D("50000.00")}
    assert b.price_for({"age": 25}) == D(40) and b.price_for({"age": 50}) == D("25.50")
    again = parse_buyer(b.to_mapping())
    assert again == b


@pytest.mark.parametrize(("data", "path", "words"), [
    ({"price": 10, "caps": {"yearly": 3}}, "buyer.caps.yearly", "unknown window"),
    ({"price": 10, "caps": {"daily": -1}}, "buyer.caps.daily", ">= 0"),
    ({"price": 10, "budget": {"daily": "12.345"}}, "buyer.budget.daily", "two decimal"),
    ({"price": 10, "budget": {"weekly": 3}}, "buyer.budget.weekly", "unknown budget"),
    ({"price": "lots"}, "buyer.price", "amount"),
    ({}, "buyer.price", "required"),
    ({"price": [{"when": {"field": "age", "zz": 1}, "price": 5}]},
     "buyer.price[0].when.zz", "unknown operator"),
    ({"price": [{"when": True}]}, "buyer.price[0].price", "required"),
    ({"price": 10, "filters": {"field": "state", "between": [5]}},
     "buyer.filters.between", "between"),
    ({"price": 10, "timezone": "Mars/Base"}, "buyer.timezone", "time zone"),
    ({"price": 10, "working_hours": {"mon-fri": "9-5"}}, "buyer.working_hours.mon-fri",
     "HH:MM"),
    ({"price": 10, "holidays": "XX"}, "buyer.holidays", "holiday calendar"),
    ({"price": 10, "sale": {"shared": 1}}, "buyer.sale.shared", ">= 2"),
    ({"price": 10, "sale": "sometimes"}, "buyer.sale", "exclusive"),
    ({"price": 10, "weight": -1}, "buyer.weight", ">= 0"),
    ({"price": 10, "priority": 1.5}, "buyer.priority", "whole number"),
    ({"price": 10, "destinations": [""]}, "buyer.destinations", "destination"),
    ({"price": 10, "colour": "red"}, "buyer.colour", "unknown key"),
    ({"price": 10, "status": "sleepy"}, "buyer.status", "unknown status"),
])
def test_bad_buyer_config_is_refused_with_its_key_path(data: dict[str, Any], path: str,
                                                       words: str) -> None:
    with pytest.raises(InvalidConfig) as err:
        parse_buyer({"key": "acme", **data})
    assert err.value.path == path and words in err.value.reason


def test_buyer_filters_may_only_read_known_fields() -> None:
    with pytest.raises(InvalidConfig) as err:
        parse_buyer({"key": "a", "price": 1, "filters": {"field": "nope", "eq": 1}},
                    path="buyers[3]", fields={"state"})
    assert err.value.path == "buyers[3].filters.field"


@pytest.mark.parametrize(("spec", "ld", "lead", "now", "reasons"), [
    ({}, BuyerLoad(), LEAD, NOW, ()),
    ({"status": "paused"}, BuyerLoad(), LEAD, NOW, ("paused",)),
    ({"filters": {"field": "state", "eq": "TX"}}, BuyerLoad(), LEAD, NOW,
     ("filters_not_met",)),
    ({"price": [{"when": {"field": "age", "lt": 30}, "price": 5}]}, BuyerLoad(), LEAD, NOW,
     ("no_price",)),
    ({"caps": {"hourly": 2}}, load(sold={"hour": 2}), LEAD, NOW, ("hourly_cap",)),
    ({"caps": {"daily": 2}}, load(sold={"day": 2}), LEAD, NOW, ("daily_cap",)),
    ({"caps": {"weekly": 2}}, load(sold={"week": 3}), LEAD, NOW, ("weekly_cap",)),
    ({"caps": {"monthly": 2}}, load(sold={"month": 2}), LEAD, NOW, ("monthly_cap",)),
    ({"caps": {"daily": 2}}, load(sold={"day": 1}), LEAD, NOW, ()),
    ({"budget": {"daily": 100}}, load(spent_today=91), LEAD, NOW, ("daily_budget",)),
    ({"budget": {"daily": 100}}, load(spent_today=90), LEAD, NOW, ()),
    ({"budget": {"monthly": 100}}, load(spent_month=95), LEAD, NOW, ("monthly_budget",)),
    ({"timezone": "America/New_York", "working_hours": {"mon-fri": "11:00-17:00"}},
     BuyerLoad(), LEAD, NOW, ("out_of_hours",)),
    ({"timezone": "America/New_York", "working_hours": {"mon-fri": "09:00-17:00"}},
     BuyerLoad(), LEAD, NOW, ()),
    ({"holidays": "US"}, BuyerLoad(), LEAD, datetime(2026, 7, 4, 15, tzinfo=UTC),
     ("holiday",)),
    ({}, load(lead_sales=1, lead_sold_to_buyer=True), LEAD, NOW,
     ("already_sold_to_buyer", "sold_out")),
    ({"sale": {"shared": 3}}, load(lead_sales=2), LEAD, NOW, ()),
    ({"sale": {"shared": 3}}, load(lead_sales=3), LEAD, NOW, ("sold_out",)),
    ({"sale": {"shared": 3}}, load(lead_sales=1, lead_sold_exclusively=True), LEAD, NOW,
     ("sold_out",)),
    ({}, load(lead_sales=1), LEAD, NOW, ("sold_out",)),
])
def test_buyer_eligibility_reason_codes(spec: dict[str, Any], ld: BuyerLoad,
                                        lead: dict[str, Any], now: datetime,
                                        reasons: tuple[str, ...]) -> None:
    b = buyer("acme", **spec)
    got = eligibility(b, ld, lead, now)
    assert got == reasons
    assert all(r in REASONS for r in got)


def test_bid_buyer_budget_blocks_only_when_used_up_until_the_bid_is_known() -> None:
    b = buyer("acme", price="bid", budget={"daily": 100})
    assert eligibility(b, load(spent_today=99), LEAD, NOW) == ()
    assert eligibility(b, load(spent_today=99), LEAD, NOW, price=D(2)) == ("daily_budget",)
    assert eligibility(b, load(spent_today=100), LEAD, NOW) == ("daily_budget",)


def test_caps_count_in_the_buyers_time_zone() -> None:
    b = buyer("acme", timezone="Asia/Kolkata")
    starts = buyer_window_starts(b, NOW)  # 20:30 on Wednesday in Kolkata
    assert starts["day"] == datetime(2026, 1, 13, 18, 30, tzinfo=UTC)
    assert starts["hour"] == datetime(2026, 1, 14, 14, 30, tzinfo=UTC)
    assert starts["week"] == datetime(2026, 1, 11, 18, 30, tzinfo=UTC)
    assert starts["month"] == datetime(2025, 12, 31, 18, 30, tzinfo=UTC)


def test_eligibility_explains_each_reason_in_a_sentence() -> None:
    b = buyer("acme", caps={"daily": 2}, budget={"daily": 10},
              timezone="America/New_York", working_hours={"mon-fri": "11:00-17:00"})
    ld = load(sold={"day": 2}, spent_today=10)
    text = explain(b, ld, eligibility(b, ld, LEAD, NOW), NOW)
    assert "reached the daily cap (2 of 2)" in text
    assert "no daily budget left for it (10.00 spent of 10.00)" in text
    assert "outside delivery hours (Wed 10:00 America/New_York" in text


def test_eligibility_needs_an_aware_now() -> None:
    from leadgate.domain.errors import RoutingError
    with pytest.raises(RoutingError):
        eligibility(buyer("a"), BuyerLoad(), LEAD, datetime(2026, 1, 1))
