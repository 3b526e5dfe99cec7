from __future__ import annotations

import json
from datetime import timedelta

import pytest
from routing_factories import NOW, cand, flow

from leadgate.domain.errors import RoutingError
from leadgate.domain.routing import decide, decide_fallback

MUMBAI = {"all": [{"field": "city", "eq": "Mumbai"}, {"field": "product", "eq": "health"}]}
LEAD = {"city": "Mumbai", "product": "health"}


def _team() -> list:
    return [cand("arjun", name="Arjun", teams=["mumbai"], status="away"),
            cand("priya", name="Priya", teams=["mumbai"]),
            cand("zoe", name="Zoe", teams=["delhi"])]


def test_first_matching_rule_that_places_wins_and_summary_explains() -> None:
    f = flow({"name": "Delhi", "when": {"field": "city", "eq": "Delhi"},
              "to": {"team": "delhi"}},
             {"name": "Mumbai health", "when": MUMBAI,
              "to": {"team": "mumbai", "method": "round_robin", "accept_within": "5m"}},
             key="insurance")
    d = decide(LEAD, f, _team(), {}, NOW)
    assert (d.outcome, d.agent, d.rule, d.rule_index, d.method) == (
        "assigned", "priya", "Mumbai health", 1, "round_robin")
    assert d.accept_within == timedelta(minutes=5)
    assert d.trace.summary == ("Went to Priya: rule 'Mumbai health' matched; Arjun was away; "
                               "Priya was next in rotation.")
    t = d.trace.to_dict()
    json.dumps(t)
    assert t["flow"] == "insurance" and t["outcome"] == "assigned"
    assert [r["matched"] for r in t["rules"]] == [False, True]
    assert t["rules"][0]["condition"]["actual"] == "Mumbai"
    members = t["rules"][1]["members"]
    assert members[0] == {"agent": "arjun", "name": "Arjun", "eligible": False,
                          "reasons": ["away"], "text": "Arjun was away"}
    assert members[1]["eligible"] is True
    assert t["rules"][1]["arithmetic"] == {"last": None, "next": "priya", "ring_size": 2,
                                           "skipped": ["arjun"]}
    json.dumps(d.to_dict())


def test_matching_rule_with_nobody_eligible_falls_through_to_next_rule() -> None:
    f = flow({"name": "Mumbai", "to": {"agent": "arjun"}},
             {"name": "Anyone", "to": {"agents": ["zoe"]}})
    d = decide(LEAD, f, _team(), {}, NOW)
    assert d.agent == "zoe" and d.rule == "Anyone"
    assert d.trace.rules[0].note == "nobody in the pool was eligible"


def test_no_rule_places_and_fallback_queue_queues() -> None:
    f = flow({"name": "Delhi", "when": {"field": "city", "eq": "Delhi"},
              "to": {"team": "delhi"}}, fallback={"queue": "unassigned"})
    d = decide(LEAD, f, _team(), {"keep": {"x": 1}}, NOW)
    assert (d.outcome, d.queue, d.agent) == ("queued", "unassigned", None)
    assert d.state == {"keep": {"x": 1}}
    assert d.trace.summary == (
        "Queued in unassigned: no rule placed the lead (1 rule did not match).")


def test_no_rule_places_and_no_fallback_is_unassigned() -> None:
    d = decide(LEAD, flow({"name": "x", "when": {"field": "a", "exists": True},
                           "to": {"team": "mumbai"}}), _team(), {}, NOW)
    assert d.outcome == "unassigned"
    assert "no fallback" in d.trace.summary


def test_fallback_pool_assigns_when_rules_do_not() -> None:
    d = decide(LEAD, flow(fallback={"team": "delhi", "queue": "q"}), _team(), {}, NOW)
    assert d.outcome == "assigned" and d.agent == "zoe" and d.rule is None
    assert "fallback" in d.trace.summary


def test_when_nobody_fallback_skips_remaining_rules() -> None:
    f = flow({"name": "A", "to": {"agent": "arjun"}, "when_nobody": "fallback"},
             {"name": "B", "to": {"agent": "priya"}}, fallback={"queue": "mgr"})
    d = decide(LEAD, f, _team(), {}, NOW)
    assert d.queue == "mgr" and len(d.trace.rules) == 1


SELL = {"name": "Sell", "to": {"method": "ping_tree", "buyers": ["acme"]}}
UNSOLD = "unsold: no buyer took the lead"


def test_decide_fallback_skips_the_rules_and_places_with_the_fallback_pool() -> None:
    f = flow(SELL, fallback={"team": "mumbai", "queue": "unsold"}, key="market")
    assert decide(LEAD, f, _team(), {}, NOW).outcome == "sell"  # the rules sell it
    d = decide_fallback(LEAD, f, _team(), {}, NOW, why=UNSOLD)
    assert (d.outcome, d.agent, d.rule, d.method) == ("assigned", "priya", None, "round_robin")
    assert d.trace.summary == ("Went to Priya: unsold: no buyer took the lead; the fallback "
                               "applied; Arjun was away; Priya was next in rotation.")
    t = d.trace.to_dict()
    assert t["rules"] == [] and t["fallback"]["matched"] is True
    assert d.state == {"round_robin|team=mumbai": {"last": "priya"}}
    json.dumps(d.to_dict())


def test_decide_fallback_queues_when_the_fallback_pool_cannot_place() -> None:
    f = flow(SELL, fallback={"agent": "arjun", "queue": "unsold"})  # arjun is away
    d = decide_fallback(LEAD, f, _team(), {"keep": 1}, NOW, why=UNSOLD)
    assert (d.outcome, d.queue, d.state) == ("queued", "unsold", {"keep": 1})
    assert d.trace.summary.startswith("Queued in unsold: unsold: no buyer took the lead; "
                                      "the fallback ")
    assert "could not place it" in d.trace.summary


def test_decide_fallback_never_puts_the_lead_on_sale_again() -> None:
    f = flow(SELL, fallback={"method": "ping_tree", "buyers": ["acme"], "queue": "unsold"})
    d = decide_fallback(LEAD, f, _team(), {}, NOW, why=UNSOLD)
    assert (d.outcome, d.queue) == ("queued", "unsold")
    assert "a lead is not put on sale again" in d.trace.summary
    no_queue = flow(SELL, fallback={"method": "ping_tree", "buyers": ["acme"]})
    assert decide_fallback(LEAD, no_queue, _team(), {}, NOW, why=UNSOLD).outcome == "unassigned"


def test_decide_fallback_without_fallback_is_unassigned_and_refuses_naive_now() -> None:
    d = decide_fallback(LEAD, flow(SELL), _team(), {}, NOW, why=UNSOLD)
    assert d.outcome == "unassigned"
    assert d.trace.summary == ("Unassigned: unsold: no buyer took the lead and the flow "
                               "has no fallback.")
    with pytest.raises(RoutingError):
        decide_fallback(LEAD, flow(SELL), _team(), {}, NOW.replace(tzinfo=None), why=UNSOLD)


def test_decide_does_not_mutate_state_and_returns_full_state() -> None:
    state = {"other|pool": {"last": "x"}}
    f = flow({"name": "A", "to": {"team": "mumbai"}})
    d = decide(LEAD, f, _team(), state, NOW)
    assert state == {"other|pool": {"last": "x"}}
    assert d.state == {"other|pool": {"last": "x"}, "round_robin|team=mumbai": {"last": "priya"}}


def test_decide_refuses_naive_now() -> None:
    with pytest.raises(RoutingError):
        decide(LEAD, flow(), _team(), {}, NOW.replace(tzinfo=None))


def test_agent_field_pool_routes_to_owner() -> None:
    f = flow({"name": "Owner", "to": {"agent_field": "owner"}})
    assert decide({"owner": "zoe"}, f, _team(), {}, NOW).agent == "zoe"
    assert decide({"owner": "ZOE"}, f, _team(), {}, NOW).agent == "zoe"
    assert decide({}, f, _team(), {}, NOW).outcome == "unassigned"


def test_selector_pool_filters_by_language_and_territory_of_lead() -> None:
    cands = [cand("ana", languages=["pt"], territories=["BR"]),
             cand("ben", languages=["pt"], territories=["PT"]),
             cand("cy", languages=["es"], territories=["BR"])]
    f = flow({"name": "BR", "to": {"agents": {"languages": "pt", "territories": "lead"}}})
    d = decide({"country": "BR"}, f, cands, {}, NOW)
    assert d.agent == "ana"
    assert [m.agent for m in d.trace.rules[0].members] == ["ana"]
