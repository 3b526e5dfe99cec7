"""The hot path: a batch of submitted leads in one transaction.

:func:`prepare` runs in the request (qualification is CPU only); :func:`process`
takes any number of prepared submissions and, in the caller's transaction:

1. locks the routing state of every flow the batch touches (one upsert; on
   SQLite the write transaction holds the database lock already). The lock
   also serialises dedupe checks of the campaigns using that flow;
2. reads, in ONE statement, the configuration stamps, do-not-contact hits,
   dedupe hits and idempotency keys of the whole batch;
3. decides every lead in order, in memory, with the pure ``decide()`` over the
   members of the pools involved and their loads (one read by primary key);
4. writes all rows with one statement per table (leads with RETURNING, events,
   dedupe keys, assignments, routing state, agent loads, idempotency keys).

Nothing here reads history, so a lead costs the same with 0 or 10 million
leads stored. A lead whose dedupe or idempotency key repeats one earlier in the
same batch is answered :data:`DEFER` and goes into the next batch, where the
earlier one is committed and found like any other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, String, cast, delete, literal, null, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from leadgate.domain.agents import Candidate
from leadgate.domain.decision import Decision
from leadgate.domain.delivery import plan_of
from leadgate.domain.errors import AuthError, IdempotencyConflict, InvalidInput, Reason
from leadgate.domain.qualify import Qualification, qualify
from leadgate.domain.routing import decide
from leadgate.domain.routing.members import flow_members
from leadgate.domain.routing.pools import Roster
from leadgate.services import deliveries, loads, offers, snapshot
from leadgate.services.notify import Notice
from leadgate.services.routing import decision_record, jsonable, routing_facts
from leadgate.services.snapshot import CampaignInfo, Snapshot, SourceInfo
from leadgate.store import models as m
from leadgate.store.bulk import insert_many, insert_rows

MAX_FIELDS = 200

LEADS, EVENTS, KEYS = m.Lead.__table__, m.LeadEvent.__table__, m.DedupeKey.__table__
ASSIGNMENTS, STATE = m.Assignment.__table__, m.RoutingState.__table__
OFFERS = m.Offer.__table__
IDEM, SUPP, JOBS = m.IdempotencyKey.__table__, m.Suppression.__table__, m.Job.__table__


class _Defer:
    def __repr__(self) -> str:
        return "DEFER"


#: Answer for a submission that must wait for the next batch.
DEFER: Any = _Defer()


@dataclass(frozen=True)
class IngestResult:
    status_code: int  # 201 stored, 422 refused (a replay repeats the first code)
    body: dict[str, Any]
    lead_id: int | None
    replayed: bool = False


@dataclass
class Submission:
    """One lead as received, with what the request already worked out."""

    source_id: int
    payload: dict[str, Any]
    received_at: datetime
    idempotency_key: str | None = None
    via: str = "api"
    key_hash: str | None = None  # the API key's hash: re-checked if sources change
    digest: str = ""
    q: Qualification | None = None
    q_stamps: tuple[int, ...] = ()


def body_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def check_payload(payload: Any) -> dict[str, Any]:
    """A lead is a flat JSON object of scalar values."""
    if not isinstance(payload, dict):
        raise InvalidInput("a lead must be a JSON object of fields", code="invalid_body")
    if len(payload) > MAX_FIELDS:
        raise InvalidInput(f"a lead may have at most {MAX_FIELDS} fields", code="invalid_body")
    for k, v in payload.items():
        if isinstance(v, dict | list):
            raise InvalidInput(
                f"field {k!r} must be a single value (text, number, boolean or null), "
                "not an object or a list",
                code="invalid_body",
            )
    return payload


def _q_stamps(snap: Snapshot) -> tuple[int, ...]:
    return tuple(snap.stamps.get(a, 0) for a in ("instance", "campaigns", "models", "sources"))


def prepare(snap: Snapshot, sub: Submission) -> None:
    """Check and qualify a submission against a snapshot (CPU only, no database)."""
    check_payload(sub.payload)
    if sub.idempotency_key is not None:
        sub.digest = body_hash(sub.payload)
    source = snap.sources.get(sub.source_id)
    if source is None:
        return  # a source this snapshot does not know yet: qualified in the batch
    campaign = snap.campaigns[source.campaign_id]
    sub.q = qualify(sub.payload, campaign.spec, now=sub.received_at,
                    default_region=source.default_region, model=campaign.model)
    sub.q_stamps = _q_stamps(snap)


# --- the batch -------------------------------------------------------------------------


@dataclass
class _Lead:
    """A submission being worked on inside the batch."""

    index: int
    sub: Submission
    source: SourceInfo
    campaign: CampaignInfo
    q: Qualification
    status: str = "new"
    reasons: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)
    duplicate_of: int | None = None
    merged_into: int | None = None
    remember_keys: bool = False
    decision: Decision | None = None
    decision_json: dict[str, Any] | None = None
    flow_key: str | None = None
    flow_version: int | None = None
    agent_key: str | None = None
    agent_id: int | None = None
    queue: str | None = None
    assigned_at: datetime | None = None
    hold_until: datetime | None = None
    offer: offers.Plan | None = None
    id: int | None = None
    result: Any = None

    def event(self, type_: str, actor: str | None, **data: Any) -> None:
        self.events.append((type_, actor, data))


def _lock_key(campaign: CampaignInfo) -> str:
    # leads of campaigns without a flow still need their dedupe checks serialised
    return campaign.flow_key or f"~campaign:{campaign.key}"


def _lock(session: Session, keys: Sequence[str], now: datetime) -> dict[str, dict[str, Any]]:
    """Take the routing locks (sorted, one statement) and return each flow's state."""
    if not keys:
        return {}
    ins = (pg_insert(STATE) if session.get_bind().dialect.name == "postgresql"
           else sqlite_insert(STATE))
    stmt = ins.values([{"flow_key": k, "state": {}, "decisions": 0, "updated_at": now}
                       for k in sorted(keys)])
    stmt = stmt.on_conflict_do_update(index_elements=[STATE.c.flow_key],
                                      set_={"flow_key": stmt.excluded.flow_key})
    rows = session.execute(stmt.returning(STATE.c.flow_key, STATE.c.state))
    return {k: dict(s or {}) for k, s in rows}


@dataclass
class _Found:
    stamps: dict[str, int] = field(default_factory=dict)
    suppressed: set[str] = field(default_factory=set)
    dedupe: dict[tuple[int, str], list[tuple[datetime, int]]] = field(default_factory=dict)
    idem: dict[tuple[int, str], tuple[int, datetime, str]] = field(default_factory=dict)


def _lookup(session: Session, leads: Sequence[_Lead], now: datetime) -> _Found:
    """Stamps, do-not-contact hits, dedupe hits and idempotency keys: one statement."""
    n, at, txt = cast(null(), BigInteger), cast(null(), m.UTCDateTime), cast(null(), String)
    cs = m.ConfigStamp.__table__
    parts = [select(literal("c").label("kind"), cs.c.area.label("k"), cs.c.version.label("n"),
                    at.label("at"), txt.label("txt"), n.label("c"))]
    sup = sorted({k for lead in leads for k in lead.q.suppression_keys})
    if sup:
        parts.append(select(literal("s"), SUPP.c.key, n, at, txt, n).where(SUPP.c.key.in_(sup)))
    keys = sorted({k for lead in leads for k in lead.q.dedupe_keys})
    if keys:
        oldest = min(lead.sub.received_at - lead.campaign.spec.dedupe.window for lead in leads)
        parts.append(select(literal("d"), KEYS.c.key, KEYS.c.lead_id, KEYS.c.created_at, txt,
                            KEYS.c.campaign_id)
                     .where(KEYS.c.campaign_id.in_(sorted({x.campaign.id for x in leads})),
                            KEYS.c.key.in_(keys), KEYS.c.created_at >= oldest))
    idem = sorted({x.sub.idempotency_key for x in leads if x.sub.idempotency_key})
    if idem:
        parts.append(select(literal("i"), IDEM.c.key, IDEM.c.id, IDEM.c.created_at,
                            IDEM.c.body_hash, IDEM.c.source_id)
                     .where(IDEM.c.key.in_(idem),
                            IDEM.c.source_id.in_(sorted({x.source.id for x in leads}))))
    stmt = parts[0] if len(parts) == 1 else union_all(*parts)
    found = _Found()
    for kind, k, num, when, text_, other in session.execute(stmt):
        if kind == "c":
            found.stamps[k] = int(num)
        elif kind == "s":
            found.suppressed.add(k)
        elif kind == "d":
            found.dedupe.setdefault((int(other), k), []).append((when, int(num)))
        else:
            found.idem[(int(other), k)] = (int(num), when, text_)
    return found


def _facts(lead: _Lead, now: datetime) -> dict[str, Any]:
    q = lead.q
    return routing_facts(q.values, q.enrichment, source=lead.source.key,
                         campaign=lead.campaign.key, score=q.score, grade=q.grade,
                         created_at=lead.sub.received_at, now=now)


def _days(window: timedelta) -> str:
    days = window.total_seconds() / 86400
    return f"{days:g}-day" if days >= 1 else f"{window.total_seconds() / 3600:g}-hour"


def process(session: Session, subs: Sequence[Submission], now: datetime, *,
            ttl: timedelta = timedelta(hours=24),
            notices: list[Notice] | None = None) -> list[Any]:
    """Qualify (if needed), check, decide and store a batch; the caller commits.

    Returns, per submission and in order, an :class:`IngestResult`, an exception
    to raise for it (bad key, idempotency conflict) or :data:`DEFER`. Live
    notices for what was stored are appended to ``notices``, to be published
    once the caller has committed.
    """
    out: list[Any] = [None] * len(subs)
    snap = snapshot.cached(session) or snapshot.current(session)
    leads = _resolve(snap, subs, out)
    locked = _lock(session, sorted({_lock_key(x.campaign) for x in leads}), now)
    found = _lookup(session, leads, now)
    if found.stamps != snap.stamps:
        snap = snapshot.current(session, found.stamps)
        out = [None] * len(subs)
        leads = _resolve(snap, subs, out)
        more = sorted({_lock_key(x.campaign) for x in leads} - set(locked))
        if more:
            locked.update(_lock(session, more, now))
            found = _lookup(session, leads, now)
    replays: dict[int, int] = {}  # submission index -> stored idempotency row
    seen_keys: set[tuple[int, str]] = set()
    seen_idem: set[tuple[int, str]] = set()
    expired: list[int] = []
    kept: list[_Lead] = []
    for lead in leads:
        sub, i = lead.sub, lead.index
        if sub.idempotency_key is not None:
            ik = (lead.source.id, sub.idempotency_key)
            row = found.idem.get(ik)
            if row is not None and row[1] < now - ttl:
                expired.append(row[0])
                row = None
            if row is not None:
                if row[2] != sub.digest:
                    out[i] = IdempotencyConflict(
                        "this Idempotency-Key was already used with a different body; "
                        "use a new key for a different lead")
                else:
                    replays[i] = row[0]
                continue
            if ik in seen_idem:
                out[i] = DEFER
                continue
            seen_idem.add(ik)
        dk = {(lead.campaign.id, k) for k in lead.q.dedupe_keys}
        if dk & seen_keys:
            out[i] = DEFER  # the earlier lead with this key is not stored yet
            continue
        seen_keys |= dk
        _gatekeep(lead, found, now)
        kept.append(lead)
    if expired:
        session.execute(delete(IDEM).where(IDEM.c.id.in_(expired)))
    _route(session, snap, [x for x in kept if x.status == "new"], locked, now)
    _write(session, kept, locked, now)
    if notices is not None:
        notices.extend(_notices(snap, kept, now))
    if replays:
        stored = {rid: (code, body) for rid, code, body in session.execute(
            select(IDEM.c.id, IDEM.c.status_code, IDEM.c.response)
            .where(IDEM.c.id.in_(sorted(set(replays.values())))))}
        for i, rid in replays.items():
            code, body = stored[rid]
            out[i] = IngestResult(code, body, body.get("id"), replayed=True)
    for lead in kept:
        out[lead.index] = lead.result
    return out


def _resolve(snap: Snapshot, subs: Sequence[Submission], out: list[Any]) -> list[_Lead]:
    """Submissions with their source, campaign and (current) qualification."""
    leads = []
    stamps = _q_stamps(snap)
    for i, sub in enumerate(subs):
        source = snap.sources.get(sub.source_id)
        if source is None or not source.active or (
                sub.key_hash is not None and source.api_key_hash != sub.key_hash):
            out[i] = AuthError("unknown or revoked API key")
            continue
        campaign = snap.campaigns.get(source.campaign_id)
        if campaign is None:  # a stale snapshot: answered again once it is reloaded
            out[i] = AuthError("unknown or revoked API key")
            continue
        if sub.q is None or sub.q_stamps != stamps:
            try:
                prepare(snap, sub)
            except InvalidInput as exc:
                out[i] = exc
                continue
        assert sub.q is not None
        leads.append(_Lead(i, sub, source, campaign, sub.q))
    return leads


def _gatekeep(lead: _Lead, found: _Found, now: datetime) -> None:
    """Apply the verdict, do-not-contact and dedupe; sets the lead's status."""
    q, spec = lead.q, lead.campaign.spec
    actor = f"source:{lead.source.key}"
    lead.event("received", actor, via=lead.sub.via)
    reasons, flags, verdict = list(q.reasons), list(q.flags), q.verdict

    def apply_check(reason: Reason) -> None:
        nonlocal verdict, reasons
        action = spec.checks.get(reason.code, "reject")
        if action == "flag":
            flags.append(reason)
        elif action == "quarantine" and verdict != "rejected":
            verdict = "quarantined"
            reasons = [*reasons, reason]
        elif action != "quarantine":
            verdict = "rejected"
            reasons = [reason]

    if verdict != "rejected":
        hit = next((k for k in q.suppression_keys if k in found.suppressed), None)
        if hit:
            apply_check(Reason("suppressed",
                               f"{hit.split(':', 1)[1]} is on the do-not-contact list"))
    if verdict != "rejected":
        window_start = lead.sub.received_at - spec.dedupe.window
        hits = sorted(h for k in q.dedupe_keys
                      for h in found.dedupe.get((lead.campaign.id, k), ())
                      if h[0] >= window_start)
        if hits:
            original = hits[0][1]
            lead.duplicate_of = original
            if spec.dedupe.on_duplicate == "merge":
                lead.status = "merged"
                lead.merged_into = original
                lead.reasons = [Reason("duplicate", f"merged onto lead {original}").to_dict()]
                return
            apply_check(Reason("duplicate", f"duplicate of lead {original} within the "
                               f"{_days(spec.dedupe.window)} dedupe window"))
    if flags:
        lead.event("flagged", "gatekeeper", reasons=[r.to_dict() for r in flags])
    if verdict == "rejected":
        lead.status = "rejected"
        lead.reasons = [r.to_dict() for r in reasons]
        lead.event("rejected", "gatekeeper", reasons=lead.reasons)
        return
    lead.remember_keys = True
    if verdict == "quarantined":
        lead.status = "quarantined"
        lead.reasons = [r.to_dict() for r in reasons]
        lead.event("quarantined", "gatekeeper", reasons=lead.reasons)
        return
    lead.event("qualified", "gatekeeper", score=q.score, grade=q.grade)


def _route(session: Session, snap: Snapshot, leads: Sequence[_Lead],
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
        facts = _facts(lead, now)
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


def apply(lead: _Lead, decision: Decision, now: datetime, flow: Any = None) -> None:
    """Carry a decision out on the lead being built (status, events).

    A target with ``accept_within`` (and a shotgun) makes offers instead of an
    assignment: ``lead.offer`` is written by :func:`_write` (services/offers.py)."""
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


def summary(lead: _Lead, assignee: tuple[str, str] | None) -> dict[str, Any]:
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


def _write(session: Session, leads: Sequence[_Lead], states: dict[str, dict[str, Any]],
           now: datetime) -> None:
    """Every row of the batch, one statement per table."""
    if not leads:
        return
    snap = snapshot.cached(session)
    assert snap is not None
    rows = []
    for lead in leads:
        q = lead.q
        agent = snap.agents[lead.agent_key] if lead.agent_key else None
        rows.append({
            "campaign_id": lead.campaign.id, "source_id": lead.source.id,
            "status": lead.status, "values": q.values, "raw": q.raw, "reasons": lead.reasons,
            "checks": q.checks, "enrichment": q.enrichment, "consent": q.consent,
            "score": q.score, "grade": q.grade, "score_explanation": q.score_explanation,
            "assignee_id": agent.id if agent else None, "queue": lead.queue,
            "flow_key": lead.flow_key,
            "flow_version": lead.flow_version, "decision": lead.decision_json,
            "duplicate_of_id": lead.duplicate_of, "via": lead.sub.via,
            "created_at": lead.sub.received_at, "assigned_at": lead.assigned_at})
    ids = insert_rows(session, LEADS, rows, ids=True)
    events, keys, assignments, jobs, idem, assigned = [], [], [], [], [], []
    offer_rows: list[dict[str, Any]] = []
    outbox = deliveries.Batch()
    for lead, lead_id in zip(leads, ids, strict=True):
        lead.id = lead_id
        for type_, actor, data in lead.events:
            events.append({"lead_id": lead_id, "type": type_, "actor": actor, "data": data,
                           "at": now if type_ not in ("received",) else lead.sub.received_at})
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
                "method": lead.decision.method, "trace": lead.decision_json or {},
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
        if lead.decision is not None and (fv := snap.flow_of(lead.campaign)) is not None:
            outbox.add(lead_id, plan_of(fv[0], lead.decision),
                       lambda lead=lead: _facts(lead, now), now, flow_key=lead.flow_key,
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
    if assigned:
        loads.record_assignments(session, assigned)
    routed = {x.flow_key for x in leads if x.decision is not None}
    if routed:
        session.execute(
            STATE.update().where(STATE.c.flow_key == _bind("k"))
            .values(state=_bind("s"), decisions=STATE.c.decisions + _bind("n"),
                    updated_at=now),
            [{"k": k, "s": jsonable(states[k or ""]),
              "n": sum(1 for x in leads if x.flow_key == k and x.decision is not None)}
             for k in sorted(routed, key=str)])
    jobs.extend(outbox.write(session))
    # one statement on PostgreSQL for everything the batch inserts once ids are known
    insert_many(session, [(EVENTS, events), (KEYS, keys), (ASSIGNMENTS, assignments),
                          (OFFERS, offer_rows), (JOBS, jobs), (IDEM, idem)])


def _notices(snap: Snapshot, leads: Sequence[_Lead], now: datetime) -> list[Notice]:
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
            out.append(Notice("lead.queued", None, {"lead": body, "at": now.isoformat()}))
    return out


def _bind(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name)
