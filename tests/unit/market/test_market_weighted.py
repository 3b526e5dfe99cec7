from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from market_factories import NOW, D, cand, load

from leadgate.domain.market.buyers import BuyerCandidate
from leadgate.domain.market.weighted import choose_weighted

SEED_004 = {"alpha": 60, "bravo": 20, "charlie": 20}


def _buyers(weights: dict[str, int], **data: Any) -> list[BuyerCandidate]:
    return [cand(k, weight=w, **data) for k, w in weights.items()]


def _shares_ok(counts: Counter[str], weights: dict[str, int], n: int) -> bool:
    total = sum(weights.values())
    return all(abs(counts[k] - Fraction(n * w, total)) < 1 for k, w in weights.items())


def test_weighted_60_20_20_over_1000_leads_is_exact_at_every_prefix() -> None:
    cands = _buyers(SEED_004)
    state: Any = {}
    counts: Counter[str] = Counter()
    for n in range(1, 1001):
        sale = choose_weighted(cands, {}, NOW, state)
        assert sale.buyer is not None
        counts[sale.buyer] += 1
        state = json.loads(json.dumps(sale.state))  # the state survives JSON storage
        assert _shares_ok(counts, SEED_004, n), (n, counts)
    assert counts == {"alpha": 600, "bravo": 200, "charlie": 200}


def test_weighted_skips_a_capped_buyer_and_the_others_share_by_weight() -> None:
    cands = [cand("alpha", weight=60, caps={"daily": 300}), *_buyers(SEED_004)[1:]]
    state: Any = {}
    counts: Counter[str] = Counter()
    for n in range(1, 1001):
        # the service fills BuyerLoad.sold from its counters: alpha is capped at 300
        live = [BuyerCandidate(c.buyer, load(sold={"day": counts[c.buyer.key]}))
                for c in cands]
        sale = choose_weighted(live, {}, NOW, state)
        assert sale.buyer is not None
        counts[sale.buyer] += 1
        state = sale.state
        if counts["alpha"] < 300:
            assert _shares_ok(counts, SEED_004, n), (n, counts)
        assert abs(counts["bravo"] - counts["charlie"]) <= 1, (n, counts)
    assert counts == {"alpha": 300, "bravo": 350, "charlie": 350}


def test_weighted_buyer_capped_for_a_while_catches_up_and_shares_are_exact_again() -> None:
    cands = _buyers(SEED_004)
    capped = [cand("alpha", weight=60, caps={"hourly": 0}), *cands[1:]]
    state: Any = {}
    counts: Counter[str] = Counter()
    for n in range(1, 1001):
        sale = choose_weighted(capped if 100 < n <= 150 else cands, {}, NOW, state)
        assert sale.buyer is not None and not (100 < n <= 150 and sale.buyer == "alpha")
        counts[sale.buyer] += 1
        state = sale.state
    assert counts == {"alpha": 600, "bravo": 200, "charlie": 200}


def test_weighted_never_sells_to_a_buyer_out_of_hours_or_out_of_budget() -> None:
    cands = [
        cand("alpha", weight=60, timezone="America/New_York",
             working_hours={"mon-fri": "12:00-17:00"}),
        cand("bravo", weight=20, budget={"daily": 50}, load=load(spent_today=45)),
        cand("charlie", weight=20),
    ]
    state: Any = {}
    for _ in range(10):
        sale = choose_weighted(cands, {}, NOW, state)
        assert sale.buyer == "charlie" and sale.price == D(10)
        state = sale.state
    lines = {ln.buyer: ln for ln in sale.lines}
    assert lines["alpha"].reasons == ("out_of_hours",)
    assert lines["bravo"].reasons == ("daily_budget",)


def test_weighted_with_nobody_eligible_is_unsold_and_keeps_the_state() -> None:
    cands = [cand("alpha", status="paused")]
    sale = choose_weighted(cands, {}, NOW, {"weights": {"alpha": 1.0}, "counts": {"alpha": 4}})
    assert sale.buyer is None and sale.state["counts"] == {"alpha": 4}
    assert sale.summary.startswith("Unsold: no eligible buyer (Alpha: the buyer is paused")


def test_weighted_bid_buyers_and_zero_weights_get_nothing() -> None:
    cands = [cand("alpha", weight=1), cand("bravo", weight=0), cand("charlie", price="bid")]
    sale = choose_weighted(cands, {}, NOW, {})
    assert sale.buyer == "alpha"
    assert [ln.status for ln in sale.lines] == ["chosen", "no_weight", "bid_only"]
    json.dumps(sale.to_dict())


def test_weighted_weight_change_restarts_the_counts() -> None:
    sale = choose_weighted(_buyers({"a": 1, "b": 1}), {}, NOW, {})
    again = choose_weighted(_buyers({"a": 3, "b": 1}), {}, NOW, sale.state)
    assert again.arithmetic["reset"] is True and again.state["counts"] == {"a": 1}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=6),
       st.integers(min_value=1, max_value=200))
def test_weighted_any_weights_stay_within_one_lead_at_every_prefix(
        ws: list[int], leads: int) -> None:
    weights = {f"b{i}": w for i, w in enumerate(ws)}
    cands = _buyers(weights)
    state: Any = {}
    counts: Counter[str] = Counter()
    for n in range(1, leads + 1):
        sale = choose_weighted(cands, {}, NOW, state)
        assert sale.buyer is not None
        counts[sale.buyer] += 1
        state = sale.state
        assert _shares_ok(counts, weights, n)
