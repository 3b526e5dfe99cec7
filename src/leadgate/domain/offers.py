"""Offers, escalation and pull order as pure decisions (no I/O, no clock).

A target with ``accept_within`` makes the chosen rep an *offer* with a deadline
instead of a final assignment. When the deadline passes (or the rep declines),
:func:`bounce` says where the lead goes next:

1. the next eligible member of the same pool after the current one, in key order
   and wrapping (like round robin), never one who already had the offer;
2. when the pool is exhausted, the rule's escalation (:class:`Escalation`):
   ``{agent: K}`` assigns to K outright (a manager takes it whatever their load),
   ``{queue: Q}`` queues it in Q, ``{pool: {team: x}}`` offers it down that pool
   with the same deadline (and, exhausted too, the fallback queue),
   ``next_rep`` / nothing: the flow's fallback queue (``unassigned`` without one).

A shotgun offer has no "next rep" (everyone eligible had it at once), so its
expiry goes straight to step 2.

:data:`PULL_ORDERS` names how a pull queue is sorted (the pull target's ``order``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadgate.domain.agents import Candidate
from leadgate.domain.errors import InvalidFlow
from leadgate.domain.routing import eligibility

__all__ = ["ESCALATIONS", "PULL_ORDERS", "Bounce", "Escalation", "bounce", "next_in_pool",
           "parse_escalation"]

ESCALATIONS: dict[str, str] = {
    "next_rep": "keep offering down the pool, then the flow's fallback queue (default)",
    "agent": "assign to this agent (e.g. the team's manager) outright",
    "queue": "queue the lead in this queue (reps may pull from it if it is a pull queue)",
    "pool": "offer it down this pool ({team: x}, {agents: [..]}) with the same deadline",
}
PULL_ORDERS: dict[str, str] = {
    "score": "highest score first, then oldest (default)",
    "age": "oldest first",
    "priority": "best grade first (A, B, C...; ungraded last), then oldest",
}
_POOL_KEYS = ("team", "agents", "agent")


@dataclass(frozen=True)
class Escalation:
    """Where a lead goes when nobody in its pool accepted in time."""

    kind: str = "next_rep"
    agent: str | None = None
    queue: str | None = None
    pool: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "next_rep":
            return {"to": "next_rep"}
        if self.kind == "pool":
            return {"pool": dict(self.pool)}
        return {self.kind: self.agent if self.kind == "agent" else self.queue}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Escalation:
        """Back from :meth:`to_dict` (stored with an offer); ``None`` is the default."""
        return parse_escalation(data, "escalate") if data else cls()


def parse_escalation(data: Any, path: str, *, agents: Collection[str] | None = None,
                     teams: Collection[str] | None = None) -> Escalation:
    """Validate ``escalate:``: ``next_rep``, ``{to: next_rep}``, ``{agent: K}``,
    ``{queue: Q}`` or ``{pool: {team: x} | {agents: [..]} | {agent: k}}``."""
    if data == "next_rep" or data == {"to": "next_rep"}:
        return Escalation()
    if not isinstance(data, Mapping) or len(data) != 1:
        raise InvalidFlow("escalate is next_rep or a mapping with one of "
                          + ", ".join(f"{k}" for k in ("to", *list(ESCALATIONS)[1:])),
                          path=path)
    (kind, value), = data.items()
    if kind == "to":
        raise InvalidFlow(f"escalate.to must be next_rep, got {value!r}", path=f"{path}.to")
    if kind not in ESCALATIONS or kind == "next_rep":
        raise InvalidFlow(f"unknown escalation {kind!r}; use to, agent, queue or pool",
                          path=f"{path}.{kind}")
    if kind in ("agent", "queue"):
        if not isinstance(value, str) or not value.strip():
            raise InvalidFlow(f"{kind} must be a non-empty string", path=f"{path}.{kind}")
        if kind == "agent" and agents is not None and value not in agents:
            raise InvalidFlow(f"unknown agent {value!r}", path=f"{path}.agent")
        return Escalation(kind, agent=value) if kind == "agent" else Escalation(kind, queue=value)
    ppath = f"{path}.pool"
    if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in _POOL_KEYS:
        raise InvalidFlow("pool is one of {team: x}, {agents: [a, b]}, {agent: a}", path=ppath)
    (pk, pv), = value.items()
    keys = [pv] if isinstance(pv, str) else pv
    if not isinstance(keys, list | tuple) or not keys or not all(
            isinstance(k, str) and k.strip() for k in keys) or (pk != "agents" and len(keys) != 1):
        raise InvalidFlow(f"{pk} needs {'a list of agent keys' if pk == 'agents' else 'a key'}",
                          path=f"{ppath}.{pk}")
    known = teams if pk == "team" else agents
    for k in keys:
        if known is not None and k not in known:
            raise InvalidFlow(f"unknown {'team' if pk == 'team' else 'agent'} {k!r}",
                              path=f"{ppath}.{pk}")
    return Escalation("pool", pool={pk: list(pv) if pk == "agents" else pv})


@dataclass(frozen=True)
class Bounce:
    """What happens to a lead whose offer expired or was declined.

    ``action``: ``offer`` (to ``agent``; ``escalated`` when it is the escalation pool's
    first offer), ``assign`` (to ``agent`` outright) or ``queue`` (into ``queue``).
    ``skipped`` lists the members passed over with their reason codes.
    """

    action: str
    agent: str | None = None
    queue: str | None = None
    escalated: bool = False
    skipped: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "agent": self.agent, "queue": self.queue,
                "escalated": self.escalated,
                "skipped": [{"agent": k, "reasons": list(r)} for k, r in self.skipped]}


def next_in_pool(current: str | None, members: Sequence[Candidate],
                 excluded: Collection[str], now: datetime
                 ) -> tuple[str | None, tuple[tuple[str, tuple[str, ...]], ...]]:
    """The first eligible member after ``current`` (key order, wrapping) that is not
    ``excluded``; with the members passed over and why (``had_offer`` for excluded)."""
    ring = sorted(members, key=lambda c: c.agent.key)
    start = 0
    if current is not None:
        start = next((i for i, c in enumerate(ring) if c.agent.key > current), 0)
    skipped: list[tuple[str, tuple[str, ...]]] = []
    for c in ring[start:] + ring[:start]:
        key = c.agent.key
        if key == current or key in excluded:
            continue
        reasons = eligibility.check(c, now)
        if reasons:
            skipped.append((key, reasons))
            continue
        return key, tuple(skipped)
    return None, tuple(skipped)


def bounce(current: str | None, members: Sequence[Candidate], excluded: Collection[str],
           escalation: Escalation | None, fallback_queue: str, now: datetime, *,
           escalation_members: Sequence[Candidate] = ()) -> Bounce:
    """Where the lead goes after ``current``'s offer ended (see the module docstring).

    ``members``: the pool being offered down (empty for a shotgun or an exhausted
    escalation pool); ``excluded``: every agent who already had this lead's offer;
    ``escalation``: ``None`` once the escalation was used; ``escalation_members``: the
    candidates of a ``pool`` escalation.
    """
    agent, skipped = next_in_pool(current, members, excluded, now)
    if agent is not None:
        return Bounce("offer", agent=agent, skipped=skipped)
    esc = escalation or Escalation()
    if esc.kind == "agent":
        return Bounce("assign", agent=esc.agent, escalated=True, skipped=skipped)
    if esc.kind == "queue":
        return Bounce("queue", queue=esc.queue, escalated=True, skipped=skipped)
    if esc.kind == "pool" and escalation is not None:
        agent, more = next_in_pool(None, escalation_members, excluded, now)
        if agent is not None:
            return Bounce("offer", agent=agent, escalated=True, skipped=skipped + more)
        skipped += more
    return Bounce("queue", queue=fallback_queue, escalated=True, skipped=skipped)

