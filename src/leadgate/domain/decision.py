"""A routing Decision and its Trace: what was tried, who was eligible or not, and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["OUTCOMES", "Decision", "MemberTrace", "RuleTrace", "Trace"]

OUTCOMES = ("assigned", "offered", "queued", "sell", "unassigned")


@dataclass(frozen=True)
class MemberTrace:
    """One pool member as the engine saw it."""

    agent: str
    name: str
    eligible: bool
    reasons: tuple[str, ...] = ()
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "name": self.name, "eligible": self.eligible,
                "reasons": list(self.reasons), "text": self.text}


@dataclass(frozen=True)
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "name": self.name, "matched": self.matched,
            "condition": dict(self.condition), "method": self.method, "pool": dict(self.pool),
            "pool_id": self.pool_id, "members": [m.to_dict() for m in self.members],
            "arithmetic": dict(self.arithmetic), "placed": self.placed, "note": self.note,
        }


@dataclass(frozen=True)
class Trace:
    """The explanation stored with every decision."""

    flow: str | None
    rules: Sequence[RuleTrace] = ()
    fallback: RuleTrace | Mapping[str, Any] | None = None
    outcome: str = "unassigned"
    summary: str = ""
    now: datetime | None = None

    def to_dict(self, *, compact: bool = False) -> dict[str, Any]:
        """JSON-able form (the service stores it next to the assignment).

        ``compact=True`` lists rules that did not match by index and name only (no
        condition explanation): much smaller and faster for flows with many rules.
        """
        fb: Any = self.fallback
        if isinstance(fb, RuleTrace):
            fb = fb.to_dict()
        elif fb is not None:
            fb = dict(fb)
        return {
            "flow": self.flow, "fallback": fb,
            "rules": [r.to_dict() if r.matched or not compact
                      else {"index": r.index, "name": r.name, "matched": False}
                      for r in self.rules],
            "outcome": self.outcome, "summary": self.summary,
            "now": self.now.isoformat() if self.now else None,
        }


@dataclass(frozen=True)
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
