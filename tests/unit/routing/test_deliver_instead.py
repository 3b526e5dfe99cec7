"""A rule that delivers to destinations instead of assigning a rep (method ``deliver``)."""

from __future__ import annotations

from typing import Any

import pytest
from routing_factories import NOW, team

from leadgate.domain.errors import InvalidFlow
from leadgate.domain.routing import decide, parse_flow, vocabulary

CRM_ONLY = {"name": "to the CRM", "when": {"field": "product", "eq": "life"},
            "deliver": ["crm"]}
PEOPLE = {"name": "people", "to": {"agents": ["ana", "ben"], "method": "round_robin"}}


def _flow(*rules: dict[str, Any], fallback: dict[str, Any] | None = None) -> Any:
    data: dict[str, Any] = {"key": "f", "rules": list(rules)}
    if fallback is not None:
        data["fallback"] = fallback
    return parse_flow(data)


def test_a_rule_with_deliver_and_no_target_sends_the_lead_to_its_destinations() -> None:
    flow = _flow(CRM_ONLY, PEOPLE)
    d = decide({"product": "life"}, flow, team("ana", "ben"), {}, NOW)
    assert (d.outcome, d.agent, d.rule, d.method) == ("delivering", None, "to the CRM",
                                                      "deliver")
    assert d.trace.summary.startswith("Sent to destinations: rule 'to the CRM' matched")
    assert "crm" in d.trace.summary
    assert d.state == {}  # no rotation moved
    other = decide({"product": "health"}, flow, team("ana", "ben"), {}, NOW)
    assert (other.outcome, other.agent) == ("assigned", "ana")


def test_no_destination_condition_holds_so_the_next_rule_places_it() -> None:
    rule = {"name": "vip only", "deliver": [{"destination": "vip", "when":
                                             {"field": "grade", "eq": "A"}}]}
    flow = _flow(rule, PEOPLE)
    d = decide({"grade": "B"}, flow, team("ana", "ben"), {}, NOW)
    assert (d.outcome, d.agent, d.rule) == ("assigned", "ana", "people")
    compact = d.trace.to_dict(compact=True)
    assert any(r["name"] == "vip only" and not r["placed"] and "no destination" in r["note"]
               for r in compact["rules"])
    vip = decide({"grade": "A"}, flow, team("ana", "ben"), {}, NOW)
    assert (vip.outcome, vip.rule) == ("delivering", "vip only")


def test_deliver_alongside_a_rep_still_assigns() -> None:
    flow = _flow({**PEOPLE, "deliver": ["crm"]})
    d = decide({}, flow, team("ana", "ben"), {}, NOW)
    assert (d.outcome, d.agent) == ("assigned", "ana")


def test_the_fallback_can_deliver_instead_of_queueing() -> None:
    flow = _flow(PEOPLE, fallback={"method": "deliver", "deliver": ["crm"]})
    d = decide({}, flow, [], {}, NOW)
    assert (d.outcome, d.rule) == ("delivering", None)


def test_round_trip_keeps_the_short_form() -> None:
    flow = _flow(CRM_ONLY, {**PEOPLE, "deliver": ["crm"]})
    again = parse_flow(flow.to_dict())
    assert "to" not in again.to_dict()["rules"][0]
    assert again.to_dict() == flow.to_dict()
    explicit = _flow({"name": "x", "to": {"method": "deliver"}, "deliver": ["crm"]})
    assert explicit.rules[0].target.method == "deliver"


@pytest.mark.parametrize(("rule", "path", "text"), [
    ({"name": "x"}, "rules[0].to", "needs a target (to) or destinations (deliver)"),
    ({"name": "x", "to": {"method": "deliver"}}, "rules[0].deliver",
     "method deliver needs the rule's deliver"),
])
def test_bad_deliver_rules_are_refused_with_a_path(rule: dict[str, Any], path: str,
                                                    text: str) -> None:
    with pytest.raises(InvalidFlow) as e:
        _flow(rule)
    assert e.value.path == path and text in str(e.value)


def test_a_fallback_deliver_method_needs_destinations() -> None:
    with pytest.raises(InvalidFlow) as e:
        _flow(PEOPLE, fallback={"method": "deliver"})
    assert e.value.path == "fallback.deliver"


def test_the_vocabulary_lists_the_method_and_outcome() -> None:
    v = vocabulary()
    assert v["methods"]["deliver"]["outcome"] == "delivering"
    assert v["methods"]["deliver"]["needs_pool"] is False
    assert "delivering" in v["outcomes"]
