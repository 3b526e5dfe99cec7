"""Methods whose Decision is carried out by later services: shotgun, pull, ping tree/post.

* ``shotgun`` - outcome ``offered``; ``Decision.agents`` are all eligible members; the
  first to claim wins (option ``limit`` caps how many are offered, by key order).
* ``pull`` - outcome ``queued`` into a pull queue (option ``queue``, default
  ``pull:<flow>:<rule>``); ``Decision.agents`` lists the pool members allowed to pull;
  option ``mode``: ``blind`` (default; "give me the next best lead") or ``selective``.
* ``deliver`` - outcome ``delivering``: no rep; the lead goes to the destinations of the
  rule's ``deliver:`` (a rule written with ``deliver:`` and no ``to:`` gets this target).
* ``ping_tree`` / ``ping_post`` / ``sell_weighted`` - outcome ``sell``; the target
  carries ``buyers`` (keys or mappings with a ``key``) and is handed to the market
  service (services/market) as is (``ping_post`` also ``timeout``, default 750ms;
  ``ping_tree`` ``order``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadgate.domain.delivery import select_targets
from leadgate.domain.errors import InvalidFlow
from leadgate.domain.routing.durations import parse_duration
from leadgate.domain.routing.methods.base import (
    Context,
    Method,
    Pick,
    option_choice,
    option_number,
    register_method,
)
from leadgate.domain.routing.pools import Pool


class Shotgun(Method):
    name = "shotgun"
    description = "offer to every eligible member at once; the first to claim wins"
    options = {"limit": "offer to at most this many (by key order); default all"}
    outcome = "offered"
    example = {"team": "mumbai", "method": "shotgun", "accept_within": "2m"}

    def parse_options(self, data: Mapping[str, Any], path: str,
                      pool: Pool | None) -> dict[str, Any]:
        if "limit" not in data:
            return {}
        return {"limit": int(option_number(data, "limit", 0, path, lo=1))}

    def choose(self, ctx: Context) -> Pick:
        keys = tuple(c.agent.key for c in ctx.eligible)
        limit = ctx.options.get("limit")
        if limit:
            keys = keys[:limit]
        return Pick("offered", agents=keys, arithmetic={"offered": list(keys)},
                    why="were offered it at once; the first to claim wins")


class Pull(Method):
    name = "pull"
    description = "put the lead in a queue that pool members pull from when ready"
    options = {"queue": "queue name (default pull:<flow>:<rule>)",
               "mode": "blind (next best lead) or selective (preview and choose)",
               "order": "what a pull takes first: score (default), age or priority (grade)"}
    outcome = "queued"
    needs_eligible = False
    example = {"team": "mumbai", "method": "pull", "mode": "selective"}

    def parse_options(self, data: Mapping[str, Any], path: str,
                      pool: Pool | None) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": option_choice(data, "mode", ("blind", "selective"),
                                                     path)}
        if "order" in data:
            out["order"] = option_choice(data, "order", ("score", "age", "priority"), path)
        q = data.get("queue")
        if q is not None:
            if not isinstance(q, str) or not q.strip():
                raise InvalidFlow("queue must be a non-empty string", path=f"{path}.queue")
            out["queue"] = q
        return out

    def choose(self, ctx: Context) -> Pick:
        queue = ctx.options.get("queue") or f"pull:{ctx.flow}:{ctx.rule}"
        keys = tuple(c.agent.key for c in ctx.members)
        return Pick("queued", queue=queue, agents=keys,
                    arithmetic={"queue": queue, "mode": ctx.options.get("mode", "blind"),
                                "order": ctx.options.get("order", "score"),
                                "eligible_now": [c.agent.key for c in ctx.eligible]},
                    why="")


def parse_buyers(data: Mapping[str, Any], path: str) -> list[str]:
    """Keys of ``buyers``: a non-empty list of keys or mappings with a key."""
    buyers = data.get("buyers")
    bpath = f"{path}.buyers"
    if not isinstance(buyers, list | tuple) or not buyers:
        raise InvalidFlow("needs buyers: a non-empty list", path=bpath)
    keys: list[str] = []
    for i, b in enumerate(buyers):
        k = b.get("key") if isinstance(b, Mapping) else b
        if not isinstance(k, str) or not k.strip():
            raise InvalidFlow("a buyer is a key or a mapping with a key", path=f"{bpath}[{i}]")
        keys.append(k)
    if len(set(keys)) != len(keys):
        raise InvalidFlow("buyer keys repeat", path=bpath)
    return keys


class Deliver(Method):
    name = "deliver"
    description = ("deliver the lead to the rule's destinations (deliver:) instead of "
                   "assigning a rep")
    needs_pool = False
    needs_eligible = False
    outcome = "delivering"
    example = {"method": "deliver"}

    def choose(self, ctx: Context) -> Pick:
        plan = ctx.options.get("plan")
        chosen = [t.destination for t in select_targets(plan, ctx.lead)] if plan else []
        if not chosen:
            return Pick(None, why="no destination's condition held for the lead")
        return Pick("delivering", arithmetic={"destinations": chosen},
                    why="goes to " + ", ".join(chosen) + " instead of a rep")


class _Sell(Method):
    needs_pool = False
    needs_eligible = False
    outcome = "sell"

    def choose(self, ctx: Context) -> Pick:
        return Pick("sell", arithmetic={"buyers": list(ctx.options["buyers"])},
                    why=f"goes to the {self.name.replace('_', ' ')} of "
                        f"{len(ctx.options['buyers'])} buyers")


class PingTree(_Sell):
    name = "ping_tree"
    description = "offer to buyers one by one in priority/price order until one accepts"
    options = {"buyers": "buyer keys or {key: .., ...} in priority order",
               "order": "priority (as listed, default) or price (highest first)"}
    example = {"method": "ping_tree", "buyers": ["acme", "globex"], "order": "priority"}

    def parse_options(self, data: Mapping[str, Any], path: str,
                      pool: Pool | None) -> dict[str, Any]:
        return {"buyers": parse_buyers(data, path),
                "order": option_choice(data, "order", ("priority", "price"), path)}


class PingPost(_Sell):
    name = "ping_post"
    description = "ping all buyers with partial data, post to the highest bidder"
    options = {"buyers": "buyer keys or {key: .., ...}",
               "timeout": "how long to collect bids (default 750ms)"}
    example = {"method": "ping_post", "buyers": ["acme", "globex"], "timeout": "750ms"}

    def parse_options(self, data: Mapping[str, Any], path: str,
                      pool: Pool | None) -> dict[str, Any]:
        timeout = parse_duration(data.get("timeout", "750ms"), path=f"{path}.timeout")
        return {"buyers": parse_buyers(data, path), "timeout": timeout.total_seconds()}


class SellWeighted(_Sell):
    name = "sell_weighted"
    description = "sell to one buyer by weight (fixed or rule prices): exact shares"
    options = {"buyers": "buyer keys or {key: .., ...}; each buyer's weight is its share"}
    example = {"method": "sell_weighted", "buyers": ["acme", "globex", "initech"]}

    def parse_options(self, data: Mapping[str, Any], path: str,
                      pool: Pool | None) -> dict[str, Any]:
        return {"buyers": parse_buyers(data, path)}


for _m in (Shotgun(), Pull(), Deliver(), PingTree(), PingPost(), SellWeighted()):
    register_method(_m)
