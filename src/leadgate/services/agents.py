"""Agents and teams: reads and status changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from leadgate.domain.errors import Forbidden, InvalidInput, NotFound
from leadgate.services import jobs
from leadgate.services.principal import Principal
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

STATUSES = ("available", "away", "offline")


def get_agent(uow: UnitOfWork, key: str) -> m.Agent:
    agent = uow.session.scalar(select(m.Agent).where(m.Agent.key == key))
    if agent is None:
        raise NotFound(f"no agent with key {key!r}")
    return agent


def agent_view(agent: m.Agent, open_leads: int | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "key": agent.key, "name": agent.name, "email": agent.email, "status": agent.status,
        "teams": list(agent.teams or []), "active": agent.active,
        "status_changed_at": agent.status_changed_at.isoformat(), **(agent.spec or {}),
    }
    if open_leads is not None:
        view["open_leads"] = open_leads
    return view


def list_agents(uow: UnitOfWork, team: str | None = None) -> list[dict[str, Any]]:
    rows = list(uow.session.scalars(select(m.Agent).order_by(m.Agent.key)))
    if team:
        rows = [a for a in rows if team in (a.teams or [])]
    counts = dict(uow.session.execute(
        select(m.Lead.assignee_id, func.count()).where(m.Lead.status == "assigned")
        .group_by(m.Lead.assignee_id)).all())
    return [agent_view(a, int(counts.get(a.id, 0))) for a in rows]


def list_teams(uow: UnitOfWork) -> list[dict[str, Any]]:
    agents = list(uow.session.scalars(select(m.Agent)))
    return [
        {"key": t.key, "name": t.name,
         "agents": sorted(a.key for a in agents if t.key in (a.teams or []))}
        for t in uow.session.scalars(select(m.Team).order_by(m.Team.key))
    ]


def set_status(uow: UnitOfWork, principal: Principal, key: str, status: str,
               now: datetime) -> m.Agent:
    """Change an agent's availability (the agent themself, or a manager)."""
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", code="invalid_status")
    agent = get_agent(uow, key)
    principal.require_user()
    if not principal.is_manager and principal.agent_id != agent.id:
        raise Forbidden("an agent can only change their own status")
    if agent.status != status:
        before = agent.status
        agent.status = status
        agent.status_changed_at = now
        uow.session.add(m.AuditEntry(actor=principal.actor, action="status", entity="agent",
                                     entity_key=key, before={"status": before},
                                     after={"status": status}, at=now))
        if status == "available":
            # someone became eligible: leads held for a pool get another chance
            jobs.enqueue(uow, "queue.retry", {"reason": f"agent {key} available"}, now)
    uow.commit()
    return agent
