"""The quarantine queue: a person approves (the lead is routed) or refuses it."""

from __future__ import annotations

from datetime import datetime

from leadgate.domain.errors import Conflict, NotFound
from leadgate.services import timeline
from leadgate.services.principal import Principal
from leadgate.services.routing import route_lead
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork


def _quarantined(uow: UnitOfWork, principal: Principal, lead_id: int) -> m.Lead:
    principal.require_manager()
    lead = uow.session.get(m.Lead, lead_id)
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    if lead.status != "quarantined":
        raise Conflict(f"lead {lead_id} is {lead.status}, not quarantined")
    return lead


def approve(uow: UnitOfWork, principal: Principal, lead_id: int, now: datetime) -> m.Lead:
    lead = _quarantined(uow, principal, lead_id)
    timeline.record(uow, lead, "approved", now, actor=principal.actor)
    route_lead(uow, lead, now, actor=principal.actor)
    uow.commit()
    return lead


def refuse(uow: UnitOfWork, principal: Principal, lead_id: int, now: datetime,
           note: str | None = None) -> m.Lead:
    lead = _quarantined(uow, principal, lead_id)
    lead.status = "rejected"
    lead.reasons = [*(lead.reasons or []),
                    {"code": "refused_by_reviewer", "field": None,
                     "message": note or f"refused by {principal.name}"}]
    timeline.record(uow, lead, "refused", now, actor=principal.actor, note=note)
    uow.commit()
    return lead
