from __future__ import annotations

import json

import pytest
from market_factories import NOW, D, cand, load

from leadgate.domain.errors import RoutingError
from leadgate.domain.market.buyers import BuyerCandidate
from leadgate.domain.market.ping_tree import order_ping_tree

LEAD = {"state": "CA", "age": 25}


def _tree() -> list[BuyerCandidate]:
    return [
        cand("gold", price=40, priority=1),
        cand("silver", price=[{"when": {"field": "age", "lt": 30}, "price": 55},
                              {"price": 20}], priority=2),
        cand("bronze", price=30, priority=2),
        cand("tin", price=30, priority=3),
    ]


def test_ping_tree_by_priority_then_price_then_key() -> None:
    t = order_ping_tree(_tree(), LEAD, NOW, order="priority")
    assert [(s.buyer, s.price) for s in t.steps] == [
        ("gold", D(40)), ("silver", D(55)), ("bronze", D(30)), ("tin", D(30))]


def test_ping_tree_by_price_then_priority_then_key() -> None:
    t = order_ping_tree(_tree(), LEAD, NOW, order="price")
    assert [s.buyer for s in t.steps] == ["silver", "gold", "bronze", "tin"]
    assert t.summary == ("Ping tree by price: Silver (55.00), Gold (40.00), Bronze (30.00) "
                         "and 1 more.")


def test_ping_tree_price_rules_first_match_wins() -> None:
    t = order_ping_tree(_tree(), {"state": "CA", "age": 50}, NOW, order="price")
    assert t.first is not None and (t.first.buyer, t.first.price) == ("gold", D(40))
    assert dict((s.buyer, s.price) for s in t.steps)["silver"] == D(20)


def test_ping_tree_skips_capped_over_budget_bid_only_and_cheap_buyers_with_reasons() -> None:
    cands = [
        cand("capped", price=50, caps={"daily": 5}, load=load(sold={"day": 5})),
        cand("broke", price=50, budget={"daily": 100}, load=load(spent_today=60)),
        cand("bidder", price="bid"),
        cand("cheap", price=2),
        cand("ok", price=10),
    ]
    t = order_ping_tree(cands, LEAD, NOW, min_price=D(5))
    assert [s.buyer for s in t.steps] == ["ok"]
    by = {ln.buyer: ln for ln in t.lines}
    assert by["capped"].status == "not_eligible" and by["capped"].reasons == ("daily_cap",)
    assert by["broke"].reasons == ("daily_budget",)
    assert by["bidder"].status == "bid_only" and by["cheap"].status == "below_reserve"
    assert by["ok"].status == "ordered" and by["ok"].extra == {"position": 1}
    assert t.summary.endswith("; 4 buyer(s) skipped.")
    json.dumps(t.to_dict())


def test_ping_tree_waterfall_continues_after_a_rejection() -> None:
    t = order_ping_tree(_tree(), LEAD, NOW)
    assert [s.buyer for s in t.after("silver")] == ["bronze", "tin"]
    with pytest.raises(RoutingError):
        t.after("nobody")


def test_ping_tree_unknown_order_is_refused() -> None:
    with pytest.raises(RoutingError):
        order_ping_tree(_tree(), LEAD, NOW, order="random")
