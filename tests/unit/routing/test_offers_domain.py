"""The pure offer rules: who is next after an offer ends, escalation, and the flow's
``escalate`` key (table-driven)."""

from __future__ import annotations

from typing import Any

import pytest
from routing_factories import NOW, cand

from leadgate.domain.agents import AgentLoad
from leadgate.domain.errors import InvalidFlow
from leadgate.domain.offers import Escalation, bounce, next_in_pool, parse_escalation
from leadgate.domain.routing import parse_flow

POOL = [cand("a1"), cand("a2"), cand("a3", status="away"), cand("a4")]
FULL = cand("a2", capacity={"open": 1}, load=AgentLoad(open_leads=1))


@pytest.mark.parametrize(("current", "excluded", "members", "expected", "skipped"), [
    ("a1", {"a1"}, POOL, "a2", []),
    ("a2", {"a1", "a2"}, POOL, "a4", ["a3"]),           # away is skipped with its reason
    ("a4", {"a4"}, POOL, "a1", []),
    ("a4", {"a1", "a4"}, POOL, "a2", []),                 # wraps around, never back to a1
    ("a1", {"a1", "a2", "a4"}, POOL, None, ["a3"]),       # exhausted
    ("a1", {"a1"}, [cand("a1"), FULL, cand("a3")], "a3", ["a2"]),  # at capacity
    (None, set(), POOL, "a1", []),                        # a first offer
])
def test_next_in_pool(current: str | None, excluded: set[str], members: list[Any],
                      expected: str | None, skipped: list[str]) -> None:
    agent, passed = next_in_pool(current, members, excluded, NOW)
    assert agent == expected
    assert [k for k, _ in passed] == skipped


def test_skipped_members_carry_their_reason_codes() -> None:
    _, passed = next_in_pool("a2", POOL, {"a1", "a2"}, NOW)
    assert passed == (("a3", ("away",)),)


@pytest.mark.parametrize(("escalation", "expected"), [
    (None, ("queue", None, "fallback-q")),
    (Escalation(), ("queue", None, "fallback-q")),
    (Escalation("agent", agent="boss"), ("assign", "boss", None)),
    (Escalation("queue", queue="managers"), ("queue", None, "managers")),
    (Escalation("pool", pool={"team": "seniors"}), ("offer", "s1", None)),
])
def test_an_exhausted_pool_escalates(escalation: Escalation | None,
                                     expected: tuple[str, str | None, str | None]) -> None:
    b = bounce("a4", POOL, {"a1", "a2", "a4"}, escalation, "fallback-q", NOW,
               escalation_members=[cand("s1"), cand("s2")])
    assert (b.action, b.agent, b.queue) == expected
    assert b.escalated


def test_a_pool_escalation_with_nobody_eligible_falls_back() -> None:
    b = bounce(None, [], {"a1"}, Escalation("pool", pool={"agents": ["a1", "s1"]}), "q", NOW,
               escalation_members=[cand("a1"), cand("s1", status="offline")])
    assert (b.action, b.queue, b.skipped) == ("queue", "q", (("s1", ("offline",)),))


def test_while_someone_in_the_pool_is_eligible_there_is_no_escalation() -> None:
    b = bounce("a1", POOL, {"a1"}, Escalation("agent", agent="boss"), "q", NOW)
    assert (b.action, b.agent, b.escalated) == ("offer", "a2", False)


@pytest.mark.parametrize("data", [
    "next_rep", {"to": "next_rep"}, {"agent": "boss"}, {"queue": "managers"},
    {"pool": {"team": "t"}}, {"pool": {"agents": ["a1", "boss"]}}, {"pool": {"agent": "a1"}},
])
def test_escalations_round_trip(data: Any) -> None:
    esc = parse_escalation(data, "escalate")
    assert parse_escalation(esc.to_dict(), "escalate") == esc
    assert Escalation.from_dict(esc.to_dict()) == esc


@pytest.mark.parametrize(("data", "path", "words"), [
    ({"to": "manager"}, "rules[0].escalate.to", "next_rep"),
    ({"queue": ""}, "rules[0].escalate.queue", "non-empty"),
    ({"agent": "ghost"}, "rules[0].escalate.agent", "unknown agent"),
    ({"pool": {"team": "nope"}}, "rules[0].escalate.pool.team", "unknown team"),
    ({"pool": {"city": "x"}}, "rules[0].escalate.pool", "pool is one of"),
    ({"agent": "boss", "queue": "q"}, "rules[0].escalate", "one of"),
    ({"manager": "boss"}, "rules[0].escalate.manager", "unknown escalation"),
])
def test_bad_escalations_are_refused_with_a_path(data: Any, path: str, words: str) -> None:
    flow = {"key": "f", "rules": [{"to": {"team": "t", "accept_within": "5m"},
                                   "escalate": data}]}
    with pytest.raises(InvalidFlow) as exc:
        parse_flow(flow, agents={"a1", "boss"}, teams={"t"})
    assert exc.value.path == path
    assert words in exc.value.reason


def test_escalate_needs_a_deadline_and_round_trips_in_the_flow() -> None:
    with pytest.raises(InvalidFlow) as exc:
        parse_flow({"rules": [{"to": {"team": "t"}, "escalate": {"queue": "q"}}]})
    assert exc.value.path == "rules[0].escalate"
    f = parse_flow({"key": "f", "rules": [{"name": "r", "to": {"team": "t",
                                                                "accept_within": "5m"},
                                           "escalate": {"agent": "boss"}}]})
    assert f.rules[0].escalate == Escalation("agent", agent="boss")
    assert parse_flow(f.to_dict()) == f


def test_pull_order_is_validated() -> None:
    with pytest.raises(InvalidFlow) as exc:
        parse_flow({"rules": [{"to": {"team": "t", "method": "pull", "order": "random"}}]})
    assert exc.value.path == "rules[0].to.order"
