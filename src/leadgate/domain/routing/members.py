"""Which agents a decision can look at, so the service loads only their state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadgate.domain.routing.flow import Flow
from leadgate.domain.routing.pools import Roster

__all__ = ["flow_members"]


def flow_members(flow: Flow, roster: Roster, lead: Mapping[str, Any]) -> set[str]:
    """Keys of every agent that ``decide(lead, flow, ...)`` may consider: members of
    the pools of the rules whose condition holds for the lead, and of the fallback.

    Pool membership depends only on the agents' attributes and the lead, not on
    loads, so ``roster`` may carry empty loads; passing decide() only these
    agents (with their real loads) gives the same decision as passing everyone.
    """
    keys: set[str] = set()
    for rule in flow.candidate_rules(lead):
        if rule.target.pool is not None and rule.when.evaluate(lead):
            keys.update(c.agent.key for c in rule.target.pool.members(roster, lead))
    fb = flow.fallback
    if fb is not None and fb.target is not None and fb.target.pool is not None:
        keys.update(c.agent.key for c in fb.target.pool.members(roster, lead))
    return keys
