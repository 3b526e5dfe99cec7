"""The leads route's hook for supplier pre-ping ids: a lead posted with ``ping_id`` is
verified and held to the quoted price (services/market/preping.py). Leads without a
``ping_id`` cost one dict lookup here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from leadgate.api.deps import Caller
from leadgate.bootstrap import App
from leadgate.domain.errors import Conflict
from leadgate.services.capture import IngestResult
from leadgate.services.market import ledger, preping
from leadgate.services.market.preping import Held
from leadgate.store import market as mk
from leadgate.store import models as m


@dataclass(frozen=True)
class Retry:
    """A retry of a stored ping-id post: nothing is claimed; its replayed answer gets
    the price the stored lead was held to, as the first answer had it."""


async def hold(app: App, caller: Caller, payload: Any,
               idempotency_key: str | None = None) -> Held | Retry | None:
    """Take ``ping_id`` out of the payload, verify and claim it (4xx when refused).

    A retry of a post that was stored (same ``Idempotency-Key``) is let through
    without a claim: the capture path replays the first answer (or answers 409 for
    another body under that key), so a supplier's retry never sees ``ping_used``."""
    if not isinstance(payload, dict) or "ping_id" not in payload:
        return None
    name, source_id = caller.principal.name, caller.principal.source_id
    assert source_id is not None

    def run() -> Held | Retry:
        with app.uow() as uow:
            try:
                return preping.hold(uow, source_id, name, payload, app.clock(),
                                    app.settings.secret_key)
            except Conflict as exc:
                if exc.code != "ping_used" or idempotency_key is None or \
                        not _stored_under(uow, source_id, idempotency_key,
                                          app.settings.idempotency_ttl_hours, app.clock()):
                    raise
        payload.pop("ping_id", None)  # the replay's body hash is the first post's
        return Retry()

    return await run_in_threadpool(run)


def _stored_under(uow: Any, source_id: int, key: str, ttl_hours: int,
                  now: datetime) -> bool:
    """Did this source store a post under ``key`` within the replay window?"""
    found = uow.session.scalar(select(m.IdempotencyKey.id).where(
        m.IdempotencyKey.source_id == source_id, m.IdempotencyKey.key == key,
        m.IdempotencyKey.created_at >= now - timedelta(hours=ttl_hours)))
    return found is not None


async def settle(app: App, caller: Caller, held: Held | Retry, result: IngestResult) -> None:
    """Record the quoted price as the stored lead's supplier cost and answer it; a
    lead not stored (refused) frees the ping id for a corrected post. A replayed
    retry answers the price its lead was held to."""
    if isinstance(held, Retry):
        if result.replayed and result.lead_id is not None and isinstance(result.body, dict):
            lead_id = result.lead_id

            def quoted() -> int | None:
                with app.reader() as uow:
                    return uow.session.scalar(select(mk.MarketLead.quoted).where(
                        mk.MarketLead.lead_id == lead_id))

            price = await run_in_threadpool(quoted)
            if price is not None:
                result.body["price"] = str(ledger.money(price))
        return
    if result.status_code != 201 or result.lead_id is None or result.replayed:
        await release(app, held)
        return
    claim, stored, name = held, result.lead_id, caller.principal.name

    def run() -> None:
        with app.uow() as uow:
            preping.settle(uow, claim, stored, name, app.clock())

    await run_in_threadpool(run)
    if isinstance(result.body, dict):
        result.body["price"] = str(claim.price)


async def release(app: App, held: Held | Retry) -> None:
    """Free the ping id's claim: its lead was not stored."""
    if isinstance(held, Retry):
        return  # nothing was claimed
    claim = held

    def run() -> None:
        with app.uow() as uow:
            preping.release(uow, claim)

    await run_in_threadpool(run)
