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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from leadgate.domain.errors import IdempotencyConflict
from leadgate.services import snapshot
from leadgate.services.capture.checks import (
    gatekeep,
    lock_flows,
    lock_flows_and_loads,
    lock_key,
    lookup,
    resolve,
)
from leadgate.services.capture.decide import plan, route
from leadgate.services.capture.submission import (
    DEFER,
    MAX_FIELDS,
    BatchLead,
    IngestResult,
    Submission,
    body_hash,
    check_payload,
    prepare,
)
from leadgate.services.capture.tables import IDEM
from leadgate.services.capture.write import prepare_rows, write
from leadgate.services.notify import Notice


@dataclass
class AfterCommit:
    """What the caller does once the batch has committed: publish these live notices,
    and wake the worker if jobs were queued."""

    notices: list[Notice] = field(default_factory=list)
    jobs: int = 0
    #: PostgreSQL: the notices as NOTIFY payloads (``Hub.payloads``), sent by the batch's
    #: own write statement; ``told`` says whether it sent any
    payloads: Callable[[list[Notice]], list[str]] | None = None
    told: bool = False
    #: PostgreSQL: when a list, the batch's write statement is left in it, for the
    #: caller to send with its COMMIT in one round trip (``pipeline.run(commit=True)``)
    #: instead of on its own; the caller must run nothing else before
    last: list[tuple[str, tuple[Any, ...]]] | None = None


__all__ = [
    "DEFER",
    "MAX_FIELDS",
    "AfterCommit",
    "IngestResult",
    "Submission",
    "body_hash",
    "check_payload",
    "prepare",
    "process",
]


def process(session: Session, subs: Sequence[Submission], now: datetime, *,
            ttl: timedelta = timedelta(hours=24),
            after: AfterCommit | None = None) -> list[Any]:
    """Qualify (if needed), check, decide and store a batch; the caller commits.

    Returns, per submission and in order, an :class:`IngestResult`, an exception
    to raise for it (bad key, idempotency conflict) or :data:`DEFER`. ``after``
    collects what to do once the caller has committed (live notices, whether the
    worker has jobs to run).
    """
    out: list[Any] = [None] * len(subs)
    snap = snapshot.cached(session) or snapshot.current(session)
    leads = resolve(snap, subs, out)
    # SQLite: BEGIN IMMEDIATE already serialises everything, and the flow lock comes
    # first. PostgreSQL: per-key advisory locks serialise the checks, and the flow
    # locks are taken just before deciding (below), held for the least time.
    late = session.get_bind().dialect.name == "postgresql"
    locked: dict[str, dict[str, Any]] = {}
    if not late:
        locked = lock_flows(session, sorted({lock_key(x.campaign) for x in leads}), now)
    found = lookup(session, leads, now)  # PostgreSQL: the key locks first, same round trip
    if found.stamps != snap.stamps:
        snap = snapshot.current(session, found.stamps)
        out = [None] * len(subs)
        leads = resolve(snap, subs, out)
        if late:  # the leads may have other keys now (re-qualified): lock, look again
            found = lookup(session, leads, now)
        else:
            more = sorted({lock_key(x.campaign) for x in leads} - set(locked))
            if more:
                locked.update(lock_flows(session, more, now))
                found = lookup(session, leads, now)
    replays: dict[int, int] = {}  # submission index -> stored idempotency row
    seen_keys: set[tuple[int, str]] = set()
    seen_idem: set[tuple[int, str]] = set()
    expired: list[int] = []
    kept: list[BatchLead] = []
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
        gatekeep(lead, found, now)
        kept.append(lead)
    if expired:
        session.execute(delete(IDEM).where(IDEM.c.id.in_(expired)))
    if replays:  # answered as the first time
        first = {rid: (code, body) for rid, code, body in session.execute(
            select(IDEM.c.id, IDEM.c.status_code, IDEM.c.response)
            .where(IDEM.c.id.in_(sorted(set(replays.values())))))}
        for i, rid in replays.items():
            code, body = first[rid]
            out[i] = IngestResult(code, body, body.get("id"), replayed=True)
    notices: list[Notice] | None = [] if after is not None else None
    sent: list[str] = []
    notify = None
    if after is not None and after.payloads is not None:
        payloads = after.payloads

        def notify(batch: list[Notice]) -> list[str]:
            sent.extend(payloads(batch))
            return sent

    routable = [x for x in kept if x.status == "new"]
    if not late:
        route(session, snap, routable, locked, now)
        queued = write(session, kept, locked, now, notices=notices, notify=notify)
    else:
        # the rows' JSON that no decision changes; then the flows' locks and the
        # members' loads, in one round trip, at last
        prepare_rows(kept)
        planned = plan(snap, routable, now)
        locked, stored = lock_flows_and_loads(
            session, sorted({lock_key(x.campaign) for x in routable}), planned.agent_ids, now)
        route(session, snap, routable, locked, now, planned=planned, stored=stored)
        queued = write(session, kept, locked, now, notices=notices, notify=notify,
                       ids=found.lead_ids or None,
                       last=after.last if after is not None else None)
    if after is not None and notices is not None:
        after.jobs += queued
        after.notices.extend(notices)
        after.told = after.told or bool(sent)
    for lead in kept:
        out[lead.index] = lead.result
    return out


