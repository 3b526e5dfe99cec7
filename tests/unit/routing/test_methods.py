from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from routing_factories import NOW, cand, flow

from leadgate.domain.agents import AgentLoad, Candidate
from leadgate.domain.errors import InvalidFlow
from leadgate.domain.routing import decide


def _one(to: dict[str, Any], cands: list[Candidate], lead: dict[str, Any] | None = None,
         state: Any = None) -> Any:
    return decide(lead or {}, flow({"name": "r", "to": to}), cands, state or {}, NOW)


@pytest.mark.parametrize(("loads", "by", "winner"), [
    ({"ana": (3, None, 0), "ben": (1, None, 0), "cy": (2, None, 0)}, "open", "ben"),
    ({"ana": (1, 5, 0), "ben": (1, 1, 0), "cy": (1, None, 0)}, "open", "cy"),
    ({"ana": (1, 5, 0), "ben": (1, 1, 0)}, "open", "ana"),
    ({"ana": (1, 2, 0), "ben": (1, 2, 0)}, "open", "ana"),
    ({"ana": (0, None, 9), "ben": (5, None, 2)}, "today", "ben"),
])
def test_least_loaded_picks_fewest_then_longest_wait_then_key(
        loads: dict[str, tuple[int, int | None, int]], by: str, winner: str) -> None:
    cands = [cand(k, load=AgentLoad(open_leads=o, assigned={"day": t},
                                    last_assigned_at=None if h is None
                                    else NOW - timedelta(hours=h)))
             for k, (o, h, t) in loads.items()]
    d = _one({"agents": list(loads), "method": "least_loaded", "by": by}, cands)
    assert d.agent == winner
    assert d.trace.rules[0].arithmetic["by"] == by


def test_performance_gives_more_leads_to_better_converters_and_floor_to_new() -> None:
    cands = [cand("ana", load=AgentLoad(won=6, closed=10)),
             cand("ben", load=AgentLoad(won=2, closed=10)),
             cand("new")]
    to = {"agents": ["ana", "ben", "new"], "method": "performance"}
    state: Any = {}
    got: Counter[str] = Counter()
    for _ in range(100):
        d = _one(to, cands, state=state)
        got[d.agent] += 1
        state = d.state
    # weights 0.6, 0.2 and the pool mean 0.4 for the newcomer: shares 1/2, 1/6, 1/3
    for k, share in {"ana": 1 / 2, "ben": 1 / 6, "new": 1 / 3}.items():
        assert abs(got[k] - 100 * share) < 1


def test_performance_floor_keeps_zero_converter_in_rotation() -> None:
    cands = [cand("ana", load=AgentLoad(won=5, closed=5)),
             cand("zed", load=AgentLoad(won=0, closed=10))]
    to = {"agents": ["ana", "zed"], "method": "performance", "floor": 0.25}
    state: Any = {}
    got: Counter[str] = Counter()
    for _ in range(50):
        d = _one(to, cands, state=state)
        got[d.agent] += 1
        state = d.state
    # zed: floor 0.25 x mean 0.5 = 0.125 against ana's 1.0 -> 1/9 of the leads
    assert abs(got["zed"] - 50 / 9) < 1
    assert d.trace.rules[0].arithmetic["floor"] == 0.125


def test_quality_match_sends_grade_a_to_senior_in_rotation() -> None:
    cands = [cand("ana", tier="senior"), cand("ben", tier="senior"), cand("cy", tier="mid"),
             cand("dan", tier="junior")]
    to = {"agents": ["ana", "ben", "cy", "dan"], "method": "quality_match"}
    d1 = _one(to, cands, {"grade": "A"})
    d2 = _one(to, cands, {"grade": "A"}, d1.state)
    assert (d1.agent, d2.agent) == ("ana", "ben")
    assert "senior tier for a grade A lead" in d1.trace.summary


@pytest.mark.parametrize(("grade", "away", "winner"), [
    ("A", {"ana"}, "cy"),           # falls back down: senior -> mid
    ("A", {"ana", "cy"}, "dan"),     # ... -> junior
    ("B", set(), "ana"),
    ("C", set(), "cy"),
    ("C", {"cy", "dan"}, None),      # C never goes up to senior
    (None, set(), "dan"),            # ungraded: bottom up
    ("Z", {"dan"}, "cy"),
])
def test_quality_match_falls_back_down_the_tiers(grade: Any, away: set[str],
                                                 winner: str | None) -> None:
    cands = [cand(k, tier=t, status="away" if k in away else "available")
             for k, t in (("ana", "senior"), ("cy", "mid"), ("dan", "junior"))]
    d = _one({"agents": ["ana", "cy", "dan"], "method": "quality_match"}, cands,
             {"grade": grade})
    assert d.agent == winner


def test_quality_match_custom_tiers_and_bad_tier_is_refused() -> None:
    to = {"team": "t", "method": "quality_match", "tier_order": ["gold", "silver"],
          "tiers": {"A": ["gold"], "B": ["silver"]}}
    cands = [cand("g", teams=["t"], tier="gold"), cand("s", teams=["t"], tier="silver")]
    assert _one(to, cands, {"grade": "b"}).agent == "s"
    with pytest.raises(InvalidFlow) as err:
        flow({"name": "q", "to": {**to, "tiers": {"A": ["platinum"]}}})
    assert err.value.path == "rules[0].to.tiers.A[0]"


def test_specialist_assigns_owner_or_falls_through_when_owner_is_away() -> None:
    f = flow({"name": "Owner", "to": {"agent_field": "owner", "method": "specialist"}},
             {"name": "Rest", "to": {"agent": "ben"}})
    cands = [cand("ana"), cand("ben")]
    assert decide({"owner": "ana"}, f, cands, {}, NOW).agent == "ana"
    away = [cand("ana", status="away"), cand("ben")]
    d = decide({"owner": "ana"}, f, away, {}, NOW)
    assert d.agent == "ben" and d.rule == "Rest"


def test_specialist_needs_a_single_agent_pool() -> None:
    with pytest.raises(InvalidFlow) as err:
        flow({"name": "s", "to": {"team": "t", "method": "specialist"}})
    assert err.value.path == "rules[0].to"


def test_shotgun_offers_all_eligible_members() -> None:
    cands = [cand("ana", teams=["t"]), cand("ben", teams=["t"], status="away"),
             cand("cy", teams=["t"])]
    d = _one({"team": "t", "method": "shotgun", "accept_within": "2m"}, cands)
    assert (d.outcome, d.agents, d.agent) == ("offered", ("ana", "cy"), None)
    assert d.accept_within == timedelta(minutes=2)
    assert d.trace.summary.startswith("Offered to Ana, Cy:")


def test_pull_queues_even_when_nobody_is_eligible_now() -> None:
    d = _one({"team": "t", "method": "pull", "mode": "selective"},
             [cand("ana", teams=["t"], status="offline")])
    assert (d.outcome, d.queue, d.agents) == ("queued", "pull:f:r", ("ana",))
    assert d.target["mode"] == "selective"


@pytest.mark.parametrize("method", ["ping_tree", "ping_post"])
def test_ping_methods_hand_buyers_to_the_sale(method: str) -> None:
    to = {"method": method, "buyers": ["acme", {"key": "globex", "min_price": 5}]}
    d = _one(to, [])
    assert d.outcome == "sell" and d.method == method
    assert d.target["buyers"][1] == {"key": "globex", "min_price": 5}
    assert d.trace.rules[0].arithmetic == {"buyers": ["acme", "globex"]}


@pytest.mark.parametrize(("to", "path"), [
    ({"method": "ping_post", "buyers": []}, "rules[0].to.buyers"),
    ({"method": "ping_post", "buyers": ["a"], "timeout": "soon"}, "rules[0].to.timeout"),
    ({"method": "ping_tree", "buyers": [{"price": 1}]}, "rules[0].to.buyers[0]"),
    ({"method": "least_loaded", "team": "t", "by": "mood"}, "rules[0].to.by"),
    ({"method": "performance", "team": "t", "floor": 2}, "rules[0].to.floor"),
    ({"method": "shotgun", "team": "t", "limit": 0}, "rules[0].to.limit"),
    ({"method": "pull", "team": "t", "mode": "grab"}, "rules[0].to.mode"),
])
def test_bad_method_options_are_refused_with_path(to: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidFlow) as err:
        flow({"name": "r", "to": to})
    assert err.value.path == path
