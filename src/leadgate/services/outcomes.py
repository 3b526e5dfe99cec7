"""Outcomes posted back by a rep, a CRM or a manager: contacted, qualified,
won (with revenue), lost (with a reason). Won and lost close the lead; the
outcome history is what the learned scoring model trains on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadgate.domain.errors import Forbidden, InvalidInput
from leadgate.services import leads as lead_reads
from leadgate.services import loads, timeline
from leadgate.services.principal import Principal
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

OUTCOMES = ("contacted", "qualified", "won", "lost")
CLOSING = {"won", "lost"}


def record_outcome(uow: UnitOfWork, principal: Principal, lead_id: int, outcome: str,
                   now: datetime, *, revenue: float | None = None,
                   reason: str | None = None) -> m.Lead:
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}",
                           code="invalid_outcome")
    if revenue is not None and (outcome != "won" or revenue < 0):
        raise InvalidInput("revenue is a non-negative amount given with outcome 'won'",
                           code="invalid_outcome")
    lead = lead_reads.get_lead(uow, principal, lead_id)  # agents: own leads only
    if lead.status in ("rejected", "merged") and not principal.is_manager:
        raise Forbidden("outcomes are for accepted leads")
    data: dict[str, Any] = {"outcome": outcome}
    if revenue is not None:
        data["revenue"] = revenue
    if reason:
        data["reason"] = reason
    if outcome in CLOSING:
        loads.lead_status_changed(uow.session, lead.assignee_id, lead.assigned_at,
                                  lead.status, outcome, now)
        lead.status = outcome
    elif outcome == "qualified":
        data["qualified"] = True
    timeline.record(uow, lead, outcome, now, actor=principal.actor, **data)
    uow.commit()
    return lead
