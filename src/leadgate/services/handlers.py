"""Job handlers run by the worker after the transaction that queued them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from leadgate.services import deliveries, offers, timeline  # noqa: F401  (their handlers)
from leadgate.services.jobs import handler
from leadgate.services.market import sell  # noqa: F401  (the lead.sell handler)
from leadgate.services.routing import route_lead
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

REQUEUE_BATCH = 200
#: leads routing held until their pool opens (``when_nobody: hold``). Leads in other
#: queues (pull queues, an escalation's or a manager's queue) stay until someone
#: takes them: routing them again would undo the escalation every minute.
HELD = (m.Lead.status == "queued", m.Lead.queue.like("hold:%"))


@handler("lead.assigned")
def notify_assigned(uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
    """Tell the assignee. Today the console inbox is the channel (it lists the
    lead at once); email and webhook destinations hook in here."""
    lead = uow.session.get(m.Lead, payload["lead_id"])
    if lead is None or lead.assignee is None or lead.assignee.key != payload.get("agent"):
        return  # reassigned or gone since: nothing to say any more
    already = uow.session.scalar(select(m.LeadEvent.id).where(
        m.LeadEvent.lead_id == lead.id, m.LeadEvent.type == "notified",
        m.LeadEvent.actor == "worker"))
    if already is None:
        timeline.record(uow, lead, "notified", now, actor="worker", agent=lead.assignee.key,
                        channel="console")
    uow.commit()


@handler("queue.retry")
def retry_queued(uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
    """Someone became eligible: give held leads (oldest first) another chance."""
    leads = list(uow.session.scalars(
        select(m.Lead).where(*HELD).order_by(m.Lead.id).limit(REQUEUE_BATCH)))
    for lead in leads:
        route_lead(uow, lead, now, actor="requeue")
    uow.commit()


@handler("lead.reroute")
def reroute(uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
    """A held lead's wait is over (its pool opens now): route it again."""
    lead = uow.session.get(m.Lead, payload["lead_id"])
    if lead is None or lead.status != "queued":
        return  # placed in the meantime
    route_lead(uow, lead, now, actor="requeue")
    uow.commit()


#: How often the worker looks for held leads that may now be placeable (caps
#: reset at hour, day, week and month boundaries in each agent's time zone).
RETRY_EVERY_SECONDS = 60.0


def schedule_queue_retry(uow: UnitOfWork, now: datetime) -> None:
    """Queue one ``queue.retry`` if leads are held and none is pending already."""
    from leadgate.services.jobs import enqueue
    from leadgate.store.models import Job

    held = uow.session.scalar(select(m.Lead.id).where(*HELD).limit(1))
    if held is None:
        return
    pending = uow.session.scalar(select(Job.id).where(
        Job.kind == "queue.retry", Job.status.in_(("pending", "running"))).limit(1))
    if pending is None:
        enqueue(uow, "queue.retry", {"reason": "periodic"}, now)
        uow.commit()
