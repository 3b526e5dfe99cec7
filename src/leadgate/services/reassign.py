"""A manager reassigns a lead; a rep releases one back to its queue.

Both are audited (a timeline event and an ``audit_log`` entry), cancel the lead's
open offers (their timers then find nothing to do), keep loads exact (the old
holder's open count -1, the new one's assignment recorded) and never touch the
flow's routing state: a manual reassignment does not move the rotation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from leadgate.domain.errors import Conflict, InvalidInput, NotFound
from leadgate.services import notifications, offers, snapshot, timeline
from leadgate.services.principal import Principal
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

#: a closed or refused lead is not handed around any more
FINAL = ("rejected", "merged", "won", "lost", "quarantined", "sell", "sold")


def _where(lead: m.Lead) -> dict[str, Any]:
    return {"status": lead.status, "agent": lead.assignee.key if lead.assignee else None,
            "queue": lead.queue}


def _audit(uow: UnitOfWork, principal: Principal, action: str, lead: m.Lead,
           before: dict[str, Any], reason: str | None, now: datetime) -> None:
    uow.session.add(m.AuditEntry(actor=principal.actor, action=action, entity="lead",
                                 entity_key=str(lead.id), before=before,
                                 after={**_where(lead), "reason": reason}, at=now))


def _to_queue(lead: m.Lead, queue: str) -> None:
    lead.status = "queued" if queue != "unassigned" else "unassigned"
    lead.queue = queue
    lead.assignee_id, lead.assignee = None, None


def reassign(uow: UnitOfWork, principal: Principal, lead_id: int, now: datetime, *,
             agent: str | None = None, queue: str | None = None,
             reason: str) -> m.Lead:
    """Give the lead to ``agent`` (assigned at once) or put it in ``queue`` (managers)."""
    principal.require_manager()
    if (agent is None) == (queue is None):
        raise InvalidInput("give either agent or queue", code="invalid_body")
    if not reason or not reason.strip():
        raise InvalidInput("a reassignment needs a reason", code="invalid_body")
    lead = offers.lock_lead(uow, lead_id)
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    if lead.status in FINAL:
        raise Conflict(f"lead {lead_id} is {lead.status} and cannot be reassigned",
                       code="not_reassignable")
    info = None
    if agent is not None:
        info = snapshot.current(uow.session).agents.get(agent)
        if info is None:
            raise InvalidInput(f"no active agent {agent!r}", code="invalid_body")
    before = _where(lead)
    offers.cancel_open(uow, lead, now)
    offers.end_assignment(uow, lead, "reassigned", now)
    if info is not None:
        lead.status, lead.queue = "assigned", None
        offers.hold_for(uow, lead, info.id, now, method="manual", rule=None, status="active")
        notifications.queue_for(uow, lead.id, "assigned", [info.id], now)
    else:
        _to_queue(lead, queue or "unassigned")
    uow.session.flush()
    timeline.record(uow, lead, "reassigned", now, actor=principal.actor,
                    **{"from": before, "to_agent": agent, "to_queue": queue, "reason": reason})
    _audit(uow, principal, "reassigned", lead, before, reason, now)
    return lead


def release(uow: UnitOfWork, principal: Principal, lead_id: int, now: datetime, *,
            reason: str | None = None) -> m.Lead:
    """The assignee (or a manager) hands an assigned lead back to the queue it came
    from (the one it was pulled or claimed from; ``unassigned`` otherwise)."""
    principal.require_user()
    lead = offers.lock_lead(uow, lead_id)
    if lead is None or not (principal.is_manager or (
            principal.agent_id is not None and lead.assignee_id == principal.agent_id)):
        raise NotFound(f"no lead {lead_id}")
    if lead.status != "assigned":
        raise Conflict(f"lead {lead_id} is {lead.status}, not assigned", code="not_assigned")
    came_from = uow.session.scalar(
        select(m.LeadEvent).where(m.LeadEvent.lead_id == lead.id,
                                  m.LeadEvent.type.in_(("pulled", "claimed", "queued")))
        .order_by(m.LeadEvent.id.desc()).limit(1))
    queue = str((came_from.data or {}).get("queue") or "unassigned") if came_from else \
        "unassigned"
    if queue.startswith("hold:"):
        queue = "unassigned"  # a hold queue is re-routed, not pulled: nobody would see it
    before = _where(lead)
    offers.end_assignment(uow, lead, "released", now)
    _to_queue(lead, queue)
    uow.session.flush()
    timeline.record(uow, lead, "released", now, actor=principal.actor,
                    agent=before["agent"], queue=queue, reason=reason)
    _audit(uow, principal, "released", lead, before, reason, now)
    return lead
