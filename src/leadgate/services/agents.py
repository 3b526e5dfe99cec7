"""Agents and teams: reads, status changes and routing settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from leadgate.domain.agents import Agent as DomainAgent
from leadgate.domain.errors import Forbidden, InvalidConfig, InvalidInput, NotFound
from leadgate.services import jobs
from leadgate.services.configure import agent_row_values
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


#: keys of the settings mapping that ``update_agent`` reads (the YAML config's keys
#: without ``key`` and ``status``)
SETTINGS_KEYS = ("name", "email", "teams", "languages", "skills", "territories", "tier",
                 "attributes", "timezone", "working_hours", "holidays", "time_off", "capacity")


def agent_settings(agent: m.Agent) -> dict[str, Any]:
    """The agent's editable settings, in the config file's format (no key, no status)."""
    out: dict[str, Any] = {"name": agent.name}
    if agent.email:
        out["email"] = agent.email
    out["teams"] = list(agent.teams or [])
    out.update({k: v for k, v in (agent.spec or {}).items() if k not in ("key", "status")})
    return out


def update_agent(uow: UnitOfWork, principal: Principal, key: str, data: dict[str, Any],
                 now: datetime) -> m.Agent:
    """Replace an agent's routing settings (managers only); the status is left alone.

    ``data`` uses the config file's keys; it is validated as a whole and refused with
    ``InvalidConfig`` (errors by path) before anything changes.
    """
    principal.require_manager()
    agent = get_agent(uow, key)
    path = f"agent {key}"
    if not isinstance(data, dict):
        raise InvalidConfig("the settings must be a mapping", path=path)
    unknown = sorted(str(k) for k in data if k not in SETTINGS_KEYS)
    if unknown:
        raise InvalidConfig(f"unknown setting(s) {', '.join(map(repr, unknown))}; "
                            f"expected {', '.join(SETTINGS_KEYS)}", path=path)
    parsed = DomainAgent.from_mapping({"key": key, **data}, path=path)
    data = {**data, "teams": list(parsed.teams)}
    if data.get("email") is not None and not isinstance(data["email"], str):
        raise InvalidConfig("expected text", path=f"{path}.email")
    known = set(uow.session.scalars(select(m.Team.key)))
    missing = [t for t in data["teams"] if t not in known]
    if missing:
        raise InvalidConfig(f"unknown team(s) {', '.join(map(repr, missing))}",
                            path=f"{path}.teams")
    after = agent_row_values({"key": key, **data})
    before = {"name": agent.name, "email": agent.email, "teams": agent.teams,
              "spec": agent.spec}
    if before != after:
        agent.name, agent.email, agent.teams, agent.spec = (
            after["name"], after["email"], after["teams"], after["spec"])
        uow.session.add(m.AuditEntry(actor=principal.actor, action="updated", entity="agent",
                                     entity_key=key, before=before, after=after, at=now))
        if agent.status == "available":
            # new hours or caps may make held leads placeable
            jobs.enqueue(uow, "queue.retry", {"reason": f"agent {key} settings changed"}, now)
    uow.commit()
    return agent
