"""least_loaded: fewest open leads (or fewest today), then longest since last assignment.

Option ``by``: ``open`` (default, ``AgentLoad.open_leads``) or ``today``
(``AgentLoad.assigned["day"]``). Ties go to whoever waited longest since their last
assignment (never assigned = first), then to the smallest key. Stateless.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leadgate.domain.agents import Candidate
from leadgate.domain.routing.methods.base import (
    Context,
    Method,
    Pick,
    option_choice,
    register_method,
)
from leadgate.domain.routing.pools import Pool

_NEVER = datetime.min.isoformat()


def _load(c: Candidate, by: str) -> int:
    return c.load.open_leads if by == "open" else int(c.load.assigned.get("day", 0))


class LeastLoaded(Method):
    name = "least_loaded"
    description = "fewest open leads (or fewest today), then longest since last assignment"
    options = {"by": "open (default): open leads; today: leads assigned today"}
    example = {"agents": {"languages": "pt"}, "method": "least_loaded", "by": "open"}

    def parse_options(self, data: Mapping[str, Any], path: str,
                      pool: Pool | None) -> dict[str, Any]:
        return {"by": option_choice(data, "by", ("open", "today"), path)}

    def choose(self, ctx: Context) -> Pick:
        by = ctx.options.get("by", "open")

        def rank(c: Candidate) -> tuple[int, str, str]:
            last = c.load.last_assigned_at
            return (_load(c, by), last.isoformat() if last else _NEVER, c.agent.key)

        best = min(ctx.eligible, key=rank)
        loads = {c.agent.key: _load(c, by) for c in ctx.eligible}
        last = {c.agent.key: (c.load.last_assigned_at.isoformat()
                              if c.load.last_assigned_at else None) for c in ctx.eligible}
        what = "open leads" if by == "open" else "leads today"
        return Pick("assigned", agent=best.agent.key,
                    arithmetic={"by": by, "loads": loads, "last_assigned_at": last,
                                "next": best.agent.key},
                    why=f"had the fewest {what} ({loads[best.agent.key]})")


register_method(LeastLoaded())
