"""Flows as data: parse and validate a flow mapping into Flow / Rule / Target objects."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from leadgate.domain.conditions import Always, Condition, equality_guard, parse_condition
from leadgate.domain.delivery import DeliverPlan, parse_deliver
from leadgate.domain.errors import InvalidFlow
from leadgate.domain.routing.durations import parse_duration
from leadgate.domain.routing.methods.base import Method, get_method
from leadgate.domain.routing.pools import POOL_KINDS, Pool, parse_pool

if TYPE_CHECKING:
    from leadgate.domain.offers import Escalation

__all__ = [
    "DERIVED_FACTS",
    "WHEN_NOBODY",
    "Fallback",
    "Flow",
    "Rule",
    "Target",
    "parse_duration",
    "parse_flow",
    "parse_target",
]

#: lead facts the service always derives, usable in conditions besides campaign fields
DERIVED_FACTS: dict[str, str] = {
    "source": "key of the source the lead came from",
    "campaign": "key of the lead's campaign",
    "score": "score points (number) or null",
    "grade": "score grade such as A/B/C, or null",
    "country": "ISO 3166-1 alpha-2 country, e.g. IN",
    "region": "ISO 3166-2 region, e.g. IN-MH",
    "postal_code": "normalised postal code",
    "timezone": "IANA time zone of the lead, e.g. Asia/Kolkata",
    "local_hour": "hour of day (0-23) in the lead's time zone when routed",
    "local_weekday": "weekday in the lead's time zone: mon..sun",
    "age_minutes": "minutes since the lead was captured",
}
WHEN_NOBODY: dict[str, str] = {
    "next": "try the next rule (default)",
    "hold": "queue the lead in hold:<flow>:<rule> until someone in the pool is eligible",
    "fallback": "skip the remaining rules and use the flow's fallback",
}
_COMMON_KEYS = frozenset({"method", "accept_within", *POOL_KINDS})


@dataclass(frozen=True)
class Target:
    """Where a rule sends a lead: a pool and a method with its options."""

    method: str
    pool: Pool | None
    options: Mapping[str, Any] = field(default_factory=dict)
    accept_within: timedelta | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    #: state key of this pool+method; independent of rule names and positions
    pool_id: str = field(init=False, compare=False, default="")
    #: the pool as target keys, e.g. {"team": "mumbai"}
    pool_dict: Mapping[str, Any] = field(init=False, compare=False, repr=False,
                                         default_factory=dict)

    def __post_init__(self) -> None:
        ident = self.pool.ident() if self.pool else "-"
        object.__setattr__(self, "pool_id", f"{self.method}|{ident}")
        object.__setattr__(self, "pool_dict", self.pool.to_dict() if self.pool else {})

    @property
    def impl(self) -> Method:
        """The registered method object."""
        return get_method(self.method, "method")

    def to_dict(self) -> dict[str, Any]:
        """The target as given (a deep copy)."""
        return copy.deepcopy(dict(self.raw))


@dataclass(frozen=True)
class Rule:
    """One rule: a condition, a target, and what to do when nobody in the pool can take it."""

    index: int
    name: str
    when: Condition
    target: Target
    when_nobody: str = "next"
    #: destinations the lead is delivered to when this rule places or holds it (with
    #: target method ``deliver``: instead of a rep)
    deliver: DeliverPlan | None = None
    #: where an offer goes when nobody in the pool accepted in time (domain/offers.py)
    escalate: Escalation | None = None
    #: the lead fields the condition reads, sorted (the compact trace records their values)
    reads: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "reads", tuple(sorted(self.when.fields())))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if not isinstance(self.when, Always):
            out["when"] = self.when.to_dict()
        if self.target.raw != {"method": "deliver"} or self.deliver is None:
            out["to"] = self.target.to_dict()
        if self.when_nobody != "next":
            out["when_nobody"] = self.when_nobody
        if self.deliver is not None:
            out["deliver"] = self.deliver.to_dict()
        if self.escalate is not None:
            out["escalate"] = self.escalate.to_dict()
        return out


@dataclass(frozen=True)
class Fallback:
    """What happens when no rule placed the lead: a queue, a target, or a target then queue."""

    queue: str | None = None
    target: Target | None = None
    deliver: DeliverPlan | None = None

    def to_dict(self) -> dict[str, Any]:
        out = self.target.to_dict() if self.target else {}
        if self.queue is not None:
            out["queue"] = self.queue
        if self.deliver is not None:
            out["deliver"] = self.deliver.to_dict()
        return out


_OTHER = object()  # cache key part: a present value that is not a text
_CACHE_LIMIT = 4096   # lookups remembered per flow (cleared when full)


@dataclass(frozen=True)
class _Plan:
    """Rule index: rules guarded by ``field in {values}`` are looked up, not evaluated.

    ``guards`` holds, per guarded field, the table value -> rule indexes and the indexes
    of every rule guarded by that field (used when the lead's value is not a text).
    """

    unguarded: tuple[int, ...]
    guards: tuple[tuple[str, Mapping[str, tuple[int, ...]], tuple[int, ...]], ...]


def _make_plan(rules: tuple[Rule, ...]) -> _Plan:
    unguarded: list[int] = []
    tables: dict[str, dict[str, list[int]]] = {}
    for r in rules:
        g = equality_guard(r.when)
        if g is None:
            unguarded.append(r.index)
            continue
        table = tables.setdefault(g[0], {})
        for v in g[1]:
            table.setdefault(v, []).append(r.index)
    guards = tuple(
        (f, {v: tuple(ix) for v, ix in t.items()},
         tuple(sorted({i for ix in t.values() for i in ix})))
        for f, t in tables.items())
    return _Plan(tuple(unguarded), guards)


@dataclass(frozen=True)
class Flow:
    """An ordered list of rules and a fallback."""

    key: str | None
    rules: tuple[Rule, ...]
    fallback: Fallback | None = None
    _plan: _Plan = field(init=False, repr=False, compare=False,
                         default=_Plan((), ()))
    #: lookup key (what each guarded field of the lead selects) -> candidate rules
    _found: dict[Any, tuple[Rule, ...]] = field(init=False, repr=False, compare=False,
                                               default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_plan", _make_plan(self.rules))

    def candidate_rules(self, lead: Mapping[str, Any]) -> Sequence[Rule]:
        """Rules that may match ``lead``, in order (a superset of those that do).

        The answer depends only on what each guarded field of the lead selects in its
        table (a listed value, any other present value, or nothing), so it is
        remembered per flow under that key.
        """
        plan = self._plan
        if not plan.guards:
            return self.rules
        if len(plan.guards) == 1:  # the usual case, without the tuple key
            name, table, _ = plan.guards[0]
            v = lead.get(name)
            if isinstance(v, str):
                v = v.strip().casefold()
                one: Any = v if v in table else None
            else:
                one = None if v is None else _OTHER
            hit = self._found.get(one)
            if hit is None:
                hit = self._remember(one, (one,))
            return hit
        key: list[Any] = []
        for name, table, _ in plan.guards:
            v = lead.get(name)
            if isinstance(v, str):
                v = v.strip().casefold()
                key.append(v if v in table else None)
            else:
                key.append(None if v is None else _OTHER)
        k = tuple(key)
        hit = self._found.get(k)
        if hit is None:
            hit = self._remember(k, k)
        return hit

    def _remember(self, cache_key: Any, key: tuple[Any, ...]) -> tuple[Rule, ...]:
        hit = self._lookup(key)
        if len(self._found) >= _CACHE_LIMIT:
            self._found.clear()
        self._found[cache_key] = hit
        return hit

    def _lookup(self, key: tuple[Any, ...]) -> tuple[Rule, ...]:
        plan = self._plan
        idx = set(plan.unguarded)
        for (_, table, every), v in zip(plan.guards, key, strict=True):
            if v is _OTHER:
                idx.update(every)
            elif v is not None:
                idx.update(table[v])
        return tuple(self.rules[i] for i in sorted(idx))

    def to_dict(self) -> dict[str, Any]:
        """Flow as data; ``parse_flow(flow.to_dict()) == flow``."""
        out: dict[str, Any] = {}
        if self.key is not None:
            out["key"] = self.key
        out["rules"] = [r.to_dict() for r in self.rules]
        if self.fallback is not None:
            out["fallback"] = self.fallback.to_dict()
        return out


def parse_target(data: Any, path: str, *, agents: Collection[str] | None = None,
                 teams: Collection[str] | None = None,
                 fields: Collection[str] | None = None,
                 extra_keys: Collection[str] = ()) -> Target:
    """Validate a target mapping (``to:`` of a rule, or a fallback pool)."""
    if not isinstance(data, Mapping):
        raise InvalidFlow(f"expected a target mapping, got {type(data).__name__}", path=path)
    method = get_method(data.get("method", "round_robin"), f"{path}.method")
    pool = parse_pool(data, path, agents=agents, teams=teams, fields=fields)
    if method.needs_pool and pool is None:
        raise InvalidFlow(f"method {method.name} needs a pool: one of {', '.join(POOL_KINDS)}",
                          path=path)
    allowed = _COMMON_KEYS | set(method.options) | set(extra_keys)
    for k in data:
        if k not in allowed:
            raise InvalidFlow(f"unknown key {k!r} for method {method.name}",
                              path=f"{path}.{k}")
    accept = None
    if data.get("accept_within") is not None:
        accept = parse_duration(data["accept_within"], path=f"{path}.accept_within")
    options = method.parse_options(data, path, pool)
    raw = {k: copy.deepcopy(v) for k, v in data.items() if k not in extra_keys}
    raw.setdefault("method", method.name)
    return Target(method.name, pool, options, accept, raw)


def _rule(data: Any, i: int, *, agents: Collection[str] | None, teams: Collection[str] | None,
          fields: Collection[str] | None) -> Rule:
    path = f"rules[{i}]"
    if not isinstance(data, Mapping):
        raise InvalidFlow(f"expected a rule mapping, got {type(data).__name__}", path=path)
    for k in data:
        if k not in ("name", "when", "to", "when_nobody", "deliver", "escalate"):
            raise InvalidFlow(f"unknown key {k!r}; a rule has name, when, to, when_nobody, "
                              "deliver, escalate",
                              path=f"{path}.{k}")
    name = data.get("name", f"rule {i + 1}")
    if not isinstance(name, str) or not name.strip():
        raise InvalidFlow("name must be a non-empty string", path=f"{path}.name")
    when = parse_condition(data.get("when"), path=f"{path}.when", fields=fields)
    if "to" not in data:
        if data.get("deliver") is None:
            raise InvalidFlow("a rule needs a target (to) or destinations (deliver)",
                              path=f"{path}.to")
        # deliver instead of assigning: the rule places the lead with its destinations
        target = parse_target({"method": "deliver"}, f"{path}.to")
    else:
        target = parse_target(data["to"], f"{path}.to", agents=agents, teams=teams,
                              fields=fields)
    if target.method == "deliver" and data.get("deliver") is None:
        raise InvalidFlow("method deliver needs the rule's deliver: destinations",
                          path=f"{path}.deliver")
    nobody = data.get("when_nobody", "next")
    if nobody not in WHEN_NOBODY:
        raise InvalidFlow(f"when_nobody must be one of {', '.join(WHEN_NOBODY)}, got {nobody!r}",
                          path=f"{path}.when_nobody")
    deliver = (parse_deliver(data["deliver"], f"{path}.deliver", fields=fields)
               if data.get("deliver") is not None else None)
    if target.method == "deliver" and deliver is not None:
        target = _with_plan(target, deliver)
    escalate = None
    if data.get("escalate") is not None:
        from leadgate.domain.offers import parse_escalation  # offers imports routing

        if target.accept_within is None:
            raise InvalidFlow("escalate needs accept_within on the target (an offer with a "
                              "deadline)", path=f"{path}.escalate")
        escalate = parse_escalation(data["escalate"], f"{path}.escalate", agents=agents,
                                    teams=teams)
    return Rule(i, name.strip(), when, target, nobody, deliver, escalate)


def parse_flow(data: Mapping[str, Any], *, key: str | None = None,
               agents: Collection[str] | None = None, teams: Collection[str] | None = None,
               fields: Collection[str] | None = None) -> Flow:
    """Validate a flow mapping; raise InvalidFlow / InvalidCondition with a precise path.

    ``agents``/``teams``/``fields``, when given, are the known agent keys, team keys and
    lead field names; anything else is refused. The derived lead facts
    (:data:`DERIVED_FACTS`) are always allowed as fields.
    """
    if not isinstance(data, Mapping):
        raise InvalidFlow(f"expected a flow mapping, got {type(data).__name__}", path="")
    for k in data:
        if k not in ("key", "name", "rules", "fallback"):
            raise InvalidFlow(f"unknown key {k!r}; a flow has key, rules, fallback", path=k)
    fkey = data.get("key")
    if fkey is not None and not (isinstance(fkey, str) and fkey.strip()):
        raise InvalidFlow("key must be a non-empty string", path="key")
    if key is not None and fkey is not None and key != fkey:
        raise InvalidFlow(f"flow key {fkey!r} does not match {key!r}", path="key")
    fkey = key if key is not None else fkey
    allowed = None if fields is None else set(fields) | set(DERIVED_FACTS)
    rules_data = data.get("rules")
    if not isinstance(rules_data, list | tuple):
        raise InvalidFlow("rules must be a list", path="rules")
    rules = tuple(_rule(r, i, agents=agents, teams=teams, fields=allowed)
                  for i, r in enumerate(rules_data))
    seen: dict[str, int] = {}
    for r in rules:
        if r.name in seen:
            raise InvalidFlow(f"rule name {r.name!r} repeats rules[{seen[r.name]}]",
                              path=f"rules[{r.index}].name")
        seen[r.name] = r.index
    fallback = None
    fb = data.get("fallback")
    if fb is not None:
        fallback = _fallback(fb, agents=agents, teams=teams, fields=allowed)
    return Flow(fkey, rules, fallback)


def _fallback(fb: Any, *, agents: Collection[str] | None, teams: Collection[str] | None,
              fields: Collection[str] | None) -> Fallback:
    if not isinstance(fb, Mapping):
        raise InvalidFlow("fallback must be a mapping like {queue: unassigned}", path="fallback")
    queue = fb.get("queue")
    if queue is not None and not (isinstance(queue, str) and queue.strip()):
        raise InvalidFlow("queue must be a non-empty string", path="fallback.queue")
    deliver = (parse_deliver(fb["deliver"], "fallback.deliver", fields=fields)
               if fb.get("deliver") is not None else None)
    rest = {k: v for k, v in fb.items() if k not in ("queue", "deliver")}
    if not rest:
        if queue is None:
            raise InvalidFlow("fallback needs a queue or a pool", path="fallback")
        return Fallback(queue=queue, deliver=deliver)
    target = parse_target(rest | ({"queue": queue} if queue is not None else {}), "fallback",
                          agents=agents, teams=teams, fields=fields, extra_keys=("queue",))
    if target.method == "deliver":
        if deliver is None:
            raise InvalidFlow("method deliver needs the fallback's deliver: destinations",
                              path="fallback.deliver")
        target = _with_plan(target, deliver)
    return Fallback(queue=queue, target=target, deliver=deliver)


def _with_plan(target: Target, plan: DeliverPlan) -> Target:
    """A ``deliver`` target carries its rule's plan: it places the lead only when at
    least one destination's ``when`` holds for it."""
    return Target(target.method, target.pool, {**target.options, "plan": plan},
                  target.accept_within, target.raw)
