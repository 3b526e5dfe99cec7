from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from routing_factories import NOW, cand, flow

from leadgate.domain.routing import decide

VALUES = st.one_of(st.sampled_from(["Mumbai", "mumbai ", "MUMBAI", "Delhi", "", "5", "yes"]),
                   st.integers(0, 6), st.booleans(), st.none(),
                   st.lists(st.sampled_from(["Mumbai", "x"]), max_size=2))
CONDS = st.sampled_from([
    {"field": "city", "eq": "Mumbai"},
    {"field": "city", "in": ["Delhi", "Pune"]},
    {"all": [{"field": "city", "eq": "delhi"}, {"field": "n", "gte": 2}]},
    {"any": [{"field": "city", "eq": "Mumbai"}, {"field": "n", "eq": 3}]},
    {"field": "city", "eq": "5"},
    {"field": "city", "eq": "yes"},
    {"field": "n", "eq": "Mumbai"},
    {"not": {"field": "city", "eq": "Mumbai"}},
])


@settings(max_examples=300, deadline=None)
@given(st.lists(CONDS, min_size=1, max_size=8), VALUES, VALUES)
def test_rule_index_finds_exactly_the_rules_that_match(conds: list[dict[str, Any]],
                                                       city: Any, n: Any) -> None:
    f = flow(*({"name": f"r{i}", "when": c, "to": {"agent": "ana"}}
               for i, c in enumerate(conds)))
    lead = {"city": city, "n": n}
    matching = [r.index for r in f.rules if r.when.evaluate(lead)]
    offered = [r.index for r in f.candidate_rules(lead)]
    assert set(matching) <= set(offered)
    d = decide(lead, f, [cand("ana")], {}, NOW)
    assert d.rule_index == (matching[0] if matching else None)


def test_trace_lists_every_rule_tried_with_a_short_reason_for_misses() -> None:
    f = flow({"name": "Delhi", "when": {"all": [{"field": "product", "eq": "health"},
                                                 {"field": "city", "eq": "Delhi"}]},
              "to": {"agent": "ana"}},
             {"name": "Big", "when": {"field": "size", "gte": 1000}, "to": {"agent": "ana"}},
             {"name": "Rest", "to": {"agent": "ana"}},
             {"name": "Never reached", "to": {"agent": "ana"}})
    d = decide({"city": "Mumbai", "product": "health", "size": 5}, f, [cand("ana")], {}, NOW)
    rules = d.trace.to_dict()["rules"]
    assert [(r["index"], r["matched"]) for r in rules] == [(0, False), (1, False), (2, True)]
    assert rules[0]["condition"] == {
        "all": [{"field": "city", "op": "eq", "expected": "Delhi", "actual": "Mumbai",
                 "matched": False}],
        "failed": [1], "partial": True, "matched": False}
    assert rules[1]["condition"]["actual"] == 5
    assert d.trace.summary.startswith("Went to Ana: rule 'Rest' matched")


def test_compact_trace_lists_missed_rules_as_index_ranges() -> None:
    f = flow({"name": "Never", "when": {"field": "city", "eq": "Delhi"}, "to": {"agent": "ana"}},
             {"name": "Rest", "to": {"agent": "ana"}})
    d = decide({"city": "Pune"}, f, [cand("ana")], {}, NOW)
    t = d.trace.to_dict(compact=True)
    assert t["missed"] == [[0, 0]]
    assert [(r["index"], r["name"], r["matched"]) for r in t["rules"]] == [(1, "Rest", True)]
    assert t["rules"][0]["eligible"] == ["ana"]



SHARED_RULES = (
    {"name": "city", "when": {"field": "city", "in": ["Delhi", "Pune"]}, "to": {"agent": "ana"}},
    {"name": "both", "when": {"all": [{"field": "city", "eq": "mumbai"},
                                      {"field": "tier", "eq": "gold"}]}, "to": {"agent": "ana"}},
    {"name": "tier", "when": {"field": "tier", "in": ["gold", "silver"]}, "to": {"agent": "ana"}},
    {"name": "n", "when": {"field": "n", "gte": 2}, "to": {"agent": "ana"}},
)
SHARED = flow(*SHARED_RULES)
TIERS = st.sampled_from(["gold", " Gold", "silver", "bronze", "", None, 3, True])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(VALUES, TIERS, VALUES), min_size=1, max_size=20))
def test_remembered_rule_lookups_stay_exact_across_leads(
        leads: list[tuple[Any, Any, Any]]) -> None:
    # one flow for every lead: what it remembered for earlier leads must fit later ones
    for city, tier, n in leads:
        lead = {"city": city, "tier": tier, "n": n}
        fresh = flow(*SHARED_RULES)  # remembers nothing yet
        offered = [r.index for r in SHARED.candidate_rules(lead)]
        assert offered == [r.index for r in fresh.candidate_rules(lead)]
        assert {r.index for r in SHARED.rules if r.when.evaluate(lead)} <= set(offered)
