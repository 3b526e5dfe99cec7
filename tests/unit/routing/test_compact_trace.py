"""The compact trace (what the service stores with every routed lead).

It must still say which rule placed the lead, which rules did not match, who decide()
checked and why they were or were not eligible - built only from what decide() examined.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from routing_factories import NOW, cand, flow

from leadgate.domain.agents import AgentLoad, Candidate
from leadgate.domain.decision import MemberTrace, RuleTrace, Trace, missed_ranges
from leadgate.domain.routing import Roster, decide

MUMBAI = {"all": [{"field": "city", "eq": "Mumbai"}, {"field": "product", "eq": "health"}]}
LEAD = {"city": "Mumbai", "product": "health"}


def _team() -> list[Candidate]:
    return [cand("arjun", name="Arjun", teams=["mumbai"], status="away"),
            cand("priya", name="Priya", teams=["mumbai"]),
            cand("ravi", name="Ravi", teams=["mumbai"]),
            cand("zoe", name="Zoe", teams=["delhi"])]


def _json_native(value: Any) -> bool:
    """True when JSON gives back exactly this value (no tuples, datetimes, ...)."""
    return bool(json.loads(json.dumps(value)) == value)


def test_compact_trace_names_the_placing_rule_and_who_was_eligible_and_why_not() -> None:
    f = flow({"name": "Delhi", "when": {"field": "city", "eq": "Delhi"}, "to": {"team": "delhi"}},
             {"name": "Mumbai health", "when": MUMBAI, "to": {"team": "mumbai"}},
             {"name": "Never reached", "to": {"team": "delhi"}}, key="insurance")
    d = decide(LEAD, f, _team(), {}, NOW)
    t = d.trace.to_dict(compact=True)
    assert (t["flow"], t["outcome"], t["summary"]) == ("insurance", "assigned", d.summary)
    assert t["now"] == NOW.isoformat() and t["fallback"] is None
    assert t["missed"] == [[0, 0]]
    [rule] = t["rules"]
    assert (rule["index"], rule["name"], rule["matched"], rule["placed"]) == (
        1, "Mumbai health", True, True)
    assert rule["facts"] == {"city": "Mumbai", "product": "health"}
    assert (rule["method"], rule["pool"], rule["pool_size"]) == (
        "round_robin", {"team": "mumbai"}, 3)
    # round robin walked past Arjun (away) to Priya and stopped: Ravi was not checked
    assert rule["eligible"] == ["priya"]
    assert rule["ineligible"] == [{"agent": "arjun", "name": "Arjun", "reasons": ["away"],
                                   "text": "Arjun was away"}]
    assert rule["arithmetic"] == {"last": None, "next": "priya", "ring_size": 3,
                                  "skipped": ["arjun"]}


def test_compact_trace_keeps_matched_rules_that_could_not_place_and_ranges_of_misses() -> None:
    f = flow(*({"name": f"miss {i}", "when": {"field": "city", "eq": f"C{i}"},
                "to": {"team": "mumbai"}} for i in range(3)),
             {"name": "Arjun only", "when": MUMBAI, "to": {"agent": "arjun"}},
             *({"name": f"miss {i}", "when": {"field": "city", "eq": f"C{i}"},
                "to": {"team": "mumbai"}} for i in range(4, 9)),
             {"name": "Team", "when": MUMBAI, "to": {"team": "mumbai"}})
    d = decide(LEAD, f, _team(), {}, NOW)
    t = d.trace.to_dict(compact=True)
    assert t["missed"] == [[0, 2], [4, 8]]
    assert [(r["index"], r["placed"], r["note"]) for r in t["rules"]] == [
        (3, False, "nobody in the pool was eligible"), (9, True, "")]
    assert t["rules"][0]["ineligible"][0]["reasons"] == ["away"]
    # the full form still lists every rule tried, with the failing part of each miss
    full = d.trace.to_dict()
    assert [r["index"] for r in full["rules"]] == list(range(10))
    assert full["rules"][0]["condition"]["actual"] == "Mumbai"


def test_compact_members_are_what_decide_checked_even_after_the_full_trace_was_read() -> None:
    f = flow({"name": "Team", "to": {"team": "mumbai"}})
    first = decide(LEAD, f, _team(), {}, NOW)
    second = decide(LEAD, f, _team(), {}, NOW)
    assert [m.agent for m in first.trace.rules[0].members] == ["arjun", "priya", "ravi"]
    assert first.trace.to_dict(compact=True) == second.trace.to_dict(compact=True)
    assert first.trace.to_dict(compact=True)["rules"][0]["eligible"] == ["priya"]


def test_compact_trace_of_a_method_that_checks_everyone_lists_everyone() -> None:
    cands = [cand("ana", load=AgentLoad(open_leads=3)), cand("ben", status="offline"),
             cand("cy", load=AgentLoad(open_leads=1))]
    d = decide({}, flow({"name": "LL", "to": {"agents": ["ana", "ben", "cy"],
                                              "method": "least_loaded"}}), cands, {}, NOW)
    rule = d.trace.to_dict(compact=True)["rules"][0]
    assert d.agent == "cy"
    assert rule["eligible"] == ["ana", "cy"]
    assert [(m["agent"], m["reasons"]) for m in rule["ineligible"]] == [("ben", ["offline"])]


def test_held_lead_compact_trace_says_why_each_member_was_blocked() -> None:
    cands = [cand("priya", teams=["mumbai"], timezone="Asia/Kolkata", holidays="IN"),
             cand("ravi", teams=["mumbai"], capacity={"open": 2},
                  load=AgentLoad(open_leads=2))]
    f = flow({"name": "Mumbai", "to": {"team": "mumbai"}, "when_nobody": "hold"})
    d = decide({}, f, cands, {}, datetime(2026, 1, 26, 5, 0, tzinfo=UTC))  # Republic Day
    t = d.trace.to_dict(compact=True)
    assert d.outcome == "queued" and t["outcome"] == "queued"
    rule = t["rules"][0]
    assert rule["eligible"] == [] and rule["placed"] is False
    assert [(m["agent"], m["reasons"]) for m in rule["ineligible"]] == [
        ("priya", ["holiday"]), ("ravi", ["at_capacity"])]
    assert "holiday" in rule["ineligible"][0]["text"]


@pytest.mark.parametrize(("fallback", "outcome"), [
    ({"team": "delhi"}, "assigned"),
    ({"queue": "later"}, "queued"),
    ({"team": "nobody", "queue": "later"}, "queued"),
    (None, "unassigned"),
])
def test_compact_trace_of_fallbacks(fallback: dict[str, Any] | None, outcome: str) -> None:
    f = flow({"name": "Delhi", "when": {"field": "city", "eq": "Delhi"}, "to": {"team": "delhi"}},
             fallback=fallback)
    d = decide(LEAD, f, _team(), {}, NOW)
    t = d.trace.to_dict(compact=True)
    assert d.outcome == outcome
    assert t["rules"] == [] and t["missed"] == [[0, 0]]
    if fallback is None:
        assert t["fallback"] is None
    elif "team" in fallback:
        assert t["fallback"]["name"] == "fallback" and t["fallback"]["facts"] == {}
        assert t["fallback"]["placed"] is (outcome == "assigned")
    else:
        assert t["fallback"] == {"queue": "later"}
    assert _json_native(t)


@pytest.mark.parametrize("to", [
    {"team": "t"},
    {"team": "t", "method": "least_loaded", "by": "today"},
    {"agents": ["a", "b", "c"], "method": "weighted", "weights": [3, 1, 1]},
    {"team": "t", "method": "performance"},
    {"team": "t", "method": "quality_match"},
    {"agent_field": "owner", "method": "specialist"},
    {"team": "t", "method": "shotgun", "limit": 2},
    {"team": "t", "method": "pull"},
    {"method": "ping_post", "buyers": ["acme", {"key": "globex", "min_price": 5}]},
])
def test_both_trace_forms_are_plain_json_for_every_method(to: dict[str, Any]) -> None:
    cands = [cand("a", teams=["t"], tier="senior",
                  load=AgentLoad(won=1, closed=2, last_assigned_at=NOW)),
             cand("b", teams=["t"], tier="mid", status="away"),
             cand("c", teams=["t"], tier="junior", load=AgentLoad(assigned={"day": 2}))]
    lead = {"owner": "c", "grade": "B", "signed_up": date(2026, 1, 2), "tags": ("x", "y")}
    f = flow({"name": "r", "when": {"all": [{"field": "signed_up", "exists": True},
                                            {"field": "tags", "contains": "x"}]}, "to": to})
    d = decide(lead, f, Roster(cands), {}, NOW)
    assert d.outcome != "unassigned"
    compact = d.trace.to_dict(compact=True)
    assert _json_native(compact)
    assert _json_native(d.trace.to_dict())
    assert compact["rules"][0]["facts"] == {"signed_up": "2026-01-02", "tags": ["x", "y"]}


def test_compact_form_of_a_trace_built_by_hand_keeps_matched_rules_in_full() -> None:
    placed = RuleTrace(1, "B", True, {"matched": True}, "round_robin", {"team": "t"},
                       "round_robin|team=t", (MemberTrace("ana", "Ana", True),),
                       {"next": "ana"}, True)
    trace = Trace("f", (RuleTrace(0, "A", False), placed), {"queue": "q"}, "assigned", "s",
                  NOW)
    t = trace.to_dict(compact=True)
    assert t["missed"] == [[0, 0]] and t["fallback"] == {"queue": "q"}
    assert t["rules"] == [{**placed.to_dict(), "pool_size": 1}]
    assert trace.to_dict()["rules"][0] == RuleTrace(0, "A", False).to_dict()


def test_missed_ranges_joins_consecutive_indexes() -> None:
    assert missed_ranges([]) == []
    assert missed_ranges([5, 0, 1, 2, 7, 8]) == [[0, 2], [5, 5], [7, 8]]


def test_hand_written_inits_keep_dataclass_defaults_equality_and_immutability() -> None:
    from dataclasses import FrozenInstanceError

    from leadgate.domain.decision import Decision
    from leadgate.domain.routing import Pick

    d = Decision("unassigned")
    assert (d.target, d.state, d.agents, d.trace) == ({}, {}, (), Trace(flow=None))
    assert Pick("assigned", agent="a") == Pick("assigned", "a", (), None, None, {}, "")
    assert RuleTrace(0, "r", False) == RuleTrace(0, "r", False, {}, None, {}, None, (), {})
    with pytest.raises(FrozenInstanceError):
        d.outcome = "assigned"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        Pick(None).why = "x"  # type: ignore[misc]
