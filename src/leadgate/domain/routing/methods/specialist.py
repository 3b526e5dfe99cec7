"""specialist: exactly one qualifying owner (a fixed agent or the lead's owner field).

If the owner is not eligible the rule does not place the lead; ``when_nobody`` decides
what happens next (try the next rule, hold, or fall back).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadgate.domain.errors import InvalidFlow
from leadgate.domain.routing.methods.base import Context, Method, Pick, register_method
from leadgate.domain.routing.pools import Pool


class Specialist(Method):
    name = "specialist"
    description = "exactly one owner: a fixed agent or the agent named by a lead field"
    example = {"agent_field": "owner", "method": "specialist"}

    def parse_options(self, data: Mapping[str, Any], path: str,
                      pool: Pool | None) -> dict[str, Any]:
        if pool is None or pool.kind not in ("agent", "agent_field"):
            raise InvalidFlow("specialist needs agent: KEY or agent_field: FIELD", path=path)
        return {}

    def choose(self, ctx: Context) -> Pick:
        owner = ctx.eligible[0].agent.key
        return Pick("assigned", agent=owner, arithmetic={"owner": owner},
                    why="is the specialist for this lead")


register_method(Specialist())
