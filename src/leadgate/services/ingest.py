"""Capture: take one lead in, qualify it, store it, route it — one transaction.

A 2xx answer is only given after the commit, so an acknowledged lead is
durable. Refused leads are stored too (status ``rejected`` with their reasons)
so managers can see them; nothing is silently dropped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from leadgate.services import snapshot
from leadgate.services.capture import (
    IngestResult,
    Submission,
    body_hash,
    check_payload,
    prepare,
    process,
)
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

__all__ = ["IngestResult", "body_hash", "check_payload", "ingest_lead", "lead_summary"]


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


def ingest_lead(uow: UnitOfWork, source: m.Source, payload: dict[str, Any], now: datetime, *,
                idempotency_key: str | None = None, via: str = "api",
                ttl: timedelta = timedelta(hours=24)) -> IngestResult:
    """Qualify, store and route one lead, then commit. Idempotent by key.

    The same code as the API's batches (services/capture.py), with a batch of
    one: forms, imports and tests take this path.
    """
    sub = Submission(source_id=source.id, payload=payload, received_at=now,
                     idempotency_key=idempotency_key, via=via)
    snap = snapshot.cached(uow.session)
    if snap is not None:
        prepare(snap, sub)
    else:
        check_payload(payload)
    for attempt in range(2):
        (result,) = process(uow.session, [sub], now, ttl=ttl)
        if isinstance(result, Exception):
            raise result
        try:
            uow.commit()
        except IntegrityError:
            # a concurrent request with the same key won the race: answer as it did
            uow.rollback()
            if idempotency_key is None or attempt:
                raise
            continue
        return result  # type: ignore[no-any-return]
    raise AssertionError("unreachable")
