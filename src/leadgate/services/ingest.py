"""Capture: take one lead in, qualify it, store it, route it — one transaction.

A 2xx answer is only given after the commit, so an acknowledged lead is
durable. Refused leads are stored too (status ``rejected`` with their reasons)
so managers can see them; nothing is silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from leadgate.domain.errors import IdempotencyConflict, InvalidInput, Reason
from leadgate.domain.qualify import Qualification, qualify
from leadgate.services import catalog, scoring, timeline
from leadgate.services.routing import route_lead
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

MAX_FIELDS = 200


@dataclass(frozen=True)
class IngestResult:
    status_code: int  # 201 stored, 422 refused (a replay repeats the first code)
    body: dict[str, Any]
    lead_id: int | None
    replayed: bool = False


def body_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def lead_summary(lead: m.Lead) -> dict[str, Any]:
    """The answer to a capture request (and the short form in lists)."""
    return {
        "id": lead.id,
        "status": lead.status,
        "campaign": lead.campaign.key,
        "source": lead.source.key if lead.source else None,
        "assignee": (
            {"key": lead.assignee.key, "name": lead.assignee.name} if lead.assignee else None
        ),
        "queue": lead.queue,
        "score": lead.score,
        "grade": lead.grade,
        "reasons": lead.reasons or [],
        "duplicate_of": lead.duplicate_of_id,
        "created_at": lead.created_at.isoformat(),
        "assigned_at": lead.assigned_at.isoformat() if lead.assigned_at else None,
    }


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


def ingest_lead(uow: UnitOfWork, source: m.Source, payload: dict[str, Any], now: datetime, *,
                idempotency_key: str | None = None, via: str = "api",
                ttl: timedelta = timedelta(hours=24)) -> IngestResult:
    """Qualify, store and route one lead, then commit. Idempotent by key."""
    payload = check_payload(payload)
    digest = body_hash(payload)
    if idempotency_key is not None:
        replay = _replay(uow, source, idempotency_key, digest, now - ttl)
        if replay is not None:
            return replay
    result = _ingest(uow, source, payload, now, via=via)
    if idempotency_key is not None:
        uow.session.add(
            m.IdempotencyKey(source_id=source.id, key=idempotency_key, body_hash=digest,
                             status_code=result.status_code, response=result.body,
                             created_at=now)
        )
    try:
        uow.commit()
    except IntegrityError:
        # a concurrent request with the same key won the race: answer as it did
        uow.rollback()
        if idempotency_key is None:
            raise
        replay = _replay(uow, source, idempotency_key, digest, now - ttl)
        if replay is None:
            raise
        return replay
    return result


def _replay(uow: UnitOfWork, source: m.Source, key: str, digest: str,
            oldest: datetime) -> IngestResult | None:
    row = uow.session.scalar(
        select(m.IdempotencyKey).where(
            m.IdempotencyKey.source_id == source.id, m.IdempotencyKey.key == key
        )
    )
    if row is None:
        return None
    if row.created_at < oldest:
        uow.session.delete(row)
        uow.session.flush()
        return None
    if row.body_hash != digest:
        raise IdempotencyConflict(
            "this Idempotency-Key was already used with a different body; "
            "use a new key for a different lead"
        )
    return IngestResult(row.status_code, row.response, row.response.get("id"), replayed=True)


def _ingest(uow: UnitOfWork, source: m.Source, payload: dict[str, Any], now: datetime, *,
            via: str) -> IngestResult:
    s = uow.session
    campaign_row = source.campaign
    campaign = catalog.campaign_of(campaign_row)
    q = qualify(payload, campaign, now=now, default_region=source.default_region,
                model=scoring.active_model(uow, campaign_row))
    lead = m.Lead(
        campaign_id=campaign_row.id, source_id=source.id, status="new", values=q.values,
        raw=q.raw, reasons=[], checks=q.checks, enrichment=q.enrichment, consent=q.consent,
        score=q.score, grade=q.grade, score_explanation=q.score_explanation, via=via,
        created_at=now,
    )
    lead.campaign = campaign_row
    lead.source = source
    s.add(lead)
    s.flush()
    actor = f"source:{source.key}"
    timeline.record(uow, lead, "received", now, actor=actor, via=via)
    reasons = list(q.reasons)
    flags = list(q.flags)
    verdict = q.verdict

    def apply_check(reason: Reason) -> None:
        # the campaign decides what a duplicate or a suppressed lead does
        nonlocal verdict, reasons
        action = campaign.checks.get(reason.code, "reject")
        if action == "flag":
            flags.append(reason)
        elif action == "quarantine" and verdict != "rejected":
            verdict = "quarantined"
            reasons = [*reasons, reason]
        elif action != "quarantine":
            verdict = "rejected"
            reasons = [reason]

    if verdict != "rejected":
        hit = _suppressed(uow, q)
        if hit:
            apply_check(Reason("suppressed", f"{hit} is on the do-not-contact list"))
    if verdict != "rejected":
        original = _duplicate_of(uow, campaign_row.id, q, now, campaign.dedupe.window)
        if original is not None:
            lead.duplicate_of_id = original
            if campaign.dedupe.on_duplicate == "merge":
                lead.status = "merged"
                lead.reasons = [Reason("duplicate", f"merged onto lead {original}").to_dict()]
                orig = s.get(m.Lead, original)
                assert orig is not None
                timeline.record(uow, orig, "merged", now, actor=actor, duplicate=lead.id,
                                fields=sorted(q.values))
                timeline.record(uow, lead, "merged", now, actor=actor, into=original)
                return IngestResult(201, lead_summary(lead), lead.id)
            apply_check(Reason("duplicate", f"duplicate of lead {original} within the "
                               f"{_days(campaign.dedupe.window)} dedupe window"))
    if flags:
        timeline.record(uow, lead, "flagged", now, actor="gatekeeper",
                        reasons=[r.to_dict() for r in flags])
    if verdict == "rejected":
        lead.status = "rejected"
        lead.reasons = [r.to_dict() for r in reasons]
        timeline.record(uow, lead, "rejected", now, actor="gatekeeper", reasons=lead.reasons)
        body = {
            "type": "about:blank",
            "title": "Lead rejected",
            "status": 422,
            "code": "lead_rejected",
            "detail": reasons[0].message if reasons else "lead rejected",
            "lead_id": lead.id,
            "reasons": lead.reasons,
        }
        return IngestResult(422, body, lead.id)
    _remember_keys(uow, campaign_row.id, q, lead.id, now)
    if verdict == "quarantined":
        lead.status = "quarantined"
        lead.reasons = [r.to_dict() for r in reasons]
        timeline.record(uow, lead, "quarantined", now, actor="gatekeeper", reasons=lead.reasons)
        return IngestResult(201, lead_summary(lead), lead.id)
    timeline.record(uow, lead, "qualified", now, actor="gatekeeper", score=q.score,
                    grade=q.grade)
    route_lead(uow, lead, now)
    return IngestResult(201, lead_summary(lead), lead.id)


def _days(window: timedelta) -> str:
    days = window.total_seconds() / 86400
    return f"{days:g}-day" if days >= 1 else f"{window.total_seconds() / 3600:g}-hour"


def _suppressed(uow: UnitOfWork, q: Qualification) -> str | None:
    if not q.suppression_keys:
        return None
    hit = uow.session.scalar(
        select(m.Suppression.key).where(m.Suppression.key.in_(q.suppression_keys)).limit(1)
    )
    return hit.split(":", 1)[1] if hit else None


def _duplicate_of(uow: UnitOfWork, campaign_id: int, q: Qualification, now: datetime,
                  window: timedelta) -> int | None:
    """The original lead this one duplicates, if any. Serialised per key so two
    copies posted at the same instant give exactly one accepted lead."""
    if not q.dedupe_keys:
        return None
    if uow.dialect == "postgresql":
        for key in sorted(q.dedupe_keys):
            lock_id = zlib.crc32(f"{campaign_id}:{key}".encode())
            uow.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id})
    return uow.session.scalar(
        select(m.DedupeKey.lead_id)
        .where(
            m.DedupeKey.campaign_id == campaign_id,
            m.DedupeKey.key.in_(q.dedupe_keys),
            m.DedupeKey.created_at >= now - window,
        )
        .order_by(m.DedupeKey.created_at)
        .limit(1)
    )


def _remember_keys(uow: UnitOfWork, campaign_id: int, q: Qualification, lead_id: int,
                   now: datetime) -> None:
    for key in q.dedupe_keys:
        uow.session.add(m.DedupeKey(campaign_id=campaign_id, key=key, lead_id=lead_id,
                                    created_at=now))
