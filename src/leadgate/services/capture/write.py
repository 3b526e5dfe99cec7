"""Writing a decided batch: one statement per table (one for everything after the
leads on PostgreSQL), the answers, and the live notices."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from leadgate.domain.delivery import plan_of
from leadgate.domain.qualify import pack_checks
from leadgate.services import deliveries, loads, notifications, snapshot, timeline
from leadgate.services.capture.decide import facts_of
from leadgate.services.capture.submission import BatchLead, IngestResult
from leadgate.services.capture.tables import (
    ASSIGNMENTS,
    EVENTS,
    IDEM,
    JOBS,
    KEYS,
    LEADS,
    OFFERS,
    STATE,
)
from leadgate.services.market.queue import MARKET_LEADS, market_row
from leadgate.services.market.queue import job_row as sell_job
from leadgate.services.notify import CHANNEL, Notice
from leadgate.services.routing import jsonable
from leadgate.services.snapshot import Snapshot
from leadgate.store.bulk import JsonRows, insert_many, insert_rows, pg_update, pg_upsert
from leadgate.store.db import dumps


def summary(lead: BatchLead, assignee: tuple[str, str] | None) -> dict[str, Any]:
    return {
        "id": lead.id,
        "status": lead.status,
        "campaign": lead.campaign.key,
        "source": lead.source.key,
        "assignee": {"key": assignee[0], "name": assignee[1]} if assignee else None,
        "queue": lead.queue,
        "score": lead.q.score,
        "grade": lead.q.grade,
        "reasons": lead.reasons,
        "duplicate_of": lead.duplicate_of,
        "created_at": lead.sub.received_at.isoformat(),
        "assigned_at": lead.assigned_at.isoformat() if lead.assigned_at else None,
    }


#: the lead row's columns a decision sets (the others are in ``BatchLead.fixed``)
_DECIDED = ("id", "status", "reasons", "assignee_id", "queue", "flow_key", "flow_version",
            "decision", "duplicate_of_id", "assigned_at")
_FIXED = ("campaign_id", "source_id", "values", "raw", "checks", "enrichment", "consent",
          "score", "grade", "score_explanation", "via", "created_at")


def prepare_rows(leads: Sequence[BatchLead]) -> None:
    """PostgreSQL, before the flow's lock is taken: each lead row's columns that no
    decision changes (the lead's values, raw fields, checks, enrichment...: most of
    the batch's JSON), as JSON text. Under the lock, :func:`write` adds the decided
    columns to each text instead of encoding the whole row there."""
    for lead in leads:
        q = lead.q
        lead.fixed = dumps({
            "campaign_id": lead.campaign.id, "source_id": lead.source.id, "values": q.values,
            "raw": q.raw, "checks": pack_checks(q.checks), "enrichment": q.enrichment,
            "consent": q.consent, "score": q.score, "grade": q.grade,
            "score_explanation": q.score_explanation, "via": lead.sub.via,
            "created_at": lead.sub.received_at})


def write(session: Session, leads: Sequence[BatchLead], states: dict[str, dict[str, Any]],
           now: datetime, *, notices: list[Notice] | None = None,
           notify: Callable[[list[Notice]], list[str]] | None = None,
           ids: Sequence[int] | None = None,
           last: list[tuple[str, tuple[Any, ...]]] | None = None) -> int:
    """Every row of the batch, one statement per table; returns the jobs queued.

    ``notices`` receives the batch's live notices; ``notify`` (PostgreSQL) turns them
    into the NOTIFY payloads sent by the batch's write statement, so the other
    processes hear of the batch at its commit, with no transaction of their own.

    PostgreSQL: with ``ids`` (drawn from the leads' sequence by the batch's lookup)
    the leads are inserted by that same one statement, so the batch writes in one
    round trip (made holding the flow's lock). With ``last`` that statement is left
    in ``last`` for the caller to send with its COMMIT (``bulk.insert_many``)."""
    if not leads:
        return 0
    snap = snapshot.cached(session)
    assert snap is not None
    if ids is not None and all(lead.fixed is not None for lead in leads):
        # the decided columns joined to each row's JSON made before the lock
        texts = []
        for n, lead in enumerate(leads):
            agent = snap.agents[lead.agent_key] if lead.agent_key else None
            decided = dumps({
                "id": ids[n], "status": lead.status, "reasons": lead.reasons,
                "assignee_id": agent.id if agent else None, "queue": lead.queue,
                "flow_key": lead.flow_key, "flow_version": lead.flow_version,
                "decision": lead.decision_json, "duplicate_of_id": lead.duplicate_of,
                "assigned_at": lead.assigned_at})
            fixed = lead.fixed
            assert fixed is not None
            texts.append(f"{fixed[:-1]},{decided[1:]}")  # one object: the two have no key in common
        lead_rows: Any = JsonRows([*_DECIDED, *_FIXED], texts)
        lead_ids = list(ids[:len(leads)])
    else:
        lead_ids, lead_rows = _lead_rows(session, snap, leads, ids)
    return _write_rest(session, snap, leads, lead_ids, lead_rows, states, now,
                       notices=notices, notify=notify, last=last)


def _lead_rows(session: Session, snap: Snapshot, leads: Sequence[BatchLead],
               ids: Sequence[int] | None) -> tuple[list[int], list[dict[str, Any]]]:
    """The leads' ids and the rows left for the batch's write statement (none once
    inserted here: SQLite, or no ids drawn)."""
    rows = []
    for n, lead in enumerate(leads):
        q = lead.q
        agent = snap.agents[lead.agent_key] if lead.agent_key else None
        rows.append({
            **({"id": ids[n]} if ids is not None else {}),
            "campaign_id": lead.campaign.id, "source_id": lead.source.id,
            "status": lead.status, "values": q.values, "raw": q.raw, "reasons": lead.reasons,
            "checks": pack_checks(q.checks), "enrichment": q.enrichment, "consent": q.consent,
            "score": q.score, "grade": q.grade, "score_explanation": q.score_explanation,
            "assignee_id": agent.id if agent else None, "queue": lead.queue,
            "flow_key": lead.flow_key,
            "flow_version": lead.flow_version, "decision": lead.decision_json,
            "duplicate_of_id": lead.duplicate_of, "via": lead.sub.via,
            "created_at": lead.sub.received_at, "assigned_at": lead.assigned_at})
    if ids is not None:  # inserted by the one statement below
        return list(ids[:len(rows)]), rows
    return insert_rows(session, LEADS, rows, ids=True), []


def _write_rest(session: Session, snap: Snapshot, leads: Sequence[BatchLead],
                lead_ids: list[int], lead_rows: Any, states: dict[str, dict[str, Any]],
                now: datetime, *, notices: list[Notice] | None,
                notify: Callable[[list[Notice]], list[str]] | None,
                last: list[tuple[str, tuple[Any, ...]]] | None) -> int:
    events, keys, assignments, jobs, idem, assigned = [], [], [], [], [], []
    offer_rows: list[dict[str, Any]] = []
    market: list[dict[str, Any]] = []
    outbox = deliveries.Batch()
    for lead, lead_id in zip(leads, lead_ids, strict=True):
        lead.id = lead_id
        events.extend(timeline.capture_rows(lead_id, lead.events, lead.sub.received_at, now))
        if lead.merged_into is not None:
            actor = f"source:{lead.source.key}"
            events.append({"lead_id": lead.merged_into, "type": "merged", "actor": actor,
                           "data": {"duplicate": lead_id, "fields": sorted(lead.q.values)},
                           "at": now})
            events.append({"lead_id": lead_id, "type": "merged", "actor": actor,
                           "data": {"into": lead.merged_into}, "at": now})
        if lead.remember_keys:
            keys.extend({"campaign_id": lead.campaign.id, "key": k, "lead_id": lead_id,
                         "created_at": lead.sub.received_at} for k in lead.q.dedupe_keys)
        info = snap.agents[lead.agent_key] if lead.agent_key else None
        lead.agent_id = info.id if info is not None else None
        if info is not None and lead.decision is not None:
            assignments.append({
                "lead_id": lead_id, "agent_id": info.id, "flow_key": lead.flow_key,
                "flow_version": lead.flow_version, "rule": lead.decision.rule,
                "method": lead.decision.method, "trace": None,  # the lead's decision
                "status": "active", "assigned_at": now})
            assigned.append((info.id, info.agent, now))
        if lead.offer is not None:
            offer_rows += lead.offer.rows(lead_id, {k: a.id for k in lead.offer.agents
                                                    if (a := snap.agents.get(k))}, now)
            jobs.append(lead.offer.job(lead_id, now))
        if lead.hold_until is not None:
            jobs.append({"kind": "lead.reroute", "payload": {"lead_id": lead_id},
                         "status": "pending", "attempts": 0, "max_attempts": 8,
                         "run_after": max(lead.hold_until, now), "created_at": now})
        if lead.status == "sell" and lead.decision is not None:  # the marketplace sells it
            jobs.append(sell_job(lead_id, lead.decision, (snap.flow_of(lead.campaign)
                                                          or (None,))[0], now))
            market.append(market_row(lead_id, lead.source.key, now))
        if lead.decision is not None and (fv := snap.flow_of(lead.campaign)) is not None:
            outbox.add(lead_id, plan_of(fv[0], lead.decision),
                       lambda lead=lead: facts_of(lead, now), now, flow_key=lead.flow_key,
                       rule=lead.decision.rule)
        body = summary(lead, (info.key, info.name) if info else None)
        if lead.status == "rejected":
            body = {"type": "about:blank", "title": "Lead rejected", "status": 422,
                    "code": "lead_rejected",
                    "detail": lead.reasons[0]["message"] if lead.reasons else "lead rejected",
                    "lead_id": lead_id, "reasons": lead.reasons}
            lead.result = IngestResult(422, body, lead_id)
        else:
            lead.result = IngestResult(201, body, lead_id)
        if lead.sub.idempotency_key is not None:
            idem.append({"source_id": lead.source.id, "key": lead.sub.idempotency_key,
                         "body_hash": lead.sub.digest, "status_code": lead.result.status_code,
                         "response": lead.result.body, "created_at": now})
    routed = {x.flow_key for x in leads if x.decision is not None}
    state_rows = [{"flow_key": k, "state": jsonable(states[k or ""]), "updated_at": now,
                   "decisions": sum(1 for x in leads
                                    if x.flow_key == k and x.decision is not None)}
                  for k in sorted(routed, key=str)]
    pg_parts: list[tuple[str, list[dict[str, Any]]]] = []
    if session.get_bind().dialect.name == "postgresql":
        # the loads and the routing state travel in the batch's one write statement
        # below: every round trip here is made holding the flows' routing locks
        load_rows = loads.assignment_rows(assigned)
        if load_rows:
            pg_parts.append((pg_upsert(session, loads.T, list(load_rows[0]),
                                       loads.PG_ADD_ASSIGNMENTS), load_rows))
        if state_rows:
            pg_parts.append((pg_update(session, STATE, "flow_key", list(state_rows[0]),
                                       _PG_STATE_SET), state_rows))
    else:
        if assigned:
            loads.record_assignments(session, assigned)
        if state_rows:
            session.execute(
                STATE.update().where(STATE.c.flow_key == _bind("k"))
                .values(state=_bind("s"), decisions=STATE.c.decisions + _bind("n"),
                        updated_at=now),
                [{"k": r["flow_key"], "s": r["state"], "n": r["decisions"]}
                 for r in state_rows])
    notifications.add_batch(outbox, snap, leads, now)  # nothing unless someone asked
    jobs.extend(outbox.jobs)  # its rows go in the one statement below, after the leads'
    told: tuple[str, list[str]] | None = None
    if notices is not None:
        notices.extend(notices_for(snap, leads, now))
        if notify is not None and notices:
            told = (CHANNEL, notify(notices))
    # one statement on PostgreSQL for everything the batch writes once ids are known
    insert_many(session, [(LEADS, lead_rows), (EVENTS, events), (KEYS, keys),
                          (ASSIGNMENTS, assignments), (OFFERS, offer_rows), (JOBS, jobs),
                          (IDEM, idem), (MARKET_LEADS, market),
                          (deliveries.DELIVERIES, outbox.rows)], pg_parts, told, last)
    return len(jobs)


_PG_STATE_SET = ("state = u.state, decisions = t.decisions + u.decisions, "
                 "updated_at = u.updated_at")


def notices_for(snap: Snapshot, leads: Sequence[BatchLead], now: datetime) -> list[Notice]:
    """An assigned lead for its rep, an offer for each rep offered it, a lead left in
    a queue for the managers (who see every notice)."""
    out = []
    for lead in leads:
        body = lead.result.body if lead.result is not None else {}
        if lead.status == "offered" and lead.offer is not None:
            for key in lead.offer.agents:
                info = snap.agents.get(key)
                out.append(Notice("lead.offered", info.id if info else None,
                                  {"lead": body, "at": now.isoformat(),
                                   "deadline": lead.offer.deadline.isoformat()
                                   if lead.offer.deadline else None}))
        elif lead.status == "assigned" and lead.agent_id is not None:
            out.append(Notice("lead.assigned", lead.agent_id, {"lead": body,
                                                               "at": now.isoformat()}))
        elif lead.status in ("queued", "unassigned"):
            # managers, and the reps who may pull from the queue (a pull rule's pool)
            pullers = tuple(a.id for k in lead.decision.agents if (a := snap.agents.get(k))) \
                if lead.decision is not None and lead.decision.method == "pull" else ()
            out.append(Notice("lead.queued", None, {"lead": body, "at": now.isoformat()},
                              pullers))
    return out


def _bind(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name)
