"""quality_match: the lead's grade picks the agents' tier (the big lead skips the rookie).

Options:

* ``tier_order`` - tiers from highest to lowest (default ``[senior, mid, junior]``);
* ``tiers`` - grade -> tiers to try in order (default
  ``{A: [senior], B: [senior, mid], C: [mid, junior]}``).

For a lead of grade G the listed tiers are tried first, then the tiers *below* the
lowest listed one, top down ("falling back down the tiers"); agents without a known tier
come last. A lead with no grade or an unmapped grade tries the tiers bottom up. Within a
tier, agents take turns (round robin). State: ``{"last": {TIER: KEY}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadgate.domain.errors import InvalidFlow
from leadgate.domain.routing.methods.base import (
    Context,
    Method,
    Pick,
    after_in_ring,
    register_method,
)
from leadgate.domain.routing.pools import Pool

DEFAULT_TIER_ORDER = ("senior", "mid", "junior")
DEFAULT_TIERS = {"A": ("senior",), "B": ("senior", "mid"), "C": ("mid", "junior")}
_UNTIERED = "(none)"


def tier_sequence(grade: Any, tiers: Mapping[str, tuple[str, ...]],
                  order: tuple[str, ...]) -> list[str]:
    """Tiers to try, in order, for a lead grade."""
    listed = tiers.get(str(grade).strip().upper()) if grade not in (None, "") else None
    if not listed:
        return [*reversed(order), _UNTIERED]
    lowest = max(order.index(t) for t in listed)
    return [*listed, *order[lowest + 1:], _UNTIERED]


class QualityMatch(Method):
    name = "quality_match"
    description = "lead grade matched to agent tier, falling back down the tiers"
    options = {"tiers": "grade -> list of tiers, default {A: [senior], B: [senior, mid], "
                        "C: [mid, junior]}",
               "tier_order": "tiers from highest to lowest, default [senior, mid, junior]"}
    example = {"team": "sales", "method": "quality_match",
               "tiers": {"A": ["senior"], "B": ["senior", "mid"], "C": ["mid", "junior"]}}

    def parse_options(self, data: Mapping[str, Any], path: str,
                      pool: Pool | None) -> dict[str, Any]:
        order_raw = data.get("tier_order", list(DEFAULT_TIER_ORDER))
        if (not isinstance(order_raw, list | tuple) or not order_raw
                or not all(isinstance(t, str) and t for t in order_raw)
                or len(set(order_raw)) != len(order_raw)):
            raise InvalidFlow("tier_order must be a list of distinct tier names",
                              path=f"{path}.tier_order")
        order = tuple(t.lower() for t in order_raw)
        tiers_raw = data.get("tiers", DEFAULT_TIERS)
        if not isinstance(tiers_raw, Mapping) or not tiers_raw:
            raise InvalidFlow("tiers must map grades to lists of tiers", path=f"{path}.tiers")
        tiers: dict[str, tuple[str, ...]] = {}
        for grade, ts in tiers_raw.items():
            gpath = f"{path}.tiers.{grade}"
            items = [ts] if isinstance(ts, str) else ts
            if not isinstance(items, list | tuple) or not items:
                raise InvalidFlow("expected a list of tiers", path=gpath)
            for i, t in enumerate(items):
                if not isinstance(t, str) or t.lower() not in order:
                    raise InvalidFlow(f"unknown tier {t!r}; tier_order is {', '.join(order)}",
                                      path=f"{gpath}[{i}]")
            tiers[str(grade).upper()] = tuple(t.lower() for t in items)
        return {"tiers": tiers, "tier_order": order}

    def choose(self, ctx: Context) -> Pick:
        order: tuple[str, ...] = ctx.options.get("tier_order", DEFAULT_TIER_ORDER)
        tiers: Mapping[str, tuple[str, ...]] = ctx.options.get("tiers", DEFAULT_TIERS)
        grade = ctx.lead.get("grade")
        sequence = tier_sequence(grade, tiers, order)
        groups: dict[str, list[str]] = {}
        for c in ctx.eligible:
            t = (c.agent.tier or "").lower()
            groups.setdefault(t if t in order else _UNTIERED, []).append(c.agent.key)
        last_raw = ctx.state.get("last")
        last: dict[str, str] = dict(last_raw) if isinstance(last_raw, Mapping) else {}
        arithmetic: dict[str, Any] = {"grade": grade, "sequence": sequence,
                                      "eligible_by_tier": groups}
        for pos, tier in enumerate(sequence):
            keys = groups.get(tier)
            if not keys:
                continue
            chosen = after_in_ring(keys, last.get(tier))
            fell = " after falling back" if pos and tier not in tiers.get(
                str(grade).upper(), ()) else ""
            return Pick(
                "assigned", agent=chosen, state={"last": {**last, tier: chosen}},
                arithmetic={**arithmetic, "tier": tier, "last": last.get(tier),
                            "next": chosen},
                why=(f"was next in the {tier} tier for a grade {grade or '(none)'} "
                     f"lead{fell}"))
        return Pick(None, arithmetic=arithmetic, why="no eligible agent in any tier")


register_method(QualityMatch())
