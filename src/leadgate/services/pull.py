"""Pull queues: reps take leads when they are ready.

A queue reps may pull from is the ``queue`` of a published ``pull`` target (its
pool says who may pull, ``mode`` blind or selective, ``order`` score, age or
priority) or ``unassigned`` (every agent; selective, oldest first), so a lead no
rule placed is never forgotten.

* blind: ``pull()`` takes the next best lead of the queues the rep may pull from;
* selective: ``preview()`` lists them, ``claim_queued()`` takes one.

The rep must be eligible as routing would check them (status, time off, working
hours, caps, open-lead limit); their load row is locked first (PostgreSQL), then
the lead with ``FOR UPDATE SKIP LOCKED``: two reps pulling at once never get the
same lead and never wait on each other. SQLite serialises writers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from leadgate.domain.agents import Candidate
from leadgate.domain.errors import Conflict, Forbidden, NotFound
from leadgate.domain.routing import eligibility
from leadgate.domain.routing.pools import Pool
from leadgate.services import snapshot, timeline
from leadgate.services.ingest import lead_summary
from leadgate.services.principal import Principal
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

UNASSIGNED = "unassigned"
#: leads looked at per pull when membership depends on the lead (selectors, owner)
SCAN = 20


@dataclass(frozen=True)
class QueueSpec:
    name: str
    mode: str  # blind | selective
    order: str  # score | age | priority
    pool: Pool | None  # None: every agent

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode, "order": self.order,
                "pool": self.pool.to_dict() if self.pool else "*"}

    @property
    def per_lead(self) -> bool:
        """Membership depends on the lead (a selector or an owner field)."""
        return self.pool is not None and (self.pool.kind == "agent_field"
                                          or isinstance(self.pool.value, Mapping))


def queues(snap: snapshot.Snapshot) -> dict[str, QueueSpec]:
    """Every pull queue of the published flows, and ``unassigned``."""
    out: dict[str, QueueSpec] = {}
    for key, (flow, _v) in sorted(snap.flows.items()):
        targets = [(r.name, r.target) for r in flow.rules]
        if flow.fallback is not None and flow.fallback.target is not None:
            targets.append(("fallback", flow.fallback.target))
        for rule, t in targets:
            if t.method != "pull":
                continue
            name = t.options.get("queue") or f"pull:{key}:{rule}"
            out.setdefault(name, QueueSpec(name, t.options.get("mode", "blind"),
                                           t.options.get("order", "score"), t.pool))
    out.setdefault(UNASSIGNED, QueueSpec(UNASSIGNED, "selective", "age", None))
    return out


def _member(spec: QueueSpec, snap: snapshot.Snapshot, agent_key: str,
            facts: dict[str, Any] | None = None) -> bool:
    if spec.pool is None:
        return True
    return any(c.agent.key == agent_key for c in spec.pool.resolve(snap.roster, facts or {}))


def _agent(uow: UnitOfWork, principal: Principal) -> snapshot.AgentInfo:
    principal.require_user()
    snap = snapshot.current(uow.session)
    info = snap.agents_by_id.get(principal.agent_id or -1)
    if info is None:
        raise Forbidden("pulling leads needs a user linked to an active agent")
    return info


def my_queues(uow: UnitOfWork, principal: Principal) -> list[QueueSpec]:
    """The queues this rep may pull from (managers: every queue)."""
    snap = snapshot.current(uow.session)
    specs = list(queues(snap).values())
    if principal.is_manager and principal.agent_id is None:
        return specs
    info = _agent(uow, principal)
    return [q for q in specs if q.per_lead or _member(q, snap, info.key)]


def require_eligible(uow: UnitOfWork, info: snapshot.AgentInfo, now: datetime) -> None:
    """Refuse (409 ``not_eligible``) a rep who could not be given a lead now; locks
    the rep's load row until commit."""
    from leadgate.services.routing import load_candidates

    c: Candidate = load_candidates(uow, now, keys=[info.key], lock=True)[0]
    reasons = eligibility.check(c, now)
    if reasons:
        raise Conflict(f"{info.name} cannot take a lead now: "
                       + eligibility.explain(c, reasons, now), code="not_eligible")


def _queued(spec: QueueSpec) -> Select[Any]:
    status = UNASSIGNED if spec.name == UNASSIGNED else "queued"
    q = select(m.Lead).where(m.Lead.status == status, m.Lead.queue == spec.name)
    if spec.order == "score":
        return q.order_by(m.Lead.score.desc().nulls_last(), m.Lead.created_at, m.Lead.id)
    if spec.order == "priority":
        return q.order_by(m.Lead.grade.asc().nulls_last(), m.Lead.created_at, m.Lead.id)
    return q.order_by(m.Lead.created_at, m.Lead.id)


def _facts(lead: m.Lead, now: datetime) -> dict[str, Any]:
    from leadgate.services.routing import lead_facts

    return lead_facts(lead, now)


def pull(uow: UnitOfWork, principal: Principal, now: datetime, *,
         queue: str | None = None) -> m.Lead | None:
    """Blind pull: the next best lead of ``queue`` (or of every queue the rep may pull
    from, in name order with ``unassigned`` last), assigned to the rep; None if none."""
    info = _agent(uow, principal)
    snap = snapshot.current(uow.session)
    specs = _allowed(uow, principal, queue)
    require_eligible(uow, info, now)
    for spec in sorted(specs, key=lambda q: (q.name == UNASSIGNED, q.name)):
        q = _queued(spec).limit(SCAN if spec.per_lead else 1)
        if uow.dialect == "postgresql":
            q = q.with_for_update(of=m.Lead, skip_locked=True)
        for lead in uow.session.scalars(q).unique():
            if spec.per_lead and not _member(spec, snap, info.key, _facts(lead, now)):
                continue
            _take(uow, principal, lead, info, spec, now, "pulled")
            return lead
    return None


def _allowed(uow: UnitOfWork, principal: Principal, queue: str | None) -> list[QueueSpec]:
    mine = my_queues(uow, principal)
    if queue is None:
        return mine
    spec = queues(snapshot.current(uow.session)).get(queue)
    if spec is None:
        raise NotFound(f"no pull queue {queue!r}")
    if spec.name not in {q.name for q in mine}:
        raise NotFound(f"no pull queue {queue!r} for you")
    return [spec]


def preview(uow: UnitOfWork, principal: Principal, name: str, now: datetime, *,
            limit: int = 50) -> dict[str, Any]:
    """What a rep may take from a selective queue (managers: any queue)."""
    spec = _allowed(uow, principal, name)[0]
    if spec.mode == "blind" and not principal.is_manager:
        raise Forbidden(f"queue {name!r} is blind: take its next lead with POST /v1/pull")
    snap = snapshot.current(uow.session)
    key = None if principal.is_manager else _agent(uow, principal).key
    items = []
    for lead in uow.session.scalars(_queued(spec).limit(limit * (4 if spec.per_lead else 1))):
        if key is not None and spec.per_lead and not _member(spec, snap, key,
                                                             _facts(lead, now)):
            continue
        items.append({**lead_summary(lead), "name": _name(lead)})
        if len(items) >= limit:
            break
    return {**spec.to_dict(), "items": items}


def _name(lead: m.Lead) -> str:
    from leadgate.services.leads import display_name

    return display_name(lead)


def claim_queued(uow: UnitOfWork, principal: Principal, lead_id: int,
                 now: datetime) -> m.Lead:
    """Take one lead from a selective queue the rep may pull from."""
    from leadgate.services.offers import lock_lead

    info = _agent(uow, principal)
    lead = lock_lead(uow, lead_id)
    if lead is None or lead.status not in ("queued", UNASSIGNED):
        raise NotFound(f"no lead {lead_id} waiting in a queue you may take from")
    snap = snapshot.current(uow.session)
    spec = queues(snap).get(lead.queue or "")
    if spec is None or not _member(spec, snap, info.key, _facts(lead, now)):
        raise NotFound(f"no lead {lead_id} waiting in a queue you may take from")
    if spec.mode == "blind":
        raise Conflict(f"queue {spec.name!r} is blind: use POST /v1/pull", code="blind_queue")
    require_eligible(uow, info, now)
    _take(uow, principal, lead, info, spec, now, "claimed")
    return lead


def _take(uow: UnitOfWork, principal: Principal, lead: m.Lead, info: snapshot.AgentInfo,
          spec: QueueSpec, now: datetime, how: str) -> None:
    from leadgate.services.offers import hold_for

    waited = round((now - lead.created_at).total_seconds(), 3)
    lead.status, lead.queue = "assigned", None
    hold_for(uow, lead, info.id, now, method="pull", rule=None, status="active")
    timeline.record(uow, lead, how, now, actor=principal.actor, agent=info.key,
                    queue=spec.name, mode=spec.mode, waited_seconds=waited)
