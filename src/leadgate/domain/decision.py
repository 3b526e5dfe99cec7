"""A routing Decision and its Trace: what was tried, who was eligible or not, and why.

Two JSON forms of a trace (``Trace.to_dict``):

* full (``compact=False``): every rule tried with its condition explanation (a short
  one for rules that did not match) and every member of each matched rule's pool with
  the reason it was or was not eligible. For the console's flow tester and the API.
* compact (``compact=True``): what the service stores with every routed lead. It costs
  about what decide() examined, never more: the rules that matched (the one that placed
  the lead, and any that matched but could not place) with the lead facts their
  condition read, the pool members decide() checked (with reasons and texts), the pool
  size and the method's arithmetic; the rules tried that did not match only as
  inclusive index ranges under ``missed`` (their names and conditions are in the flow
  version); nothing at all for the rules the rule index skipped.

The dataclasses here are frozen; their ``__init__`` is written by hand (same signature
as the generated one) because the generated frozen ``__init__`` costs one
``object.__setattr__`` per field, several microseconds per decision on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["OUTCOMES", "CompactParts", "Decision", "MemberTrace", "RuleTrace", "Trace",
           "missed_ranges"]

OUTCOMES = ("assigned", "offered", "queued", "delivering", "sell", "unassigned")

_set = object.__setattr__

#: (matched rules as compact dicts, missed index ranges, compact fallback)
CompactParts = tuple[list[dict[str, Any]], list[list[int]], Any]


@dataclass(frozen=True, init=False)
class MemberTrace:
    """One pool member as the engine saw it."""

    agent: str
    name: str
    eligible: bool
    reasons: tuple[str, ...] = ()
    text: str = ""

    def __init__(self, agent: str, name: str, eligible: bool,
                 reasons: tuple[str, ...] = (), text: str = "") -> None:
        _set(self, "__dict__", {"agent": agent, "name": name, "eligible": eligible,
                                "reasons": reasons, "text": text})

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "name": self.name, "eligible": self.eligible,
                "reasons": list(self.reasons), "text": self.text}


@dataclass(frozen=True, init=False)
class RuleTrace:
    """One rule tried (or the fallback): its condition, its pool, the method's arithmetic.

    ``condition`` and ``members`` may be computed on first access (decide() stays fast
    and the trace is only built when someone reads it); they are deterministic.
    """

    index: int | None
    name: str
    matched: bool
    condition: Mapping[str, Any] = field(default_factory=dict)
    method: str | None = None
    pool: Mapping[str, Any] = field(default_factory=dict)
    pool_id: str | None = None
    members: Sequence[MemberTrace] = ()
    arithmetic: Mapping[str, Any] = field(default_factory=dict)
    placed: bool = False
    note: str = ""

    def __init__(self, index: int | None, name: str, matched: bool,
                 condition: Mapping[str, Any] | None = None, method: str | None = None,
                 pool: Mapping[str, Any] | None = None, pool_id: str | None = None,
                 members: Sequence[MemberTrace] = (),
                 arithmetic: Mapping[str, Any] | None = None, placed: bool = False,
                 note: str = "") -> None:
        _set(self, "__dict__", {
            "index": index, "name": name, "matched": matched,
            "condition": {} if condition is None else condition, "method": method,
            "pool": {} if pool is None else pool, "pool_id": pool_id, "members": members,
            "arithmetic": {} if arithmetic is None else arithmetic, "placed": placed,
            "note": note})

    def to_dict(self, *, compact: bool = False) -> dict[str, Any]:
        """JSON-able form. ``compact`` only matters for a rule that did not match: it is
        then reduced to index, name and ``matched: false``."""
        if compact and not self.matched:
            return {"index": self.index, "name": self.name, "matched": False}
        return {
            "index": self.index, "name": self.name, "matched": self.matched,
            "condition": dict(self.condition), "method": self.method, "pool": dict(self.pool),
            "pool_id": self.pool_id, "members": [m.to_dict() for m in self.members],
            "arithmetic": dict(self.arithmetic), "placed": self.placed, "note": self.note,
        }


def missed_ranges(indexes: Iterable[int]) -> list[list[int]]:
    """Sorted rule indexes as inclusive ``[first, last]`` ranges: 0,1,2,5 -> [[0, 2], [5, 5]]."""
    out: list[list[int]] = []
    for i in sorted(indexes):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def _generic_compact(rules: Sequence[RuleTrace], fallback: Any) -> CompactParts:
    """The compact form of a trace not made by decide(): matched rules in full."""
    matched = [{**r.to_dict(), "pool_size": len(r.members)} for r in rules if r.matched]
    missed = missed_ranges(r.index for r in rules if not r.matched and r.index is not None)
    fb = fallback.to_dict() if isinstance(fallback, RuleTrace) else (
        dict(fallback) if fallback is not None else None)
    return matched, missed, fb


@dataclass(frozen=True, init=False)
class Trace:
    """The explanation stored with every decision.

    ``compact_parts``, when given (decide() gives it), builds the compact form straight
    from what decide() examined instead of from ``rules`` and ``fallback``.
    """

    flow: str | None
    rules: Sequence[RuleTrace] = ()
    fallback: RuleTrace | Mapping[str, Any] | None = None
    outcome: str = "unassigned"
    summary: str = ""
    now: datetime | None = None
    compact_parts: Callable[[], CompactParts] | None = field(
        default=None, compare=False, repr=False)

    def __init__(self, flow: str | None, rules: Sequence[RuleTrace] = (),
                 fallback: RuleTrace | Mapping[str, Any] | None = None,
                 outcome: str = "unassigned", summary: str = "",
                 now: datetime | None = None,
                 compact_parts: Callable[[], CompactParts] | None = None) -> None:
        _set(self, "__dict__", {"flow": flow, "rules": rules, "fallback": fallback,
                                "outcome": outcome, "summary": summary, "now": now,
                                "compact_parts": compact_parts})

    def to_dict(self, *, compact: bool = False) -> dict[str, Any]:
        """JSON-able form (the service stores the compact one next to the assignment).

        Full: ``rules`` lists every rule tried (see the module docstring). Compact:
        ``rules`` lists only the rules that matched, each as in the full form except that
        a trace made by decide() gives ``facts`` (the lead values the condition read)
        instead of ``condition``, lists under ``members`` only the members decide()
        checked (round robin checks only the agents it walks past; methods that compare
        everyone list everyone) and adds ``pool_size``; ``missed`` lists the rules tried
        that did not match as inclusive index ranges (``[[0, 189]]``). Both forms hold
        plain JSON types only (no tuples, no datetimes).
        """
        now = self.now.isoformat() if self.now else None
        if compact:
            make = self.compact_parts
            rules, missed, fb = (make() if make is not None
                                 else _generic_compact(self.rules, self.fallback))
            return {"flow": self.flow, "fallback": fb, "rules": rules, "missed": missed,
                    "outcome": self.outcome, "summary": self.summary, "now": now}
        fallback: Any = self.fallback
        if isinstance(fallback, RuleTrace):
            fallback = fallback.to_dict()
        elif fallback is not None:
            fallback = dict(fallback)
        return {"flow": self.flow, "fallback": fallback,
                "rules": [r.to_dict() for r in self.rules],
                "outcome": self.outcome, "summary": self.summary, "now": now}


@dataclass(frozen=True, init=False)
class Decision:
    """What to do with a lead; ``state`` is the flow's full new routing state to persist."""

    outcome: str
    agent: str | None = None
    agents: tuple[str, ...] = ()
    queue: str | None = None
    rule: str | None = None
    rule_index: int | None = None
    method: str | None = None
    accept_within: timedelta | None = None
    hold_until: datetime | None = None
    target: Mapping[str, Any] = field(default_factory=dict)
    state: Mapping[str, Any] = field(default_factory=dict)
    trace: Trace = field(default_factory=lambda: Trace(flow=None))

    def __init__(self, outcome: str, agent: str | None = None, agents: tuple[str, ...] = (),
                 queue: str | None = None, rule: str | None = None,
                 rule_index: int | None = None, method: str | None = None,
                 accept_within: timedelta | None = None, hold_until: datetime | None = None,
                 target: Mapping[str, Any] | None = None,
                 state: Mapping[str, Any] | None = None, trace: Trace | None = None) -> None:
        _set(self, "__dict__", {
            "outcome": outcome, "agent": agent, "agents": agents, "queue": queue,
            "rule": rule, "rule_index": rule_index, "method": method,
            "accept_within": accept_within, "hold_until": hold_until,
            "target": {} if target is None else target, "state": {} if state is None else state,
            "trace": Trace(flow=None) if trace is None else trace})

    @property
    def summary(self) -> str:
        """The trace's one-sentence explanation."""
        return self.trace.summary

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form of the decision, trace included."""
        return {
            "outcome": self.outcome, "agent": self.agent, "agents": list(self.agents),
            "queue": self.queue, "rule": self.rule, "rule_index": self.rule_index,
            "method": self.method,
            "accept_within": self.accept_within.total_seconds() if self.accept_within else None,
            "hold_until": self.hold_until.isoformat() if self.hold_until else None,
            "target": dict(self.target), "state": dict(self.state),
            "trace": self.trace.to_dict(),
        }
