from __future__ import annotations

from collections import Counter
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from routing_factories import NOW, cand, flow

from leadgate.domain.agents import Candidate
from leadgate.domain.errors import InvalidFlow
from leadgate.domain.routing import Flow, decide


def _flow(keys: list[str], weights: Any) -> Flow:
    return flow({"name": "w", "to": {"agents": keys, "method": "weighted",
                                     "weights": weights}})


def _run(f: Flow, cands: list[Candidate], state: Any, n: int) -> tuple[list[str], Any]:
    got: list[str] = []
    for _ in range(n):
        d = decide({}, f, cands, state, NOW)
        assert d.agent is not None
        got.append(d.agent)
        state = d.state
    return got, state


def test_weighted_60_20_20_is_exact_after_every_five_leads() -> None:
    f = _flow(["ana", "ben", "cy"], [60, 20, 20])
    got, state = _run(f, [cand("ana"), cand("ben"), cand("cy")], {}, 10)
    assert got[:5].count("ana") == 3 and Counter(got) == {"ana": 6, "ben": 2, "cy": 2}
    assert state["weighted|agents=ana,ben,cy"] == {
        "weights": {"ana": 60, "ben": 20, "cy": 20}, "counts": {"ana": 6, "ben": 2, "cy": 2}}


def test_weighted_trace_shows_weights_counts_and_deficits() -> None:
    f = _flow(["ana", "ben"], [3, 1])
    d = decide({}, f, [cand("ana"), cand("ben")], {}, NOW)
    a = d.trace.rules[0].arithmetic
    assert a["weights"] == {"ana": 3.0, "ben": 1.0} and a["n"] == 0
    assert a["deficits"] == {"ana": 0.75, "ben": 0.25} and a["next"] == "ana"
    assert "was due next for a 75% share" in d.trace.summary


def test_weighted_skips_ineligible_agent_and_gives_share_to_others() -> None:
    f = _flow(["ana", "ben"], [1, 1])
    got, _ = _run(f, [cand("ana", status="offline"), cand("ben")], {}, 3)
    assert got == ["ben", "ben", "ben"]


def test_weighted_zero_weight_gets_nothing_and_mapping_weights_work_with_teams() -> None:
    f = flow({"name": "w", "to": {"team": "t", "method": "weighted",
                                  "weights": {"ana": 2, "ben": 0, "cy": 1}}})
    cands = [cand(k, teams=["t"]) for k in ("ana", "ben", "cy")]
    got, _ = _run(f, cands, {}, 6)
    assert Counter(got) == {"ana": 4, "cy": 2}


def test_weighted_weight_change_restarts_counts() -> None:
    cands = [cand("ana"), cand("ben")]
    _, state = _run(_flow(["ana", "ben"], [1, 1]), cands, {}, 4)
    got, state = _run(_flow(["ana", "ben"], [3, 1]), cands, state, 4)
    assert Counter(got) == {"ana": 3, "ben": 1}
    assert state["weighted|agents=ana,ben"]["counts"] == {"ana": 3, "ben": 1}


@pytest.mark.parametrize(("weights", "path", "words"), [
    ([1, 2], "rules[0].to.weights", "2 weights for 3 agents"),
    ([1, -2, 1], "rules[0].to.weights[1]", ">= 0"),
    ([0, 0, 0], "rules[0].to.weights", "above zero"),
    (None, "rules[0].to.weights", "needs weights"),
    ([1, "x", 1], "rules[0].to.weights[1]", ">= 0"),
])
def test_weighted_bad_weights_are_refused(weights: Any, path: str, words: str) -> None:
    with pytest.raises(InvalidFlow) as err:
        _flow(["a", "b", "c"], weights)
    assert err.value.path == path and words in err.value.reason


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 100), min_size=2, max_size=8), st.integers(1, 150))
def test_weighted_shares_are_exact_within_one_at_every_prefix(weights: list[int],
                                                              n: int) -> None:
    keys = [f"a{i}" for i in range(len(weights))]
    f = _flow(keys, weights)
    cands = [cand(k) for k in keys]
    total = sum(weights)
    counts: Counter[str] = Counter()
    state: Any = {}
    for step in range(1, n + 1):
        d = decide({}, f, cands, state, NOW)
        assert d.agent is not None
        counts[d.agent] += 1
        state = d.state
        for k, w in zip(keys, weights, strict=True):
            assert abs(counts[k] - Fraction(step * w, total)) < 1
