"""Lead timeline events: every step of the pipeline writes one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadgate.store.models import Lead, LeadEvent
from leadgate.store.uow import UnitOfWork


def record(uow: UnitOfWork, lead: Lead, type_: str, now: datetime, *,
           actor: str | None = None, **data: Any) -> LeadEvent:
    event = LeadEvent(lead_id=lead.id, type=type_, actor=actor, data=data, at=now)
    uow.session.add(event)
    return event
