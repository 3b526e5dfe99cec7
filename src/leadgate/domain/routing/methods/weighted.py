"""weighted: exact shares (e.g. 60/20/20) at every point of the sequence.

State: ``{"weights": {KEY: w}, "counts": {KEY: leads so far}}``. With ``n`` leads given
so far, agent i's *deficit* is ``(n + 1) * w_i / W - count_i``. Among the eligible agents
with a positive deficit, the next lead goes to the one whose next lead is *due* first,
i.e. the smallest ``(count_i + 1) * W / w_i`` (ties: smallest key); if no eligible agent
has a positive deficit, to the largest deficit. This "earliest due date" rule (after
Tijdeman's chairman-assignment scheme) keeps every agent strictly within one lead of
``n * w_i / W`` after every ``n`` when all members are eligible. (Plainly taking the
largest deficit does not: weights 1,1,3,5,67,67,2 drift 1.17 leads away.)

Weights may change at any time: when the target's weights differ from the ones in the
state, the counts restart from zero, so shares are exact again from the change on
(history under the old weights is not "repaid"). An agent who was not eligible for a
while has a deficit and catches up when back; that keeps the long-run shares exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from leadgate.domain.errors import InvalidFlow
from leadgate.domain.routing.methods.base import Context, Method, Pick, register_method
from leadgate.domain.routing.pools import Pool


def parse_weights(data: Mapping[str, Any], path: str, pool: Pool | None) -> dict[str, float]:
    """``weights: [60, 20, 20]`` aligned with ``agents: [..]``, or ``{agent: weight}``."""
    wpath = f"{path}.weights"
    raw = data.get("weights")
    if isinstance(raw, list | tuple):
        keys = pool.value if pool is not None and isinstance(pool.value, tuple) else None
        if keys is None:
            raise InvalidFlow("a weights list needs agents: [..]; use {agent: weight} "
                              "with other pools", path=wpath)
        if len(raw) != len(keys):
            raise InvalidFlow(f"{len(raw)} weights for {len(keys)} agents", path=wpath)
        pairs = list(zip(keys, raw, strict=True))
        paths = [f"{wpath}[{i}]" for i in range(len(raw))]
    elif isinstance(raw, Mapping) and raw:
        pairs = list(raw.items())
        paths = [f"{wpath}.{k}" for k in raw]
    else:
        raise InvalidFlow("weighted needs weights: a list aligned with agents or "
                          "a mapping {agent: weight}", path=wpath)
    out: dict[str, float] = {}
    for (k, w), p in zip(pairs, paths, strict=True):
        if isinstance(w, bool) or not isinstance(w, int | float) or w < 0 or w != w:
            raise InvalidFlow(f"weight must be a number >= 0, got {w!r}", path=p)
        out[str(k)] = w
    if not any(out.values()):
        raise InvalidFlow("at least one weight must be above zero", path=wpath)
    return out


def next_due(eligible: list[str], weights: Mapping[str, Fraction],
             counts: Mapping[str, int], n: int) -> tuple[str | None, dict[str, Fraction]]:
    """The eligible key due first among positive deficits (see the module docstring)."""
    total = sum(weights.values(), Fraction(0))
    deficits = {k: (n + 1) * weights[k] / total - counts.get(k, 0)
                for k in eligible if weights.get(k, 0) > 0}
    due = [k for k, d in deficits.items() if d > 0]
    if due:
        return min(due, key=lambda k: ((counts.get(k, 0) + 1) * total / weights[k], k)), deficits
    if not deficits:
        return None, deficits
    return min(deficits, key=lambda k: (-deficits[k], k)), deficits


class Weighted(Method):
    name = "weighted"
    description = "exact shares by weight at every point of the sequence"
    options = {"weights": "list aligned with agents: [60, 20, 20], or {agent: weight}; "
                          "members without a weight get no leads"}
    example = {"agents": ["ana", "ben", "cy"], "method": "weighted", "weights": [60, 20, 20]}

    def parse_options(self, data: Mapping[str, Any], path: str,
                      pool: Pool | None) -> dict[str, Any]:
        return {"weights": parse_weights(data, path, pool)}

    def choose(self, ctx: Context) -> Pick:
        target_w: Mapping[str, float] = ctx.options["weights"]
        members = {c.agent.key for c in ctx.members}
        weights = {k: Fraction(str(w)) for k, w in target_w.items() if k in members and w > 0}
        stored_w = ctx.state.get("weights")
        counts_in = ctx.state.get("counts") if stored_w == dict(target_w) else None
        counts = {k: int(v) for k, v in (counts_in or {}).items()
                  if isinstance(v, int) and k in weights}
        n = sum(counts.values())
        chosen, deficits = next_due([c.agent.key for c in ctx.eligible], weights,
                                           counts, n)
        arithmetic = {
            "weights": {k: float(w) for k, w in weights.items()}, "counts": dict(counts),
            "n": n, "deficits": {k: round(float(d), 4) for k, d in deficits.items()},
            "reset": counts_in is None and bool(ctx.state),
        }
        if chosen is None:
            return Pick(None, arithmetic=arithmetic, why="no eligible member has a weight")
        new_counts = {**counts, chosen: counts.get(chosen, 0) + 1}
        total = sum(weights.values(), Fraction(0))
        share = float(weights[chosen] / total * 100)
        return Pick("assigned", agent=chosen,
                    state={"weights": dict(target_w), "counts": new_counts},
                    arithmetic={**arithmetic, "next": chosen},
                    why=(f"was due next for a {share:.0f}% share (deficit "
                         f"{float(deficits[chosen]):.2f} leads)"))


register_method(Weighted())
