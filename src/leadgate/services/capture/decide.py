"""Deciding a batch in order, in memory, with the pure ``decide()``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from leadgate.domain.agents import Candidate
from leadgate.domain.decision import Decision
from leadgate.domain.routing import decide
from leadgate.domain.routing.members import flow_members
from leadgate.domain.routing.pools import Roster
from leadgate.services import loads, offers
from leadgate.services.capture.submission import BatchLead
from leadgate.services.routing import decision_record, routing_facts
from leadgate.services.snapshot import Snapshot


def facts_of(lead: BatchLead, now: datetime) -> dict[str, Any]:
    q = lead.q
    return routing_facts(q.values, q.enrichment, source=lead.source.key,
                         campaign=lead.campaign.key, score=q.score, grade=q.grade,
                         created_at=lead.sub.received_at, now=now)


def route(session: Session, snap: Snapshot, leads: Sequence[BatchLead],
           states: dict[str, dict[str, Any]], now: datetime) -> None:
    """Decide every lead in order; loads are read once for every pool member involved."""
    work = []
    for lead in leads:
        published = snap.flow_of(lead.campaign)
        if published is None:
            lead.status, lead.queue = "unassigned", "unassigned"
            lead.event("queued", "router", queue="unassigned",
                       reason="the campaign has no published flow")
            continue
        facts = facts_of(lead, now)
        work.append((lead, published, facts))
    if not work:
        return
    keys: set[str] = set()
    for _lead, (flow, _v), facts in work:
        keys |= flow_members(flow, snap.roster, facts)
    infos = {k: snap.agents[k] for k in keys if k in snap.agents}
    stored = loads.read(session, [a.id for a in infos.values()], lock=True)
    roster = Roster([Candidate(a.agent, stored[a.id].to_domain(a.agent, now))
                     for a in infos.values()])
    for lead, (flow, version), facts in work:
        state = states.setdefault(flow.key or "", {})
        decision = decide(facts, flow, roster, state, now)
        states[flow.key or ""] = dict(decision.state)
        lead.decision = decision
        lead.flow_key, lead.flow_version = flow.key, version
        lead.decision_json = decision_record(decision, flow.key or "", version, now)
        apply(lead, decision, now, flow)
        chosen = roster.by_key().get(decision.agent or "")
        if lead.agent_key is not None and chosen is not None:
            # the next decision of the batch sees this assignment
            roster = roster.replaced(Candidate(chosen.agent, loads.bump(chosen.load, now)))


def apply(lead: BatchLead, decision: Decision, now: datetime, flow: Any = None) -> None:
    """Carry a decision out on the lead being built (status, events).

    A target with ``accept_within`` (and a shotgun) makes offers instead of an
    assignment: ``lead.offer`` is written by :func:`write` (services/offers.py)."""
    lead.offer = offers.plan(flow, decision, now)
    if decision.outcome == "assigned" and decision.agent:
        lead.status, lead.assigned_at, lead.queue = "assigned", now, None
        lead.agent_key = decision.agent
        if lead.offer is not None:  # push with a deadline: the rep holds it as offered
            lead.status = "offered"
            lead.event("offered", "router", agents=[decision.agent], rule=decision.rule,
                       method=decision.method, summary=decision.trace.summary, round=1,
                       **offers.event_data(lead.offer, now))
            return
        lead.event("assigned", "router", agent=decision.agent, rule=decision.rule,
                   method=decision.method, summary=decision.trace.summary)
        return
    if decision.outcome == "delivering":  # to the rule's destinations, not to a rep
        lead.status = "delivering"
        lead.event("delivering", "router", rule=decision.rule, summary=decision.trace.summary)
        return
    if decision.outcome in ("offered", "sell"):
        lead.status = decision.outcome
        extra = offers.event_data(lead.offer, now) if lead.offer else {}
        lead.event(decision.outcome, "router", agents=list(decision.agents),
                   rule=decision.rule, summary=decision.trace.summary, **extra)
        return
    queue = decision.queue or "unassigned"
    lead.status = "queued" if queue != "unassigned" else "unassigned"
    lead.queue = queue
    data: dict[str, Any] = {"queue": queue, "reason": decision.trace.summary}
    if decision.outcome == "queued" and decision.hold_until is not None:
        data["hold_until"] = decision.hold_until.isoformat()
        lead.hold_until = decision.hold_until
    lead.event("queued", "router", **data)


