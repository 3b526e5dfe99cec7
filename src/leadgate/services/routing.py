"""Route a lead: load the candidates and their live state, call the pure
``decide()``, and persist the decision, the assignment and the new routing
state in the caller's transaction.

Exactness across processes comes from one lock per flow: the flow's
``routing_state`` row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; on
SQLite every write transaction already holds the database lock from
``BEGIN IMMEDIATE``) before the candidates' loads are read, and held until the
transaction commits with the assignment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from leadgate.domain.agents import Agent, Candidate
from leadgate.domain.decision import Decision
from leadgate.domain.errors import InvalidConfig
from leadgate.domain.routing import Flow, decide, decide_fallback
from leadgate.domain.routing.members import flow_members
from leadgate.services import jobs, loads, notifications, notify, snapshot, timeline
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

OPEN_STATUSES = loads.OPEN_STATUSES
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def domain_agent(row: m.Agent) -> Agent:
    """The routing view of an agent row."""
    data = dict(row.spec or {})
    data.update(key=row.key, name=row.name, status=row.status, teams=list(row.teams or []))
    try:
        return Agent.from_mapping(data, path=f"agent {row.key}")
    except InvalidConfig:
        # stored agents were validated when saved; keep routing alive regardless
        return Agent(key=row.key, name=row.name, status=row.status, teams=tuple(row.teams or ()))


def load_candidates(uow: UnitOfWork, now: datetime, *,
                    keys: Iterable[str] | None = None, lock: bool = False) -> list[Candidate]:
    """Active agents (all, or those with ``keys``) with their live load.

    Loads are read by primary key from ``agent_loads`` (see services/loads.py):
    one statement, whatever the length of history.
    """
    snap = snapshot.current(uow.session)
    infos = ([snap.agents[k] for k in sorted(keys) if k in snap.agents] if keys is not None
             else list(snap.agents.values()))
    stored = loads.read(uow.session, [i.id for i in infos], lock=lock)
    return [Candidate(i.agent, stored[i.id].to_domain(i.agent, now)) for i in infos]


def routing_facts(values: Mapping[str, Any], enrichment: Mapping[str, Any] | None, *,
                  source: str | None, campaign: str, score: float | None,
                  grade: str | None, created_at: datetime, now: datetime) -> dict[str, Any]:
    """The plain facts routing conditions see: fields plus derived values (the
    capture batch and re-routing both build them here)."""
    facts: dict[str, Any] = dict(values or {})
    enr = enrichment or {}
    for key in ("country", "region", "timezone", "postal_code", "local_hour", "local_weekday"):
        if facts.get(key) in (None, "") and enr.get(key) not in (None, ""):
            facts[key] = enr[key]
    tz = facts.get("timezone")
    if tz and "local_hour" not in facts:
        try:
            local = now.astimezone(ZoneInfo(str(tz)))
            facts["local_hour"] = local.hour
            facts["local_weekday"] = WEEKDAYS[local.weekday()]
        except (KeyError, ValueError):
            pass
    facts["source"] = source
    facts["campaign"] = campaign
    facts["score"] = score
    facts["grade"] = grade
    facts["age_minutes"] = max(0, int((now - created_at).total_seconds() // 60))
    return facts


def lead_facts(lead: m.Lead, now: datetime) -> dict[str, Any]:
    """:func:`routing_facts` of a stored lead."""
    return routing_facts(lead.values or {}, lead.enrichment,
                         source=lead.source.key if lead.source else None,
                         campaign=lead.campaign.key, score=lead.score, grade=lead.grade,
                         created_at=lead.created_at, now=now)


def lock_state(uow: UnitOfWork, flow_key: str, now: datetime) -> m.RoutingState:
    """Take the flow's routing lock and return its state row."""
    s = uow.session
    if uow.dialect == "postgresql":
        s.execute(
            pg_insert(m.RoutingState)
            .values(flow_key=flow_key, state={}, decisions=0, updated_at=now)
            .on_conflict_do_nothing(index_elements=["flow_key"])
        )
        row = s.scalar(
            select(m.RoutingState).where(m.RoutingState.flow_key == flow_key).with_for_update()
        )
        assert row is not None
        return row
    found = s.get(m.RoutingState, flow_key)
    if found is None:
        found = m.RoutingState(flow_key=flow_key, state={}, decisions=0, updated_at=now)
        s.add(found)
        s.flush()
    return found


def route_lead(uow: UnitOfWork, lead: m.Lead, now: datetime, *,
               actor: str | None = None) -> Decision | None:
    """Decide where ``lead`` goes and apply it. Returns None when the campaign has no flow."""
    flow_key = lead.campaign.flow_key
    published = snapshot.current(uow.session).flows.get(flow_key) if flow_key else None
    if published is None:
        _hold(uow, lead, "unassigned", now, reason="the campaign has no published flow")
        return None
    flow, version = published
    return route_with(uow, lead, flow, version, now, actor=actor)


def route_with(uow: UnitOfWork, lead: m.Lead, flow: Flow, version: int | None,
               now: datetime, *, actor: str | None = None,
               fallback_because: str | None = None) -> Decision:
    """Decide where ``lead`` goes through ``flow`` (under the flow's routing lock) and
    apply it. With ``fallback_because``, only the flow's fallback applies (a lead the
    marketplace did not sell: ``domain.routing.decide_fallback``)."""
    state_row = lock_state(uow, flow.key or "", now)
    facts = lead_facts(lead, now)
    members = flow_members(flow, snapshot.current(uow.session).roster, facts)
    candidates = load_candidates(uow, now, keys=members, lock=True)
    state = dict(state_row.state or {})
    decision = decide(facts, flow, candidates, state, now) if fallback_because is None else \
        decide_fallback(facts, flow, candidates, state, now, why=fallback_because)
    state_row.state = jsonable(decision.state)
    state_row.decisions += 1
    state_row.updated_at = now
    lead.flow_key = flow.key
    lead.flow_version = version
    keep_traces(uow.session, lead)
    lead.decision = decision_record(decision, flow.key or "", version, now)
    apply_decision(uow, lead, decision, now, actor=actor)
    if decision.outcome == "sell":  # the marketplace sells it (services/market)
        from leadgate.services.market.queue import job_row

        uow.session.add(m.Job(**job_row(lead.id, decision, flow, now)))
    from leadgate.services.deliveries import queue_for_decision

    queue_for_decision(uow, lead, flow, decision, facts, now)
    return decision


def decision_record(decision: Decision, flow_key: str, version: int | None,
                    now: datetime) -> dict[str, Any]:
    """What a lead keeps of its routing decision (its ``decision`` column).

    The trace is the compact one (what decide() examined, plain JSON, cheaper than
    deciding), stored without what the record already says (its outcome, summary,
    flow and time): :func:`decision_view` puts them back for readers."""
    record = {
        "outcome": decision.outcome,
        "rule": decision.rule,
        "method": decision.method,
        "summary": decision.trace.summary,
        "trace": None,
        "flow": flow_key,
        "flow_version": version,
        "decided_at": now.isoformat(),
    }
    trace = decision.trace.to_dict(compact=True)
    for key, same_as in _TRACE_ECHOES:
        if key in trace and trace[key] == record[same_as]:
            del trace[key]
    record["trace"] = trace
    return record


#: the members of a compact trace that repeat a member of its decision record
_TRACE_ECHOES = (("flow", "flow"), ("outcome", "outcome"), ("summary", "summary"),
                 ("now", "decided_at"))


def decision_view(stored: Any) -> Any:
    """A lead's stored ``decision`` as readers see it: the trace whole again, with
    the members :func:`decision_record` left out because the record holds them.
    Records stored before (with them) come back as they are."""
    if not isinstance(stored, dict) or not isinstance(stored.get("trace"), dict):
        return stored
    trace = dict(stored["trace"])
    for key, same_as in _TRACE_ECHOES:
        if key not in trace and same_as in stored:
            trace[key] = stored[same_as]
    return {**stored, "trace": trace}


_ASSIGNMENTS = cast(Table, m.Assignment.__table__)
_KEEP_TRACES = (update(_ASSIGNMENTS)
                .where(_ASSIGNMENTS.c.lead_id == bindparam("b_lead"),
                       _ASSIGNMENTS.c.trace.is_(None))
                .values(trace=bindparam("b_trace", type_=_ASSIGNMENTS.c.trace.type)))


def keep_traces(session: Session, lead: m.Lead) -> None:
    """Before ``lead`` gets a new decision: its assignments whose trace is still its
    current decision (stored once, NULL on the assignment) get a copy of it."""
    if lead.id is not None and lead.decision:
        session.execute(_KEEP_TRACES, {"b_lead": lead.id, "b_trace": lead.decision})


def apply_decision(uow: UnitOfWork, lead: m.Lead, decision: Decision, now: datetime, *,
                   actor: str | None = None) -> None:
    s = uow.session
    from leadgate.services import offers

    if (offers.is_push(decision) or decision.outcome == "offered") and \
            offers.start(uow, lead, decision, now) is not None:
        return
    if decision.outcome == "assigned" and decision.agent:
        agent = s.scalar(select(m.Agent).where(m.Agent.key == decision.agent))
        assert agent is not None, "decide() chose an agent that was not a candidate"
        if lead.status in loads.OPEN_STATUSES and lead.assignee_id is not None:
            loads.change_open(s, lead.assignee_id, -1)
        lead.status = "assigned"
        lead.assignee_id = agent.id
        lead.assignee = agent
        lead.assigned_at = now
        lead.queue = None
        s.add(
            m.Assignment(
                lead_id=lead.id, agent_id=agent.id, flow_key=lead.flow_key,
                flow_version=lead.flow_version, rule=decision.rule, method=decision.method,
                status="active", assigned_at=now,  # its trace: the lead's decision
            )
        )
        loads.record_assignments(s, [(agent.id, domain_agent(agent), now)])
        notifications.queue_for(uow, lead.id, "assigned", [agent.id], now,
                                flow_key=lead.flow_key)
        notify.publish_after_commit(uow, [notify.Notice(
            "lead.assigned", agent.id, {"lead": {"id": lead.id, "status": "assigned",
                                                 "assignee": {"key": agent.key,
                                                              "name": agent.name}},
                                        "at": now.isoformat()})])
        timeline.record(uow, lead, "assigned", now, actor=actor or "router",
                        agent=agent.key, rule=decision.rule, method=decision.method,
                        summary=decision.trace.summary)
        return
    if decision.outcome == "queued":
        _hold(uow, lead, decision.queue or "unassigned", now, reason=decision.trace.summary,
              hold_until=decision.hold_until)
        return
    if decision.outcome in ("offered", "sell", "delivering"):
        # carried out by the work-loop (shotgun/pull), buyers (ping tree/post) and
        # delivery (the rule's destinations) services
        if lead.status in loads.OPEN_STATUSES and lead.assignee_id is not None:
            loads.change_open(s, lead.assignee_id, -1)
            lead.assignee_id = None
        lead.status = decision.outcome
        timeline.record(uow, lead, decision.outcome, now, actor="router",
                        agents=list(decision.agents), rule=decision.rule,
                        summary=decision.trace.summary)
        return
    _hold(uow, lead, decision.queue or "unassigned", now, reason=decision.trace.summary)


def _hold(uow: UnitOfWork, lead: m.Lead, queue: str, now: datetime, *, reason: str,
          hold_until: datetime | None = None) -> None:
    if lead.status in loads.OPEN_STATUSES and lead.assignee_id is not None:
        loads.change_open(uow.session, lead.assignee_id, -1)
    lead.status = "queued" if queue != "unassigned" else "unassigned"
    lead.queue = queue
    lead.assignee_id = None
    data: dict[str, Any] = {"queue": queue, "reason": reason}
    if hold_until is not None:
        data["hold_until"] = hold_until.isoformat()
        # wake this lead up when the pool opens (shift start, cap reset)
        jobs.enqueue(uow, "lead.reroute", {"lead_id": lead.id}, now,
                     delay=max(hold_until - now, timedelta(0)))
    timeline.record(uow, lead, "queued", now, actor="router", **data)


def jsonable(value: Any) -> Any:
    """Make trace/state values JSON-safe (datetimes, tuples, timedeltas)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    return value
