"""round_robin: an availability-aware rotation over the pool in agent-key order.

State: ``{"last": KEY}``, the key of the agent who got the previous lead. The next lead
goes to the first *eligible* agent whose key comes after it in the ring (sorted keys,
wrapping). Because the state is a key and not an index, adding or removing members keeps
the rotation sane, and an agent coming back from away simply resumes at their place in
the ring: there is no catch-up burst.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from leadgate.domain.agents import Candidate
from leadgate.domain.routing.methods.base import Context, Method, Pick, register_method
from leadgate.domain.routing.pools import Ring


class RoundRobin(Method):
    name = "round_robin"
    description = "rotation in agent-key order, skipping agents who are not eligible"
    example = {"team": "mumbai", "method": "round_robin"}

    lazy = True

    def choose(self, ctx: Context) -> Pick:
        last = ctx.state.get("last")
        if type(last) is not str:
            last = None
        members = ctx.members
        chosen, skipped = ring_walk(ctx, members, last)
        arithmetic = {"last": last, "next": chosen, "ring_size": len(members),
                      "skipped": skipped}
        if chosen is None:
            return Pick(None, arithmetic=arithmetic, why="nobody in the pool was eligible")
        return Pick("assigned", chosen, (), None, {"last": chosen}, arithmetic,
                    "was next in rotation")


def _key(c: Candidate) -> str:
    return c.agent.key


def ring_walk(ctx: Context, ring: Sequence[Candidate], last: str | None
              ) -> tuple[str | None, list[str]]:
    """Walk the ring (sorted by key) from just after ``last``; first eligible wins.

    Returns the chosen key (None if nobody is eligible) and the keys skipped on the way.
    """
    n = len(ring)
    if last is None:
        start = 0
    elif type(ring) is Ring:
        start = bisect_right(ring.keys, last)
    else:
        start = bisect_right(ring, last, key=_key)
    skipped: list[str] = []
    reasons = ctx.reasons
    for i in range(start, start + n):
        c = ring[i % n] if i >= n else ring[i]
        if not reasons(c):
            return c.agent.key, skipped
        skipped.append(c.agent.key)
    return None, skipped


register_method(RoundRobin())
