from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from routing_factories import NOW, cand, flow, team

from leadgate.domain.agents import AgentLoad, Candidate
from leadgate.domain.routing import decide

RR = flow({"name": "all", "to": {"team": "t", "method": "round_robin"}})


def _run(cands: list[Candidate], state: dict[str, Any], n: int) -> tuple[list[str], Any]:
    got = []
    for _ in range(n):
        d = decide({}, RR, cands, state, NOW)
        assert d.agent is not None
        got.append(d.agent)
        state = dict(d.state)
    return got, state


def test_round_robin_rotates_in_key_order_and_wraps() -> None:
    got, state = _run(team("cy", "ana", "ben"), {}, 5)
    assert got == ["ana", "ben", "cy", "ana", "ben"]
    assert state == {"round_robin|team=t": {"last": "ben"}}


def test_round_robin_skips_away_agent() -> None:
    cands = [cand("ana", teams=["t"]), cand("ben", teams=["t"], status="away"),
             cand("cy", teams=["t"])]
    got, _ = _run(cands, {}, 4)
    assert got == ["ana", "cy", "ana", "cy"]


def test_round_robin_skips_agent_at_open_capacity() -> None:
    cands = [cand("ana", teams=["t"], capacity={"open": 2}, load=AgentLoad(open_leads=2)),
             cand("ben", teams=["t"])]
    got, _ = _run(cands, {}, 2)
    assert got == ["ben", "ben"]


def test_round_robin_state_is_last_key_so_removed_member_keeps_rotation() -> None:
    state = {"round_robin|team=t": {"last": "ben"}}  # ben has left the team since
    got, _ = _run(team("ana", "cy", "dan"), state, 3)
    assert got == ["cy", "dan", "ana"]


def test_round_robin_returning_agent_resumes_in_turn_without_burst() -> None:
    cands = team("ana", "ben", "cy")
    away = [cands[0], Candidate(replace(cands[1].agent, status="away")), cands[2]]
    got, state = _run(away, {}, 4)
    assert got == ["ana", "cy", "ana", "cy"]
    got, _ = _run(cands, state, 6)
    assert got == ["ana", "ben", "cy", "ana", "ben", "cy"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=5, max_size=5), min_size=1, max_size=60),
       st.integers(0, 4))
def test_round_robin_never_assigns_ineligible_and_steady_agents_stay_within_one(
        availability: list[list[bool]], start: int) -> None:
    keys = ["a", "b", "c", "d", "e"]
    steady = {"c", "e"}  # always available
    state: dict[str, Any] = {"round_robin|team=t": {"last": keys[start]}}
    counts: Counter[str] = Counter()
    for avail in availability:
        cands = [cand(k, teams=["t"], status="available" if (ok or k in steady) else "away")
                 for k, ok in zip(keys, avail, strict=True)]
        d = decide({}, RR, cands, state, NOW)
        assert d.agent is not None
        assert avail[keys.index(d.agent)] or d.agent in steady
        counts[d.agent] += 1
        state = dict(d.state)
    assert abs(counts["c"] - counts["e"]) <= 1


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 7), st.integers(1, 30), st.integers(1, 40))
def test_round_robin_no_catch_up_burst_after_absence(n: int, k: int, window: int) -> None:
    keys = [f"a{i}" for i in range(n)]
    state: dict[str, Any] = {}
    away = [cand(x, teams=["t"], status="away" if x == "a0" else "available") for x in keys]
    _, state = _run(away, state, k)
    got, _ = _run(team(*keys), state, window)
    share = window / n
    assert got.count("a0") <= share + 1
