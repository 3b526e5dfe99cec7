from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from leadgate.domain.errors import InvalidCondition, InvalidFlow
from leadgate.domain.routing import parse_duration, parse_flow

FLOW: dict[str, Any] = {
    "key": "insurance",
    "rules": [
        {"name": "Mumbai health",
         "when": {"all": [{"field": "city", "eq": "Mumbai"}, {"field": "product", "eq": "health"}]},
         "to": {"team": "mumbai", "method": "round_robin", "accept_within": "5m"}},
        {"name": "Brazil in Portuguese", "when": {"field": "country", "eq": "BR"},
         "to": {"agents": {"languages": "pt", "territories": "lead"}, "method": "round_robin"},
         "when_nobody": "hold"},
        {"name": "Enterprise", "when": {"field": "company_size", "gte": 1000},
         "to": {"agents": ["ana", "ben", "cy"]}, "when_nobody": "fallback"},
        {"name": "Owner", "to": {"agent_field": "owner"}},
    ],
    "fallback": {"queue": "unassigned"},
}
KNOWN: dict[str, Any] = {"agents": {"ana", "ben", "cy"}, "teams": {"mumbai"},
                         "fields": {"city", "product", "company_size", "owner"}}


def test_example_flow_parses_with_paths_and_names() -> None:
    f = parse_flow(FLOW, **KNOWN)
    assert f.key == "insurance"
    assert [r.name for r in f.rules] == ["Mumbai health", "Brazil in Portuguese", "Enterprise",
                                         "Owner"]
    assert f.rules[0].target.accept_within == timedelta(minutes=5)
    assert f.rules[1].when_nobody == "hold"
    assert f.fallback is not None and f.fallback.queue == "unassigned"


def test_flow_to_dict_round_trips() -> None:
    f = parse_flow(FLOW, **KNOWN)
    again = parse_flow(f.to_dict(), **KNOWN)
    assert again == f
    assert again.to_dict() == f.to_dict()


def test_pool_id_ignores_rule_name_position_and_list_order() -> None:
    a = parse_flow({"rules": [{"name": "x", "to": {"agents": ["b", "a"]}}]})
    b = parse_flow({"rules": [{"name": "y", "to": {"team": "t"}},
                              {"name": "z", "to": {"agents": ["a", "b"]}}]})
    assert a.rules[0].target.pool_id == b.rules[1].target.pool_id == "round_robin|agents=a,b"


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    import copy
    data = copy.deepcopy(FLOW)
    node: Any = data
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(("path", "value", "err_path", "words"), [
    (["rules", 0, "to", "team"], "delhi", "rules[0].to.team", "unknown team 'delhi'"),
    (["rules", 2, "to", "agents"], ["ana", "zed"], "rules[2].to.agents[1]", "unknown agent"),
    (["rules", 0, "to", "method"], "lottery", "rules[0].to.method", "unknown method"),
    (["rules", 0, "to", "accept_within"], "5 minutes", "rules[0].to.accept_within",
     "bad duration"),
    (["rules", 0, "to", "accept_within"], "0s", "rules[0].to.accept_within", "positive"),
    (["rules", 0, "to", "colour"], "red", "rules[0].to.colour", "unknown key 'colour'"),
    (["rules", 1, "when_nobody"], "wait", "rules[1].when_nobody", "when_nobody"),
    (["rules", 1, "name"], "Mumbai health", "rules[1].name", "repeats"),
    (["rules", 3, "to"], {"method": "round_robin"}, "rules[3].to", "needs a pool"),
    (["rules", 3, "to"], {"team": "mumbai", "agent": "ana"}, "rules[3].to", "one pool"),
    (["rules", 3, "to"], {"agent_field": "boss"}, "rules[3].to.agent_field",
     "unknown field 'boss'"),
    (["rules", 3, "to"], {"agents": {"teams": "nope"}}, "rules[3].to.agents.teams",
     "unknown team"),
    (["rules", 3, "to"], {"agents": []}, "rules[3].to.agents", "at least one"),
    (["rules", 3, "priority"], 1, "rules[3].priority", "unknown key"),
    (["fallback"], {"team": "x"}, "fallback.team", "unknown team"),
    (["fallback"], {}, "fallback", "needs a queue"),
    (["rules"], "nope", "rules", "must be a list"),
])
def test_bad_flow_is_refused_with_path(path: list[Any], value: Any, err_path: str,
                                       words: str) -> None:
    with pytest.raises(InvalidFlow) as err:
        parse_flow(_broken(path, value), **KNOWN)
    assert err.value.path == err_path
    assert words in err.value.reason
    assert err.value.message.startswith(err_path + ": ")


def test_bad_condition_in_flow_names_rule_path() -> None:
    data = _broken(["rules", 2, "when"], {"all": [{"field": "company_size", "gte": "x"},
                                                   {"field": "city", "in": "Mumbai"}]})
    with pytest.raises(InvalidCondition) as err:
        parse_flow(data, **KNOWN)
    assert err.value.path == "rules[2].when.all[1].in"


def test_unknown_lead_field_is_refused_but_derived_facts_are_allowed() -> None:
    ok = _broken(["rules", 0, "when"], {"field": "local_hour", "between": [9, 17]})
    parse_flow(ok, **KNOWN)
    bad = _broken(["rules", 0, "when"], {"field": "citty", "eq": "x"})
    with pytest.raises(InvalidCondition) as err:
        parse_flow(bad, **KNOWN)
    assert err.value.path == "rules[0].when.field"


def test_flow_key_argument_must_agree_with_data() -> None:
    assert parse_flow({"rules": []}, key="k").key == "k"
    with pytest.raises(InvalidFlow) as err:
        parse_flow(FLOW, key="other")
    assert err.value.path == "key"


@pytest.mark.parametrize(("text", "seconds"), [("750ms", 0.75), ("90s", 90), ("5m", 300),
                                               ("2h", 7200), ("1d", 86400), (30, 30)])
def test_durations_parse(text: Any, seconds: float) -> None:
    assert parse_duration(text, path="x").total_seconds() == seconds
