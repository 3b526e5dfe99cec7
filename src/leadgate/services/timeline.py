"""Lead timeline events: every step of the pipeline writes one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert

from leadgate.store.models import Lead, LeadEvent
from leadgate.store.uow import UnitOfWork

_INSERT = insert(cast(Table, LeadEvent.__table__))


def record(uow: UnitOfWork, lead: Lead, type_: str, now: datetime, *,
           actor: str | None = None, **data: Any) -> LeadEvent:
    event = LeadEvent(lead_id=lead.id, type=type_, actor=actor, data=data, at=now)
    uow.session.add(event)
    return event


def add(uow: UnitOfWork, lead_id: int, type_: str, now: datetime, *,
        actor: str | None = None, **data: Any) -> None:
    """:func:`record` as one Core INSERT, no ORM object (the lead's ``events``
    relationship, if loaded, does not see it)."""
    uow.session.execute(_INSERT, {"lead_id": lead_id, "type": type_, "actor": actor,
                                  "data": data, "at": now})
