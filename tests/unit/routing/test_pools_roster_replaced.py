"""Roster.replaced swaps one agent's candidate and keeps every other index."""

from __future__ import annotations

from leadgate.domain.agents import Agent, AgentLoad, Candidate
from leadgate.domain.routing.pools import Roster


def roster() -> Roster:
    agents = [Agent(key=k, teams=t) for k, t in (("b", ("x",)), ("a", ("x", "y")), ("c", ("y",)))]
    return Roster([Candidate(a) for a in agents])


def test_replaced_roster_answers_like_a_fresh_one() -> None:
    old = roster()
    old.by_key(), old.everyone(), old.team_members("x")  # build the indexes first
    busy = Candidate(old.by_key()["a"].agent, AgentLoad(open_leads=3))
    new = old.replaced(busy)
    fresh = Roster([busy if c.agent.key == "a" else c for c in roster()])
    for r in (new, fresh):
        assert r.by_key()["a"].load.open_leads == 3
        assert [c.agent.key for c in r.everyone()] == ["a", "b", "c"]
        assert r.everyone()[0].load.open_leads == 3
        assert [c.load.open_leads for c in r.team_members("x")] == [3, 0]
        assert [c.load.open_leads for c in r.team_members("y")] == [3, 0]
    assert old.by_key()["a"].load.open_leads == 0  # the old roster is untouched
    assert new.team_members("x").keys == ("a", "b")


def test_replaced_before_any_index_is_built() -> None:
    old = roster()
    new = old.replaced(Candidate(old[1].agent, AgentLoad(open_leads=1)))
    assert [c.load.open_leads for c in new.team_members("y")] == [1, 0]
