"""round_robin: an availability-aware rotation over the pool in agent-key order.

State: ``{"last": KEY}``, the key of the agent who got the previous lead. The next lead
goes to the first *eligible* agent whose key comes after it in the ring (sorted keys,
wrapping). Because the state is a key and not an index, adding or removing members keeps
the rotation sane, and an agent coming back from away simply resumes at their place in
the ring: there is no catch-up burst.
"""

from __future__ import annotations

from leadgate.domain.routing.methods.base import (
    Context,
    Method,
    Pick,
    after_in_ring,
    register_method,
)


class RoundRobin(Method):
    name = "round_robin"
    description = "rotation in agent-key order, skipping agents who are not eligible"
    example = {"team": "mumbai", "method": "round_robin"}

    def choose(self, ctx: Context) -> Pick:
        keys = [c.agent.key for c in ctx.eligible]
        last = ctx.state.get("last")
        last = last if isinstance(last, str) else None
        chosen = after_in_ring(keys, last)
        skipped = _skipped([c.agent.key for c in ctx.members], last, chosen)
        eligible_set = set(keys)
        return Pick(
            "assigned", agent=chosen, state={"last": chosen},
            arithmetic={"last": last, "next": chosen, "ring_size": len(ctx.members),
                        "eligible": len(keys),
                        "skipped": [k for k in skipped if k not in eligible_set]},
            why="was next in rotation")


def _skipped(ring: list[str], last: str | None, chosen: str) -> list[str]:
    """Members strictly between ``last`` and ``chosen`` in ring order."""
    if last is None:
        return [k for k in ring if k < chosen]
    if chosen > last:
        return [k for k in ring if last < k < chosen]
    return [k for k in ring if k > last] + [k for k in ring if k < chosen]


register_method(RoundRobin())
