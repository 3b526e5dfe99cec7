"""Reading leads: lists with filters and pagination, one lead with its
timeline and decision trace. An agent only ever sees their own leads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select

from leadgate.domain.errors import Forbidden, InvalidInput, NotFound
from leadgate.domain.qualify import unpack_checks
from leadgate.services import timeline
from leadgate.services.ingest import lead_summary
from leadgate.services.principal import Principal
from leadgate.services.routing import decision_view
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

STATUSES = ("new", "assigned", "queued", "unassigned", "rejected", "quarantined", "merged",
            "offered", "sell", "sold", "delivering", "won", "lost")


@dataclass(frozen=True)
class LeadFilter:
    status: str | None = None
    campaign: str | None = None
    source: str | None = None
    assignee: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    limit: int = 50
    offset: int = 0


def _scoped(principal: Principal, stmt: Select[Any]) -> Select[Any]:
    principal.require_user()
    if principal.is_manager:
        return stmt
    if principal.agent_id is None:
        raise Forbidden("this user is not linked to an agent")
    return stmt.where(m.Lead.assignee_id == principal.agent_id)


def list_leads(uow: UnitOfWork, principal: Principal, f: LeadFilter) -> dict[str, Any]:
    if not 1 <= f.limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", code="invalid_query")
    if f.offset < 0:
        raise InvalidInput("offset must not be negative", code="invalid_query")
    if f.status and f.status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", code="invalid_query")
    stmt = _scoped(principal, select(m.Lead))
    if f.status:
        stmt = stmt.where(m.Lead.status == f.status)
    if f.campaign:
        stmt = stmt.join(m.Campaign, m.Lead.campaign_id == m.Campaign.id).where(
            m.Campaign.key == f.campaign)
    if f.source:
        stmt = stmt.where(m.Lead.source_id.in_(
            select(m.Source.id).where(m.Source.key == f.source)))
    if f.assignee:
        stmt = stmt.where(m.Lead.assignee_id.in_(
            select(m.Agent.id).where(m.Agent.key == f.assignee)))
    if f.since:
        stmt = stmt.where(m.Lead.created_at >= _aware(f.since))
    if f.until:
        stmt = stmt.where(m.Lead.created_at < _aware(f.until))
    total = uow.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = uow.session.scalars(
        stmt.order_by(m.Lead.id.desc()).limit(f.limit).offset(f.offset)).unique()
    items = [{**lead_summary(lead), "name": display_name(lead)} for lead in rows]
    return {"items": items, "total": total, "limit": f.limit, "offset": f.offset}


def _aware(when: datetime) -> datetime:
    """A time without an offset is read as UTC (as the API documents)."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def display_name(lead: m.Lead) -> str:
    v = lead.values or {}
    name = " ".join(str(v[k]) for k in ("first_name", "last_name") if v.get(k))
    return name or str(v.get("name") or v.get("email") or f"Lead {lead.id}")


def get_lead(uow: UnitOfWork, principal: Principal, lead_id: int) -> m.Lead:
    lead = uow.session.scalar(_scoped(principal, select(m.Lead).where(m.Lead.id == lead_id)))
    if lead is None:
        # the same answer whether the lead does not exist or belongs to someone else
        raise NotFound(f"no lead {lead_id}")
    return lead


def lead_detail(uow: UnitOfWork, principal: Principal, lead_id: int) -> dict[str, Any]:
    lead = get_lead(uow, principal, lead_id)
    events = uow.session.scalars(
        select(m.LeadEvent).where(m.LeadEvent.lead_id == lead.id).order_by(m.LeadEvent.id))
    assignments = uow.session.scalars(
        select(m.Assignment).where(m.Assignment.lead_id == lead.id).order_by(m.Assignment.id))
    return {
        **lead_summary(lead),
        "name": display_name(lead),
        "values": lead.values,
        "raw": lead.raw,
        "checks": unpack_checks(lead.checks),
        "enrichment": lead.enrichment,
        "score_explanation": lead.score_explanation or [],
        "consent": lead.consent,
        "via": lead.via,
        "flow": lead.flow_key,
        "flow_version": lead.flow_version,
        "decision": decision_view(lead.decision),
        "timeline": timeline.entries(events),
        "assignments": [
            {"agent": a.agent.key, "rule": a.rule, "method": a.method, "status": a.status,
             "assigned_at": a.assigned_at.isoformat()}
            for a in assignments
        ],
    }
