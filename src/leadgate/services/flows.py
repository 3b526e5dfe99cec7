"""Flows as versioned documents: drafts, publishing, restoring, testing a lead
against a flow and simulating a draft on past leads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from leadgate.domain.agents import AgentLoad, Candidate
from leadgate.domain.errors import InvalidInput, NotFound
from leadgate.domain.routing import Flow, decide, parse_flow
from leadgate.domain.routing.pools import Roster
from leadgate.services import configure
from leadgate.services.principal import Principal
from leadgate.services.routing import jsonable, lead_facts, load_candidates
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork


def _row(uow: UnitOfWork, key: str) -> m.Flow:
    row = uow.session.scalar(select(m.Flow).where(m.Flow.key == key))
    if row is None:
        raise NotFound(f"no flow {key!r}")
    return row


def validate_spec(uow: UnitOfWork, key: str, spec: dict[str, Any]) -> Flow:
    """Parse a flow against the current agents and teams (refused with a path)."""
    agents = set(uow.session.scalars(select(m.Agent.key)))
    teams = set(uow.session.scalars(select(m.Team.key)))
    return parse_flow({**spec, "key": key}, key=key, agents=agents, teams=teams)


def flow_view(uow: UnitOfWork, key: str) -> dict[str, Any]:
    row = _row(uow, key)
    versions = uow.session.scalars(select(m.FlowVersion).where(
        m.FlowVersion.flow_id == row.id).order_by(m.FlowVersion.version))
    return {
        "key": row.key,
        "draft": row.draft,
        "published_version": row.published_version,
        "versions": [{"version": v.version, "created_at": v.created_at.isoformat(),
                      "created_by": v.created_by, "spec": v.spec} for v in versions],
        "updated_at": row.updated_at.isoformat(),
    }


def list_flows(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [{"key": f.key, "published_version": f.published_version,
             "rules": len(f.draft.get("rules") or []),
             "updated_at": f.updated_at.isoformat()}
            for f in uow.session.scalars(select(m.Flow).order_by(m.Flow.key))]


def save_draft(uow: UnitOfWork, principal: Principal, key: str, spec: dict[str, Any],
               now: datetime, *, publish: bool = False) -> dict[str, Any]:
    principal.require_manager()
    flow = validate_spec(uow, key, spec)
    configure.save_flow(uow, key, flow.to_dict(), now, actor=principal.actor, publish=publish)
    uow.commit()
    return flow_view(uow, key)


def publish(uow: UnitOfWork, principal: Principal, key: str, now: datetime) -> dict[str, Any]:
    principal.require_manager()
    row = _row(uow, key)
    validate_spec(uow, key, row.draft)
    configure.save_flow(uow, key, row.draft, now, actor=principal.actor, publish=True)
    uow.commit()
    return flow_view(uow, key)


def restore(uow: UnitOfWork, principal: Principal, key: str, version: int,
            now: datetime) -> dict[str, Any]:
    """Make an earlier version the draft and publish it as a new version."""
    principal.require_manager()
    row = _row(uow, key)
    spec = uow.session.scalar(select(m.FlowVersion.spec).where(
        m.FlowVersion.flow_id == row.id, m.FlowVersion.version == version))
    if spec is None:
        raise NotFound(f"flow {key!r} has no version {version}")
    validate_spec(uow, key, spec)
    configure.save_flow(uow, key, spec, now, actor=principal.actor, publish=True)
    uow.session.add(m.AuditEntry(actor=principal.actor, action="restored", entity="flow",
                                 entity_key=key, before=None, after={"version": version},
                                 at=now))
    uow.commit()
    return flow_view(uow, key)


def flow_for(uow: UnitOfWork, key: str, which: str) -> tuple[Flow, int | None]:
    """The draft or the published version of a flow, parsed."""
    row = _row(uow, key)
    if which == "draft":
        return validate_spec(uow, key, row.draft), None
    if row.published_version is None:
        raise InvalidInput(f"flow {key!r} has no published version", code="not_published")
    spec = uow.session.scalar(select(m.FlowVersion.spec).where(
        m.FlowVersion.flow_id == row.id, m.FlowVersion.version == row.published_version))
    assert spec is not None
    return parse_flow(spec, key=key), row.published_version


def try_lead(uow: UnitOfWork, principal: Principal, key: str, now: datetime, *,
              lead: dict[str, Any] | None = None, lead_id: int | None = None,
              which: str = "published") -> dict[str, Any]:
    """Run one lead through a flow and return the decision; nothing is assigned
    and the routing state is not changed."""
    principal.require_manager()
    flow, version = flow_for(uow, key, which)
    if lead_id is not None:
        row = uow.session.get(m.Lead, lead_id)
        if row is None:
            raise NotFound(f"no lead {lead_id}")
        facts = lead_facts(row, now)
    elif lead is not None:
        facts = dict(lead)
    else:
        raise InvalidInput("give a lead (fields) or a lead_id", code="invalid_request")
    state_row = uow.session.get(m.RoutingState, key)
    decision = decide(facts, flow, load_candidates(uow, now),
                      dict(state_row.state) if state_row else {}, now)
    return {"flow": key, "version": version, "which": which, "outcome": decision.outcome,
            "agent": decision.agent, "agents": list(decision.agents), "queue": decision.queue,
            "rule": decision.rule, "method": decision.method,
            "summary": decision.trace.summary, "trace": jsonable(decision.trace.to_dict())}


def simulate(uow: UnitOfWork, flow: Flow, leads: Iterable[tuple[dict[str, Any], datetime,
                                                                str | None]],
             now: datetime, *, label: str = "draft",
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Replay leads (facts, capture time, agent that actually got it) through a
    flow with the current team setup; compare with what actually happened.

    Each simulated assignment raises the agent's simulated load and cap
    counters, so least-loaded, caps and rotations behave as they would have.
    """
    cands = list(load_candidates(uow, now))
    position = {c.agent.key: i for i, c in enumerate(cands)}
    state: dict[str, Any] = {}
    per_agent_sim: Counter[str] = Counter()
    per_agent_actual: Counter[str] = Counter()
    per_rule: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    nobody: list[dict[str, Any]] = []
    changed = 0
    n = 0
    for facts, at, actual in leads:
        n += 1
        # a fresh un-indexed view each time: the list changes as loads grow
        d = decide(facts, flow, Roster(cands, index=False), state, at)
        state = dict(d.state)
        outcomes[d.outcome] += 1
        per_rule[d.rule or "(fallback)"] += 1
        if actual:
            per_agent_actual[actual] += 1
        if d.outcome == "assigned" and d.agent:
            per_agent_sim[d.agent] += 1
            i = position[d.agent]
            old = cands[i].load
            cands[i] = Candidate(cands[i].agent, AgentLoad(
                open_leads=old.open_leads + 1,
                assigned={w: c + 1 for w, c in (old.assigned or {}).items()},
                last_assigned_at=at, won=old.won, closed=old.closed))
        else:
            if len(nobody) < 100:
                nobody.append({"lead": facts.get("id"), "outcome": d.outcome,
                               "summary": d.trace.summary})
        if (d.agent or None) != (actual or None):
            changed += 1
        if progress:
            progress(1)
    agents = sorted(set(per_agent_sim) | set(per_agent_actual))
    return {
        "flow": flow.key, "which": label, "leads": n,
        "outcomes": dict(outcomes),
        "per_agent": [{"agent": a, "simulated": per_agent_sim[a],
                       "actual": per_agent_actual[a],
                       "difference": per_agent_sim[a] - per_agent_actual[a]} for a in agents],
        "per_rule": dict(per_rule),
        "changed_owner": changed,
        "nobody": {"count": n - outcomes.get("assigned", 0), "examples": nobody},
    }


def history(uow: UnitOfWork, campaign_flow: str, since: timedelta, now: datetime
            ) -> list[tuple[dict[str, Any], datetime, str | None]]:
    """Past leads of the campaigns routed by ``campaign_flow`` (not rejected)."""
    rows = uow.session.scalars(
        select(m.Lead).join(m.Campaign, m.Lead.campaign_id == m.Campaign.id)
        .where(m.Campaign.flow_key == campaign_flow, m.Lead.created_at >= now - since,
               m.Lead.status.not_in(("rejected", "merged", "quarantined")))
        .order_by(m.Lead.created_at, m.Lead.id))
    out = []
    for lead in rows:
        facts = lead_facts(lead, lead.created_at)
        facts["id"] = lead.id
        out.append((facts, lead.created_at, lead.assignee.key if lead.assignee else None))
    return out



def simulate_history(uow: UnitOfWork, principal: Principal, key: str, since: timedelta,
                     now: datetime, *, which: str = "draft",
                     leads: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Simulate a flow (draft or published) on the last ``since`` of history, or on
    the given lead facts; managers only."""
    principal.require_manager()
    flow, version = flow_for(uow, key, which)
    label = which if version is None else f"published v{version}"
    history_ = ([(dict(lead), now, None) for lead in leads] if leads is not None
                else history(uow, key, since, now))
    return simulate(uow, flow, history_, now, label=label)
