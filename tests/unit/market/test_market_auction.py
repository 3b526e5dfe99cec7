from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from market_factories import NOW, D, cand, load

from leadgate.domain.errors import RoutingError
from leadgate.domain.market.auction import (
    Bid,
    decide_auction,
    next_after_posts,
    next_after_rejection,
    next_after_rejections,
    next_after_sale,
)
from leadgate.domain.market.buyers import BuyerCandidate
from leadgate.domain.market.money import Margin

MS = timedelta(milliseconds=1)
LEAD = {"state": "CA"}


def _bidders(*keys: str, **data: object) -> list[BuyerCandidate]:
    return [cand(k, price="bid", **data) for k in keys]


def test_auction_highest_bid_wins_and_the_rest_are_fallbacks_in_order() -> None:
    bids = [Bid("a", D(12), 100 * MS), Bid("b", D(30), 400 * MS), Bid("c", D(18), 50 * MS)]
    d = decide_auction(bids, _bidders("a", "b", "c"), LEAD, NOW)
    assert d.outcome == "sold" and d.winner is not None and d.winner.buyer == "b"
    assert [f.buyer for f in d.fallbacks] == ["c", "a"]
    assert [ln.status for ln in d.lines] == ["fallback", "winner", "fallback"]
    assert d.summary == "Sold to B for 30.00, supplier paid 30.00; next C at 18.00."


def test_auction_ignores_a_bid_after_the_timeout() -> None:
    bids = [Bid("a", D(50), 751 * MS), Bid("b", D(20), 750 * MS)]
    d = decide_auction(bids, _bidders("a", "b"), LEAD, NOW, timeout=750 * MS)
    assert d.winner is not None and d.winner.buyer == "b" and d.fallbacks == ()
    late = d.line("a")
    assert late.status == "late" and late.extra["received_after_ms"] == 751
    assert "past the 750 ms timeout" in late.text


def test_auction_below_reserve_means_no_winner() -> None:
    bids = [Bid("a", D("4.99"), MS), Bid("b", D(3), MS)]
    d = decide_auction(bids, _bidders("a", "b"), LEAD, NOW, reserve_price=D(5))
    assert d.outcome == "unsold" and d.winner is None and d.fallbacks == ()
    assert {ln.status for ln in d.lines} == {"below_reserve"}
    assert d.summary == "Unsold: no valid bid (2 below reserve)."


def test_auction_bid_at_the_reserve_is_accepted() -> None:
    d = decide_auction([Bid("a", D(5), MS)], _bidders("a"), LEAD, NOW, reserve_price=D(5))
    assert d.winner is not None and d.winner.buyer == "a"


def test_auction_winner_rejects_then_the_next_bid_wins() -> None:
    bids = [Bid("a", D(30), MS), Bid("b", D(20), MS), Bid("c", D(10), MS)]
    d = decide_auction(bids, _bidders("a", "b", "c"), LEAD, NOW)
    d2 = next_after_rejection(d, "a")
    assert d2.winner is not None and d2.winner.buyer == "b" and d2.winner.amount == D(20)
    assert [f.buyer for f in d2.fallbacks] == ["c"] and d2.rejected == ("a",)
    assert d2.line("a").status == "rejected"
    d3 = next_after_rejection(next_after_rejection(d2, "b"), "c")
    assert d3.outcome == "unsold" and d3.rejected == ("a", "b", "c")
    with pytest.raises(RoutingError):
        next_after_rejection(d3, "a")


def test_auction_after_a_shared_sale_the_next_bid_is_offered_the_lead_too() -> None:
    bids = [Bid("a", D(30), MS), Bid("b", D(20), MS), Bid("c", D(10), MS)]
    d = decide_auction(bids, _bidders("a", "b", "c", sale={"shared": 2}), LEAD, NOW)
    d2 = next_after_sale(d, "a")
    assert d2.winner is not None and d2.winner.buyer == "b" and d2.sold == ("a",)
    assert d2.line("a").status == "sold" and d2.rejected == ()
    d3 = next_after_sale(next_after_rejection(d2, "b"), "c")
    assert d3.winner is None and d3.outcome == "sold" and d3.sold == ("a", "c")
    assert d3.rejected == ("b",) and d3.to_dict()["sold"] == ["a", "c"]
    assert d3.summary == "Sold (shared) to A for 30.00, C for 10.00."
    with pytest.raises(RoutingError):
        next_after_sale(d3, "a")


@settings(max_examples=60, deadline=None)
@given(amounts=st.lists(st.integers(1, 50), min_size=1, max_size=6),
       sold=st.integers(0, 2), data=st.data())
def test_auction_striking_off_several_bids_at_once_is_the_same_as_one_by_one(
        amounts: list[int], sold: int, data: st.DataObject) -> None:
    keys = [chr(ord("a") + i) for i in range(len(amounts))]
    bids = [Bid(k, D(a), (i + 1) * MS) for i, (k, a) in enumerate(zip(keys, amounts, strict=True))]
    d = decide_auction(bids, _bidders(*keys, sale={"shared": 3}), LEAD, NOW,
                       margin=Margin.parse({"percent": 10}))
    for _ in range(min(sold, len(keys) - 1)):  # the lead bought by the first bids
        assert d.winner is not None
        d = next_after_sale(d, d.winner.buyer)
    holding = [r.buyer for r in (d.winner, *d.fallbacks) if r]
    struck = data.draw(st.permutations(holding)).__getitem__(
        slice(0, data.draw(st.integers(0, len(holding)))))
    one_by_one = d
    for k in struck:
        one_by_one = next_after_rejection(one_by_one, k)
    at_once = next_after_rejections(d, struck)
    assert at_once == one_by_one
    assert at_once.to_dict() == one_by_one.to_dict()
    with pytest.raises(RoutingError):  # a buyer struck off twice holds no bid
        next_after_rejections(d, [*struck, *struck[:1]] if struck else ["zz"])


@settings(max_examples=60, deadline=None)
@given(amounts=st.lists(st.integers(1, 50), min_size=1, max_size=6), data=st.data())
def test_auction_posts_answered_at_once_are_the_same_as_one_by_one(
        amounts: list[int], data: st.DataObject) -> None:
    """A shared lead's next bids posted together: their outcomes applied at once give
    the decision applying them one by one in bid order gives (sold: next_after_sale,
    not taken: next_after_rejection)."""
    keys = [chr(ord("a") + i) for i in range(len(amounts))]
    bids = [Bid(k, D(a), (i + 1) * MS) for i, (k, a) in enumerate(zip(keys, amounts, strict=True))]
    d = decide_auction(bids, _bidders(*keys, sale={"shared": 3}), LEAD, NOW,
                       margin=Margin.parse({"percent": 10}))
    ranked = [r.buyer for r in (d.winner, *d.fallbacks) if r]
    group = ranked[:data.draw(st.integers(1, len(ranked)))]
    outcomes = [(k, data.draw(st.booleans())) for k in group]
    one_by_one = d
    for k, took in outcomes:
        one_by_one = (next_after_sale(one_by_one, k) if took
                      else next_after_rejection(one_by_one, k))
    at_once = next_after_posts(d, outcomes)
    assert at_once == one_by_one
    assert at_once.to_dict() == one_by_one.to_dict()
    assert at_once.sold == tuple(k for k, took in outcomes if took)
    with pytest.raises(RoutingError):  # a buyer posted twice holds no bid the second time
        next_after_posts(d, [*outcomes, outcomes[0]])


def test_auction_ties_go_to_the_earlier_answer_then_priority_then_key() -> None:
    cands = [cand("a", price="bid", priority=5), cand("b", price="bid", priority=1),
             cand("c", price="bid", priority=1), cand("d", price="bid", priority=1)]
    bids = [Bid("a", D(10), 10 * MS), Bid("b", D(10), 20 * MS), Bid("c", D(10), 20 * MS),
            Bid("d", D(10), 5 * MS)]
    d = decide_auction(bids, cands, LEAD, NOW)
    assert [r.buyer for r in (d.winner, *d.fallbacks) if r] == ["d", "a", "b", "c"]


def test_auction_buyer_over_daily_cap_or_budget_is_never_in_the_running() -> None:
    cands = [
        cand("a", price="bid", caps={"daily": 10}, load=load(sold={"day": 10})),
        cand("b", price="bid", budget={"daily": 100}, load=load(spent_today=90)),
        cand("c", price="bid"),
    ]
    bids = [Bid("a", D(99), MS), Bid("b", D(11), MS), Bid("c", D(5), MS)]
    d = decide_auction(bids, cands, LEAD, NOW)
    assert d.winner is not None and d.winner.buyer == "c" and d.fallbacks == ()
    assert d.line("a").reasons == ("daily_cap",)
    assert d.line("b").reasons == ("daily_budget",)  # 90 spent + 11 > 100


def test_auction_traces_no_answer_declined_not_eligible_and_unknown_bidders() -> None:
    cands = [*_bidders("a", "b"), cand("c", price="bid", filters={"field": "state",
                                                                  "eq": "TX"})]
    bids = [Bid("b", None, MS), Bid("c", D(9), MS), Bid("zed", D(99), MS)]
    d = decide_auction(bids, cands, LEAD, NOW)
    assert {ln.buyer: ln.status for ln in d.lines} == {
        "a": "no_answer", "b": "declined", "c": "not_eligible", "zed": "unknown_buyer"}
    assert d.line("c").reasons == ("filters_not_met",)
    json.dumps(d.to_dict())


def test_auction_fixed_price_buyer_stands_with_its_price() -> None:
    cands = [cand("fix", price=15), *_bidders("bid")]
    d = decide_auction([Bid("bid", D(14), MS)], cands, LEAD, NOW)
    assert d.winner is not None and d.winner.buyer == "fix" and d.winner.amount == D(15)


def test_auction_margin_percent_and_fixed_pays_the_supplier_bid_less_margin() -> None:
    m = Margin(percent=D(10), fixed=D("0.50"))
    d = decide_auction([Bid("a", D("19.99"), MS)], _bidders("a"), LEAD, NOW, margin=m)
    assert d.winner is not None
    # 19.99 * 0.9 = 17.991 -> 17.99, less 0.50 = 17.49 (rounded down: the seller keeps it)
    assert d.winner.payout == D("17.49") and d.winner.margin == D("2.50")


def test_auction_earliest_in_time_bid_of_a_buyer_counts() -> None:
    bids = [Bid("a", D(40), 900 * MS), Bid("a", D(20), 100 * MS), Bid("a", D(30), 200 * MS)]
    d = decide_auction(bids, _bidders("a"), LEAD, NOW)
    assert d.winner is not None and d.winner.amount == D(20)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 1500)), min_size=1,
                max_size=8),
       st.integers(0, 3000))
def test_auction_winner_is_the_highest_in_time_bid_at_or_above_reserve(
        raw: list[tuple[int, int]], reserve_cents: int) -> None:
    keys = [f"b{i}" for i in range(len(raw))]
    bids = [Bid(k, D(c) / 100, ms * MS) for k, (c, ms) in zip(keys, raw, strict=True)]
    reserve = D(reserve_cents) / 100
    d = decide_auction(bids, _bidders(*keys), LEAD, NOW, reserve_price=reserve)
    ok = [b for b in bids if b.amount and b.amount > 0 and b.amount >= reserve
          and b.received_after <= 750 * MS]
    ranked = [r.buyer for r in ((d.winner,) if d.winner else ()) + d.fallbacks]
    assert sorted(ranked) == sorted(b.buyer for b in ok)
    if ok:
        assert d.winner is not None and d.winner.amount == max(b.amount for b in ok if b.amount)
    amounts = [r.amount for r in ((d.winner,) if d.winner else ()) + d.fallbacks]
    assert amounts == sorted(amounts, reverse=True)
