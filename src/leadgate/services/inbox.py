"""The rep's inbox and the manager's offers in flight: read-side queries, and the
live notices the work loop's console actions publish.

Reads only, apart from :func:`announce`: offers for one rep (push offers to accept,
shotgun offers to claim), the rep's open leads, what waits in the pull queues the
rep may take from, and for managers the offers in flight and the SLA breaches
(offers that expired or went past their deadline, from the ``offers`` table and
the timeline's ``offered`` / ``escalated`` events that followed them).

The services of the work loop (``services/offers.py``, ``pull.py``,
``reassign.py``) publish no notices of their own: :func:`announce` tells the
people concerned once the action has committed (the other reps of a shotgun
that someone claimed, the rep a declined lead went to next, the old and new
holder of a reassigned lead), so their open inboxes refresh themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from leadgate.domain.errors import Forbidden
from leadgate.services import notify, pull
from leadgate.services.ingest import lead_summary
from leadgate.services.leads import display_name
from leadgate.services.principal import Principal
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

#: rows per inbox section and per manager table
LIMIT = 100
#: leads previewed per selective queue in the inbox
PREVIEW = 20
#: what a timeline records when an unanswered round ends
AFTERMATH = ("offered", "escalated", "claimed", "reassigned")


def require_agent(principal: Principal) -> int:
    """The caller's agent id; 403 for a user not linked to an agent."""
    principal.require_user()
    if principal.agent_id is None:
        raise Forbidden("this user is not linked to an agent")
    return principal.agent_id


def seconds_left(deadline: datetime, now: datetime) -> int:
    """Whole seconds until ``deadline`` (0 once it has passed)."""
    return max(0, int((deadline - now).total_seconds()))


def _offer_row(o: m.Offer, lead: m.Lead, now: datetime) -> dict[str, Any]:
    return {"id": o.id, "lead_id": o.lead_id, "name": display_name(lead),
            "campaign": lead.campaign.key, "score": lead.score, "grade": lead.grade,
            "kind": o.kind, "round": o.round, "status": o.status, "rule": o.rule,
            "agent": {"key": o.agent.key, "name": o.agent.name},
            "offered_at": o.offered_at.isoformat(), "deadline": o.deadline.isoformat(),
            "seconds_left": seconds_left(o.deadline, now), "lead_status": lead.status,
            "escalated": o.phase == 1}


def _my_offers(uow: UnitOfWork, principal: Principal, kind: str,
               now: datetime) -> list[dict[str, Any]]:
    agent_id = require_agent(principal)
    rows = uow.session.execute(
        select(m.Offer, m.Lead).join(m.Lead, m.Lead.id == m.Offer.lead_id)
        .where(m.Offer.agent_id == agent_id, m.Offer.kind == kind,
               m.Offer.status == "offered", m.Lead.status == "offered")
        .order_by(m.Offer.deadline, m.Offer.id).limit(LIMIT)).all()
    return [_offer_row(o, lead, now) for o, lead in rows]


def push_offers(uow: UnitOfWork, principal: Principal, now: datetime) -> list[dict[str, Any]]:
    """Leads offered to this rep alone, soonest deadline first (accept or decline)."""
    return _my_offers(uow, principal, "push", now)


def shotgun_offers(uow: UnitOfWork, principal: Principal,
                   now: datetime) -> list[dict[str, Any]]:
    """Shotgun leads this rep may still claim (nobody has yet), soonest deadline first."""
    return _my_offers(uow, principal, "shotgun", now)


def my_open_leads(uow: UnitOfWork, principal: Principal) -> list[dict[str, Any]]:
    """Leads assigned to this rep and not closed, newest assignment first."""
    agent_id = require_agent(principal)
    leads = uow.session.scalars(
        select(m.Lead).where(m.Lead.assignee_id == agent_id, m.Lead.status == "assigned")
        .order_by(m.Lead.assigned_at.desc(), m.Lead.id.desc()).limit(LIMIT))
    return [{**lead_summary(lead), "name": display_name(lead)} for lead in leads]


def my_queues(uow: UnitOfWork, principal: Principal, now: datetime) -> list[dict[str, Any]]:
    """The pull queues this rep may take from: a blind queue with how many wait in it,
    a selective one with its first leads (``pull.preview``)."""
    require_agent(principal)
    try:
        specs = pull.my_queues(uow, principal)
    except Forbidden:  # the rep's agent was deactivated: nothing to pull
        return []
    out = []
    for spec in specs:
        row: dict[str, Any] = spec.to_dict()
        if spec.mode == "selective":
            row["items"] = pull.preview(uow, principal, spec.name, now,
                                        limit=PREVIEW)["items"]
        out.append(row)
    return out


# -- managers ------------------------------------------------------------------------------

def in_flight(uow: UnitOfWork, principal: Principal, now: datetime) -> list[dict[str, Any]]:
    """Every open offer (managers), soonest deadline first; ``overdue`` when its
    deadline has passed and the timer has not bounced it yet."""
    principal.require_manager()
    rows = uow.session.execute(
        select(m.Offer, m.Lead).join(m.Lead, m.Lead.id == m.Offer.lead_id)
        .where(m.Offer.status == "offered")
        .order_by(m.Offer.deadline, m.Offer.id).limit(LIMIT)).all()
    return [{**_offer_row(o, lead, now), "overdue": o.deadline <= now} for o, lead in rows]


def breaches(uow: UnitOfWork, principal: Principal, now: datetime) -> list[dict[str, Any]]:
    """SLA breaches, newest first (managers): offers that expired unanswered and open
    offers already past their deadline, each with what the timeline recorded next
    (the rep it bounced to, the escalation, a claim or a reassignment)."""
    principal.require_manager()
    rows = uow.session.execute(
        select(m.Offer, m.Lead).join(m.Lead, m.Lead.id == m.Offer.lead_id)
        .where((m.Offer.status == "expired")
               | ((m.Offer.status == "offered") & (m.Offer.deadline <= now)))
        .order_by(m.Offer.deadline.desc(), m.Offer.id.desc()).limit(LIMIT)).all()
    lead_ids = {o.lead_id for o, _ in rows}
    events: dict[int, list[m.LeadEvent]] = {}
    if lead_ids:
        for e in uow.session.scalars(
                select(m.LeadEvent).where(m.LeadEvent.lead_id.in_(lead_ids),
                                          m.LeadEvent.type.in_(AFTERMATH))
                .order_by(m.LeadEvent.id)):
            events.setdefault(e.lead_id, []).append(e)
    out = []
    for o, lead in rows:
        late = (o.responded_at or now) - o.deadline
        out.append({**_offer_row(o, lead, now),
                    "late_seconds": max(0, int(late.total_seconds())),
                    "breach": "expired" if o.status == "expired" else "past deadline",
                    "then": _then(events.get(o.lead_id, []), o),
                    "holder": lead.assignee.key if lead.assignee else None,
                    "queue": lead.queue})
    return out


def _then(events: list[m.LeadEvent], offer: m.Offer) -> str:
    """What happened to the lead after ``offer``'s round ended, in a few words."""
    if offer.status == "offered":
        return "waiting for the timer"
    for e in events:
        if e.at < (offer.responded_at or offer.deadline):
            continue
        d = e.data or {}
        if e.type == "offered" and int(d.get("round") or 0) > offer.round:
            agents = ", ".join(str(a) for a in d.get("agents") or [])
            return f"offered to {agents}" + (" (escalated)" if d.get("escalated") else "")
        if e.type == "escalated":
            if d.get("to_agent"):
                return f"escalated to {d['to_agent']}"
            return f"escalated to queue {d.get('to_queue')}"
        if e.type == "claimed":
            return f"claimed by {d.get('agent')}"
        if e.type == "reassigned":
            to = d.get("to_agent") or f"queue {d.get('to_queue')}"
            return f"reassigned to {to}"
    return "—"


def reassign_choices(uow: UnitOfWork) -> dict[str, list[str]]:
    """Where a manager may send a lead: active agents and the pull queues."""
    from leadgate.services import snapshot

    snap = snapshot.current(uow.session)
    return {"agents": sorted(snap.agents), "queues": sorted(pull.queues(snap))}


# -- notices --------------------------------------------------------------------------------

def announce(uow: UnitOfWork, lead_id: int, now: datetime, *, kind: str,
             previous: int | None = None) -> None:
    """After a console action on ``lead_id`` (call before commit; published after it):
    tell the lead's holder or the reps it is now offered to, the other reps of a
    shotgun round that was just claimed, and the previous holder (``previous``)."""
    s = uow.session
    lead = s.get(m.Lead, lead_id)
    if lead is None:
        return
    body = {"id": lead.id, "status": lead.status, "queue": lead.queue,
            "assignee": {"key": lead.assignee.key, "name": lead.assignee.name}
            if lead.assignee else None}
    at = now.isoformat()
    notices: list[notify.Notice] = []
    if lead.status == "offered":
        for o in s.scalars(select(m.Offer).where(m.Offer.lead_id == lead.id,
                                                 m.Offer.status == "offered")):
            notices.append(notify.Notice("lead.offered", o.agent_id,
                                         {"lead": body, "at": at,
                                          "deadline": o.deadline.isoformat()}))
    elif lead.status == "assigned" and lead.assignee_id is not None:
        notices.append(notify.Notice("lead.assigned", lead.assignee_id,
                                     {"lead": body, "at": at}))
    elif lead.status in ("queued", "unassigned"):
        notices.append(notify.Notice("lead.queued", None, {"lead": body, "at": at}))
    # the other reps of a round that was just claimed, or whose offers were cancelled
    for status, name in (("lost", "lead.claimed"), ("cancelled", f"lead.{kind}")):
        for agent_id in s.scalars(select(m.Offer.agent_id).where(
                m.Offer.lead_id == lead.id, m.Offer.status == status,
                m.Offer.responded_at == now)):
            if agent_id != previous:
                notices.append(notify.Notice(name, agent_id, {"lead": body, "at": at}))
    if previous is not None and previous != lead.assignee_id:
        notices.append(notify.Notice(f"lead.{kind}", previous, {"lead": body, "at": at}))
    notify.publish_after_commit(uow, notices)
