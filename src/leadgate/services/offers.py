"""Offers with a deadline: push with an SLA, shotgun, and the bounce when time runs out.

* A **push offer** (a target with ``accept_within``) gives the lead to the chosen rep
  as ``offered``: the rep holds it (it counts as open, an ``assignments`` row with
  status ``offered`` and ``loads.record_assignments``) until they accept, decline or
  the deadline passes.
* A **shotgun** offers it to every eligible rep at once; nobody holds it until one
  claims it with one conditional ``UPDATE leads ... WHERE status = 'offered'``, so
  exactly one claim wins whatever the concurrency; the others get 409
  ``already_claimed``.
* Each round of offers writes one ``offer.expire`` job with ``run_after = deadline``
  in the same transaction (a durable timer). The handler locks the lead row and
  acts only on offers still ``offered``, so with many workers each bounce happens
  once, and an accepted offer's timer finds nothing to do. Where the lead goes next
  is the pure ``domain.offers.bounce``.

Lock order everywhere: the lead row, then its offers, then agent loads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from leadgate.domain.decision import Decision
from leadgate.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from leadgate.domain.offers import Escalation, bounce
from leadgate.domain.routing import Flow
from leadgate.domain.routing.durations import parse_duration
from leadgate.domain.routing.pools import parse_pool
from leadgate.services import jobs, loads, notifications, snapshot, timeline
from leadgate.services.principal import Principal
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

#: a shotgun without ``accept_within`` stays open this long
DEFAULT_WINDOW = timedelta(minutes=5)
EXPIRE = "offer.expire"
OFFERS = m.Offer.__table__


@dataclass(frozen=True)
class Plan:
    """The offers a decision makes (built in memory, written by the caller)."""

    kind: str  # push | shotgun
    agents: tuple[str, ...]
    deadline: datetime
    target: dict[str, Any]
    escalate: dict[str, Any] | None
    fallback_queue: str
    flow_key: str | None
    rule: str | None

    def rows(self, lead_id: int, agent_ids: Mapping[str, int], now: datetime, *,
             round_: int = 1, phase: int = 0) -> list[dict[str, Any]]:
        return [{"lead_id": lead_id, "agent_id": agent_ids[k], "kind": self.kind,
                 "round": round_, "phase": phase, "status": "offered", "offered_at": now,
                 "deadline": self.deadline, "responded_at": None, "flow_key": self.flow_key,
                 "rule": self.rule, "target": self.target, "escalate": self.escalate,
                 "fallback_queue": self.fallback_queue}
                for k in self.agents if k in agent_ids]

    def job(self, lead_id: int, now: datetime, round_: int = 1) -> dict[str, Any]:
        """The round's durable timer, as a ``jobs`` row."""
        return {"kind": EXPIRE, "payload": {"lead_id": lead_id, "round": round_},
                "status": "pending", "attempts": 0, "max_attempts": 8,
                "run_after": self.deadline, "created_at": now}


def is_push(decision: Decision) -> bool:
    return decision.outcome == "assigned" and bool(decision.agent) and \
        decision.accept_within is not None


def plan(flow: Flow | None, decision: Decision, now: datetime) -> Plan | None:
    """The offers ``decision`` makes, or None when it makes none."""
    if is_push(decision):
        kind, agents = "push", (decision.agent or "",)
    elif decision.outcome == "offered" and decision.agents:
        kind, agents = "shotgun", tuple(decision.agents)
    else:
        return None
    window = decision.accept_within or DEFAULT_WINDOW
    target = dict(decision.target)
    target["accept_within"] = window.total_seconds()
    escalate = None
    if flow is not None and decision.rule_index is not None:
        esc = flow.rules[decision.rule_index].escalate
        escalate = esc.to_dict() if esc is not None else None
    fb = flow.fallback if flow is not None else None
    return Plan(kind, agents, now + window, target, escalate,
                (fb.queue if fb is not None and fb.queue else "unassigned"),
                flow.key if flow is not None else None, decision.rule)


def event_data(p: Plan, now: datetime) -> dict[str, Any]:
    return {"kind": p.kind, "deadline": p.deadline.isoformat(),
            "accept_within": (p.deadline - now).total_seconds()}


def start(uow: UnitOfWork, lead: m.Lead, decision: Decision, now: datetime) -> Plan | None:
    """Carry out an offering decision on the ORM path (requeues, approvals)."""
    snap = snapshot.current(uow.session)
    published = snap.flows.get(lead.flow_key) if lead.flow_key else None
    p = plan(published[0] if published else None, decision, now)
    if p is None:
        return None
    ids = {k: snap.agents[k].id for k in p.agents if k in snap.agents}
    if lead.status in loads.OPEN_STATUSES and lead.assignee_id is not None:
        loads.change_open(uow.session, lead.assignee_id, -1)
    lead.status, lead.queue = "offered", None
    if p.kind == "push":
        info = snap.agents[p.agents[0]]
        hold_for(uow, lead, info.id, now, method=decision.method, rule=decision.rule)
    else:
        lead.assignee_id = None
    uow.session.flush()
    uow.session.execute(OFFERS.insert(), p.rows(lead.id, ids, now))
    jobs.enqueue(uow, EXPIRE, {"lead_id": lead.id, "round": 1}, now, delay=p.deadline - now)
    notifications.queue_for(uow, lead.id, "offered" if p.kind == "push" else "claimable",
                            list(ids.values()), now, round_=1, flow_key=lead.flow_key)
    timeline.record(uow, lead, "offered", now, actor="router", agents=list(p.agents),
                    rule=decision.rule, summary=decision.trace.summary, round=1,
                    **event_data(p, now))
    return p


def hold_for(uow: UnitOfWork, lead: m.Lead, agent_id: int, now: datetime, *,
              method: str | None, rule: str | None, status: str = "offered") -> None:
    """Give ``lead`` to an agent (offered or assigned): assignment row and load."""
    snap = snapshot.current(uow.session)
    info = snap.agents_by_id.get(agent_id)
    agent = uow.session.get(m.Agent, agent_id)
    assert agent is not None
    lead.assignee_id, lead.assignee, lead.assigned_at = agent_id, agent, now
    uow.session.add(m.Assignment(
        lead_id=lead.id, agent_id=agent_id, flow_key=lead.flow_key,
        flow_version=lead.flow_version, rule=rule, method=method,
        status=status, assigned_at=now))  # its trace: the lead's decision
    from leadgate.services.routing import domain_agent

    loads.record_assignments(uow.session, [(agent_id, info.agent if info else
                                            domain_agent(agent), now)])


def end_assignment(uow: UnitOfWork, lead: m.Lead, status: str, now: datetime) -> None:
    """Close the lead's current assignment row (offered or active) and free the load."""
    if lead.status in loads.OPEN_STATUSES and lead.assignee_id is not None:
        loads.change_open(uow.session, lead.assignee_id, -1)
    uow.session.execute(
        update(m.Assignment).where(m.Assignment.lead_id == lead.id,
                                   m.Assignment.status.in_(("offered", "active")))
        .values(status=status, ended_at=now))


def lock_lead(uow: UnitOfWork, lead_id: int) -> m.Lead | None:
    """The lead, locked until commit (``FOR UPDATE OF leads`` on PostgreSQL)."""
    q = select(m.Lead).where(m.Lead.id == lead_id).execution_options(populate_existing=True)
    if uow.dialect == "postgresql":
        q = q.with_for_update(of=m.Lead)
    return uow.session.scalar(q)


def get_offer(uow: UnitOfWork, principal: Principal, offer_id: int) -> m.Offer:
    """An offer the caller may act on: their own (reps) or any (managers); else 404."""
    principal.require_user()
    offer = uow.session.get(m.Offer, offer_id)
    if offer is None or not (principal.is_manager or offer.agent_id == principal.agent_id):
        raise NotFound(f"no offer {offer_id}")
    return offer


def _after(offer: m.Offer, now: datetime) -> float:
    return round((now - offer.offered_at).total_seconds(), 3)


def accept(uow: UnitOfWork, principal: Principal, offer_id: int, now: datetime) -> m.Offer:
    """Accept a push offer before its deadline (a shotgun offer is claimed instead)."""
    offer = get_offer(uow, principal, offer_id)
    if offer.kind == "shotgun":
        claim(uow, principal, offer.lead_id, now, agent_id=offer.agent_id)
        uow.session.refresh(offer)
        return offer
    lead = lock_lead(uow, offer.lead_id)
    assert lead is not None
    uow.session.refresh(offer)
    _check_open(offer, now)
    offer.status, offer.responded_at = "accepted", now
    lead.status = "assigned"
    uow.session.execute(
        update(m.Assignment).where(m.Assignment.lead_id == lead.id,
                                   m.Assignment.agent_id == offer.agent_id,
                                   m.Assignment.status == "offered").values(status="active"))
    timeline.record(uow, lead, "offer_accepted", now, actor=principal.actor,
                    agent=offer.agent.key, round=offer.round, after_seconds=_after(offer, now))
    return offer


def _check_open(offer: m.Offer, now: datetime) -> None:
    if offer.status != "offered":
        code = "already_claimed" if offer.status == "lost" else "offer_closed"
        raise Conflict(f"offer {offer.id} is {offer.status}", code=code)
    if offer.deadline <= now:
        raise Conflict(f"offer {offer.id} expired at {offer.deadline.isoformat()}",
                       code="offer_expired")


def decline(uow: UnitOfWork, principal: Principal, offer_id: int, now: datetime, *,
            reason: str | None = None) -> m.Offer:
    """Decline an offer: a push offer bounces at once; a shotgun offer when everyone
    offered has declined."""
    offer = get_offer(uow, principal, offer_id)
    lead = lock_lead(uow, offer.lead_id)
    assert lead is not None
    uow.session.refresh(offer)
    _check_open(offer, now)
    offer.status, offer.responded_at = "declined", now
    timeline.record(uow, lead, "offer_declined", now, actor=principal.actor,
                    agent=offer.agent.key, round=offer.round, reason=reason,
                    after_seconds=_after(offer, now))
    uow.session.flush()
    still = uow.session.scalar(select(m.Offer.id).where(
        m.Offer.lead_id == lead.id, m.Offer.round == offer.round,
        m.Offer.status == "offered").limit(1))
    if still is None:
        _bounce(uow, lead, offer, now)
    return offer


def claim(uow: UnitOfWork, principal: Principal, lead_id: int, now: datetime, *,
          agent_id: int | None = None) -> m.Lead:
    """Claim a shotgun lead: exactly one claim wins (one conditional UPDATE)."""
    principal.require_user()
    agent_id = agent_id if agent_id is not None else principal.agent_id
    if agent_id is None:
        raise Forbidden("this user is not linked to an agent")
    offer = uow.session.scalar(select(m.Offer).where(
        m.Offer.lead_id == lead_id, m.Offer.agent_id == agent_id, m.Offer.kind == "shotgun")
        .order_by(m.Offer.id.desc()).limit(1))
    if offer is None:
        raise NotFound(f"no lead {lead_id} offered to you")
    if offer.status == "offered":
        # still eligible now (status, hours, caps, open-lead limit): the offer went out
        # up to a window ago. Locks the rep's load row, so one rep's claims stay in cap.
        from leadgate.services.pull import require_eligible

        info = snapshot.current(uow.session).agents_by_id.get(agent_id)
        if info is not None:
            require_eligible(uow, info, now)
    won = uow.session.execute(
        update(m.Lead).where(m.Lead.id == lead_id, m.Lead.status == "offered",
                             m.Lead.assignee_id.is_(None))
        .values(status="assigned", assignee_id=agent_id, assigned_at=now, queue=None)
        .execution_options(synchronize_session=False)).rowcount
    uow.session.refresh(offer)
    if not won or offer.status != "offered":
        raise Conflict(f"lead {lead_id} was already claimed or is no longer offered",
                       code="already_claimed")
    if offer.deadline <= now:
        raise Conflict(f"the offer expired at {offer.deadline.isoformat()}",
                       code="offer_expired")
    offer.status, offer.responded_at = "accepted", now
    uow.session.execute(update(m.Offer).where(
        m.Offer.lead_id == lead_id, m.Offer.round == offer.round, m.Offer.status == "offered",
        m.Offer.id != offer.id).values(status="lost", responded_at=now))
    lead = uow.session.get(m.Lead, lead_id, populate_existing=True)
    assert lead is not None
    hold_for(uow, lead, agent_id, now, method="shotgun", rule=offer.rule,
              status="active")
    timeline.record(uow, lead, "claimed", now, actor=principal.actor, agent=offer.agent.key,
                    round=offer.round, after_seconds=_after(offer, now))
    return lead


@jobs.handler(EXPIRE)
def expire(uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
    """A round's deadline: offers still open expire and the lead bounces (idempotent)."""
    lead = lock_lead(uow, int(payload["lead_id"]))
    if lead is None or lead.status != "offered":
        return
    open_ = list(uow.session.scalars(select(m.Offer).where(
        m.Offer.lead_id == lead.id, m.Offer.round == int(payload["round"]),
        m.Offer.status == "offered").order_by(m.Offer.id)))
    if not open_:
        return  # accepted, declined or claimed before the deadline
    if open_[0].deadline > now:  # woken early: keep the timer
        jobs.enqueue(uow, EXPIRE, dict(payload), now, delay=open_[0].deadline - now)
        return
    for offer in open_:
        offer.status, offer.responded_at = "expired", now
        timeline.record(uow, lead, "offer_expired", now, actor="timer",
                        agent=offer.agent.key, round=offer.round,
                        offered_at=offer.offered_at.isoformat(),
                        deadline=offer.deadline.isoformat(), after_seconds=_after(offer, now))
    _bounce(uow, lead, open_[0], now)  # committed with the job's "done" by the worker
    from leadgate.services.inbox import announce  # inbox reads offers

    # live: the next rep sees the offer, the rep who let it lapse sees it go
    announce(uow, lead.id, now, kind="expired",
             previous=open_[0].agent_id if open_[0].kind == "push" else None)


def _bounce(uow: UnitOfWork, lead: m.Lead, last: m.Offer, now: datetime) -> None:
    """The round of ``last`` ended unanswered: next rep, escalation or fallback queue."""
    from leadgate.services.routing import lead_facts, load_candidates

    s = uow.session
    snap = snapshot.current(s)
    excluded = {snap.agents_by_id[a].key for a in s.scalars(
        select(m.Offer.agent_id).where(m.Offer.lead_id == lead.id)) if a in snap.agents_by_id}
    facts = lead_facts(lead, now)
    esc = Escalation.from_dict(last.escalate) if last.phase == 0 else None
    members: Sequence[Any] = ()
    if last.kind == "push":
        end_assignment(uow, lead, "expired" if last.status == "expired" else "declined", now)
        members = _members(uow, last.target, facts, now, load_candidates)
    esc_members: Sequence[Any] = ()
    esc_target: dict[str, Any] = {}
    if esc is not None and esc.kind == "pool":
        esc_target = {**esc.pool, "method": "round_robin",
                      "accept_within": last.target.get("accept_within")}
        esc_members = _members(uow, esc_target, facts, now, load_candidates)
    current = last.agent.key if last.kind == "push" else None
    b = bounce(current, members, excluded, esc, last.fallback_queue, now,
               escalation_members=esc_members)
    actor = "timer" if last.status == "expired" else "router"
    lead.assignee_id, lead.assignee = None, None
    if b.action == "offer" and b.agent in snap.agents:
        phase = 1 if b.escalated else last.phase
        target = esc_target if b.escalated else dict(last.target)
        window = parse_duration(target.get("accept_within") or
                                DEFAULT_WINDOW.total_seconds(), path="accept_within")
        p = Plan("push", (b.agent,), now + window, target,
                 None if phase == 1 else last.escalate, last.fallback_queue, last.flow_key,
                 last.rule)
        round_ = last.round + 1
        lead.status, lead.queue = "offered", None
        hold_for(uow, lead, snap.agents[b.agent].id, now, method=target.get("method"),
                  rule=last.rule)
        s.flush()
        s.execute(OFFERS.insert(), p.rows(lead.id, {b.agent: snap.agents[b.agent].id}, now,
                                          round_=round_, phase=phase))
        jobs.enqueue(uow, EXPIRE, {"lead_id": lead.id, "round": round_}, now,
                     delay=p.deadline - now)
        notifications.queue_for(uow, lead.id, "offered", [snap.agents[b.agent].id], now,
                                round_=round_, flow_key=lead.flow_key)
        timeline.record(uow, lead, "offered", now, actor=actor, agents=[b.agent],
                        rule=last.rule, round=round_, bounced_from=current,
                        escalated=b.escalated, skipped=b.to_dict()["skipped"],
                        **event_data(p, now))
        return
    if b.action == "assign" and b.agent in snap.agents:
        lead.status, lead.queue = "assigned", None
        hold_for(uow, lead, snap.agents[b.agent].id, now, method="escalation",
                  rule=last.rule, status="active")
        notifications.queue_for(uow, lead.id, "assigned", [snap.agents[b.agent].id], now,
                                flow_key=lead.flow_key)
        timeline.record(uow, lead, "escalated", now, actor=actor, to_agent=b.agent,
                        rule=last.rule, round=last.round)
        return
    queue = b.queue or last.fallback_queue
    lead.status = "queued" if queue != "unassigned" else "unassigned"
    lead.queue = queue
    timeline.record(uow, lead, "escalated", now, actor=actor, to_queue=queue,
                    rule=last.rule, round=last.round, skipped=b.to_dict()["skipped"])


def _members(uow: UnitOfWork, target: Mapping[str, Any], facts: Mapping[str, Any],
             now: datetime, load_candidates: Any) -> list[Any]:
    pool = parse_pool(target, "target", agents=None, teams=None, fields=None)
    if pool is None:
        return []
    keys = [c.agent.key for c in pool.resolve(snapshot.current(uow.session).roster, facts)]
    return list(load_candidates(uow, now, keys=keys, lock=True)) if keys else []


def cancel_open(uow: UnitOfWork, lead: m.Lead, now: datetime) -> int:
    """Cancel the lead's open offers (a manager reassigned it); their timers then idle."""
    return int(uow.session.execute(
        update(m.Offer).where(m.Offer.lead_id == lead.id, m.Offer.status == "offered")
        .values(status="cancelled", responded_at=now)).rowcount or 0)


def offer_dict(o: m.Offer) -> dict[str, Any]:
    return {"id": o.id, "lead_id": o.lead_id, "agent": o.agent.key, "kind": o.kind,
            "round": o.round, "status": o.status, "offered_at": o.offered_at.isoformat(),
            "deadline": o.deadline.isoformat(),
            "responded_at": o.responded_at.isoformat() if o.responded_at else None,
            "rule": o.rule, "escalated": o.phase == 1}


OFFER_STATUSES = ("offered", "accepted", "declined", "expired", "lost", "cancelled")


def list_offers(uow: UnitOfWork, principal: Principal, *, status: str | None = "offered",
                agent: str | None = None, lead_id: int | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
    """Pending offers (or ``status``): a rep's own; managers all, filtered."""
    principal.require_user()
    q = select(m.Offer)
    if status:
        if status not in OFFER_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(OFFER_STATUSES)}",
                               code="invalid_query")
        q = q.where(m.Offer.status == status)
    if not principal.is_manager:
        if principal.agent_id is None:
            raise Forbidden("this user is not linked to an agent")
        q = q.where(m.Offer.agent_id == principal.agent_id)
    elif agent:
        q = q.where(m.Offer.agent_id.in_(select(m.Agent.id).where(m.Agent.key == agent)))
    if lead_id is not None:
        q = q.where(m.Offer.lead_id == lead_id)
    return [offer_dict(o) for o in uow.session.scalars(
        q.order_by(m.Offer.deadline, m.Offer.id).limit(limit))]
