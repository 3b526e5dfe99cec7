"""performance: shares follow conversion (won / closed in the performance window).

Each eligible agent's weight is its conversion rate; an agent with nothing closed yet
gets the pool mean, and every weight is at least ``floor`` x the mean (option, default
0.1) so new or unlucky agents still get leads. Picking is a deficit scheme on credits:
every lead adds each eligible agent's share (weight / sum of weights) to its credit,
the agent with the most credit gets the lead (ties: smallest key) and loses one credit.
With constant rates and everyone eligible this is exactly the weighted method.
State: ``{"credit": {KEY: float}}``. Agents who are not eligible earn no credit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadgate.domain.routing.methods.base import (
    Context,
    Method,
    Pick,
    option_number,
    register_method,
)
from leadgate.domain.routing.pools import Pool


class Performance(Method):
    name = "performance"
    description = "more leads to agents who convert better (won / closed), with a floor"
    options = {"floor": "minimum weight as a fraction of the pool mean (default 0.1)"}
    example = {"team": "closers", "method": "performance", "floor": 0.2}

    def parse_options(self, data: Mapping[str, Any], path: str,
                      pool: Pool | None) -> dict[str, Any]:
        return {"floor": option_number(data, "floor", 0.1, path, hi=1.0)}

    def choose(self, ctx: Context) -> Pick:
        rates = {c.agent.key: c.load.won / c.load.closed
                 for c in ctx.members if c.load.closed > 0}
        mean = sum(rates.values()) / len(rates) if rates else 1.0
        mean = mean if mean > 0 else 1.0
        floor = ctx.options.get("floor", 0.1) * mean
        weights = {c.agent.key: max(rates.get(c.agent.key, mean), floor) for c in ctx.eligible}
        total = sum(weights.values())
        old = ctx.state.get("credit")
        old = old if isinstance(old, Mapping) else {}
        members = {c.agent.key for c in ctx.members}
        credit = {k: float(v) for k, v in old.items()
                  if k in members and isinstance(v, int | float)}
        for k, w in weights.items():
            credit[k] = credit.get(k, 0.0) + w / total
        chosen = min(weights, key=lambda k: (-credit[k], k))
        before = dict(credit)
        credit[chosen] -= 1.0
        return Pick(
            "assigned", agent=chosen,
            state={"credit": {k: round(v, 9) for k, v in sorted(credit.items())}},
            arithmetic={"conversion": {k: round(v, 4) for k, v in rates.items()},
                        "mean": round(mean, 4), "floor": round(floor, 4),
                        "weights": {k: round(v, 4) for k, v in weights.items()},
                        "credit": {k: round(v, 4) for k, v in before.items()},
                        "next": chosen},
            why=(f"had the most credit ({before[chosen]:.2f}) with a weight of "
                 f"{weights[chosen]:.2f} (conversion "
                 f"{'n/a' if chosen not in rates else f'{rates[chosen]:.0%}'})"))


register_method(Performance())
