"""Inside the batch's transaction, before any decision: the routing locks, the one
lookup statement, and each lead's gatekeeping (suppression, dedupe, verdict)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from leadgate.domain.errors import AuthError, InvalidInput, Reason
from leadgate.services import loads
from leadgate.services.capture.submission import (
    BatchLead,
    Submission,
    prepare,
    q_stamps,
)
from leadgate.services.capture.tables import STATE
from leadgate.services.snapshot import CampaignInfo, Snapshot
from leadgate.store import pipeline
from leadgate.store.bulk import _sqlite_time, from_sqlite_time, pg_ids, pg_texts
from leadgate.store.db import dumps


def lock_key(campaign: CampaignInfo) -> str:
    # leads of campaigns without a flow still need their dedupe checks serialised
    return campaign.flow_key or f"~campaign:{campaign.key}"


def lock_flows(session: Session, keys: Sequence[str], now: datetime) -> dict[str, dict[str, Any]]:
    """Take the routing locks (sorted, one statement) and return each flow's state."""
    if not keys:
        return {}
    if session.get_bind().dialect.name == "sqlite":  # driver-level: nothing compiled per batch
        ordered = sorted(keys)
        at = _sqlite_time(now)
        rows = session.connection().exec_driver_sql(
            _sqlite_lock_text(len(ordered)), tuple(x for k in ordered for x in (k, at)))
        return {k: dict(orjson.loads(st) or {}) if isinstance(st, (str, bytes))
                else dict(st or {}) for k, st in rows}
    ins = pg_insert(STATE)
    stmt = ins.values([{"flow_key": k, "state": {}, "decisions": 0, "updated_at": now}
                       for k in sorted(keys)])
    stmt = stmt.on_conflict_do_update(index_elements=[STATE.c.flow_key],
                                      set_={"flow_key": stmt.excluded.flow_key})
    rows = session.execute(stmt.returning(STATE.c.flow_key, STATE.c.state))
    return {k: dict(s or {}) for k, s in rows}


@functools.cache
def _sqlite_lock_text(n: int) -> str:
    """SQLite: :func:`lock_flows` for ``n`` flows as one upsert (the write lock is held
    from BEGIN IMMEDIATE already; this reads each flow's state, creating its row)."""
    values = ", ".join(["(?, '{}', 0, ?)"] * n)
    return ("INSERT INTO routing_state (flow_key, state, decisions, updated_at) VALUES "
            f"{values} ON CONFLICT (flow_key) DO UPDATE SET flow_key = excluded.flow_key "
            "RETURNING flow_key, state")


#: PostgreSQL: the routing locks (flow rows, in sorted order), then the loads of the
#: pool members (in agent id order): UNION ALL runs its parts in order, so the locks
#: are taken in the same order as by ``lock_flows`` then ``loads.read``, in one round trip
_PG_LOCK_FLOWS_AND_LOADS = (
    "WITH s AS (INSERT INTO routing_state (flow_key, state, decisions, updated_at) "
    "SELECT u.k, '{}'::jsonb, 0, %s FROM jsonb_array_elements_text(%s::jsonb) "
    "WITH ORDINALITY AS u(k, o) "
    "ORDER BY u.o ON CONFLICT (flow_key) DO UPDATE SET flow_key = excluded.flow_key "
    "RETURNING flow_key, state) "
    "SELECT 's', s.flow_key, s.state::text FROM s "
    "UNION ALL "
    "SELECT 'l', NULL, row_to_json(l)::text FROM (SELECT * FROM agent_loads "
    "WHERE agent_id = ANY(%s::bigint[]) ORDER BY agent_id FOR UPDATE) AS l")


def lock_flows_and_loads(session: Session, keys: Sequence[str], agent_ids: Sequence[int],
                         now: datetime) -> tuple[dict[str, dict[str, Any]],
                                                 dict[int, loads.LoadRow]]:
    """PostgreSQL: :func:`lock_flows` and ``loads.read(..., lock=True)`` in one statement."""
    stored = {i: loads.LoadRow(i) for i in agent_ids}
    if not keys:
        return {}, (loads.read(session, agent_ids, lock=True) if agent_ids else stored)
    states: dict[str, dict[str, Any]] = {}
    (rows,) = pipeline.run(session, [(
        _PG_LOCK_FLOWS_AND_LOADS, (now, pg_texts(sorted(keys)), pg_ids(sorted(agent_ids))))])
    for kind, key, text in rows:
        if kind == "s":
            states[key] = dict(orjson.loads(text) or {})
        else:
            row = loads.from_json(orjson.loads(text))
            stored[row.agent_id] = row
    return states, stored


def lock_keys(leads: Sequence[BatchLead]) -> tuple[str, tuple[Any, ...]]:
    """PostgreSQL: the statement that serialises the dedupe and idempotency checks of
    these leads with other transactions checking the same keys (transaction-scoped
    advisory locks, one per key, taken in sorted order in one statement), so the
    lookup sent after it sees every earlier lead with a key in common, committed.
    :func:`lookup` sends it, in the lookup's round trip. The flow's routing lock is
    taken only for deciding and writing, as late as possible."""
    locks = sorted({_lock_id(f"d:{x.campaign.id}:{k}") for x in leads for k in x.q.dedupe_keys}
                   | {_lock_id(f"i:{x.source.id}:{x.sub.idempotency_key}") for x in leads
                      if x.sub.idempotency_key is not None})
    return _PG_LOCK_KEYS, (pg_ids(locks),)


#: PostgreSQL: the batch's key locks, and generic plans for the rest of its transaction.
#: With ``plan_cache_mode`` at its default (``auto``) PostgreSQL plans a prepared
#: statement anew for its parameters (a *custom* plan) as long as that looks cheaper
#: than the generic plan: for the lookup of a batch of one or two leads (arrays of one
#: or two keys) it always does, and planning that five-part UNION was ~14 % of the
#: database's CPU per batch. The batch's statements are written to be index probes
#: whatever the parameters, so their generic plans are the right ones; the setting is
#: local to the transaction (``set_config(..., true)``).
_PG_LOCK_KEYS = ("SELECT set_config('plan_cache_mode', 'force_generic_plan', true), "
                 "count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k")


def _lock_id(key: str) -> int:
    """A stable signed 64-bit number for an advisory lock (a collision only serialises
    two unrelated keys)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big",
                          signed=True)


@dataclass
class Found:
    stamps: dict[str, int] = field(default_factory=dict)
    suppressed: set[str] = field(default_factory=set)
    dedupe: dict[tuple[int, str], list[tuple[datetime, int]]] = field(default_factory=dict)
    idem: dict[tuple[int, str], tuple[int, datetime, str]] = field(default_factory=dict)
    #: PostgreSQL: ids drawn from the leads' sequence for this batch (one per lead), so
    #: the leads travel in the batch's one write statement instead of an INSERT of their
    #: own made holding the flow's lock
    lead_ids: list[int] = field(default_factory=list)


#: PostgreSQL: the batch's lookup as one fixed text with array parameters (psycopg
#: prepares it after a few batches; no SQL built or compiled per batch): config stamps,
#: do-not-contact hits, dedupe hits inside the window, idempotency keys, and one id per
#: lead drawn from the leads' sequence.
#:
#: Each asked-for key is one index probe (a LATERAL subquery per key; ``OFFSET 0`` keeps
#: the planner from flattening it into a join it could answer with a scan). With
#: ``key = ANY(...)`` over the whole table instead, the planner reads every row of a
#: young table (thousands of rows, never analysed: a new installation's first minutes)
#: and compares it with every key: on a fresh database that was a growing share of the
#: database's CPU per lead until autovacuum first analysed the table.
_PG_LOOKUP = (
    "SELECT 'c' AS kind, area AS k, version AS n, NULL::timestamptz AS at, NULL::text AS txt, "
    "NULL::bigint AS c FROM config_stamps "
    "UNION ALL SELECT 's', s.key, NULL, NULL, NULL, NULL "
    "FROM jsonb_array_elements_text(%s::jsonb) AS q(k) "
    "CROSS JOIN LATERAL (SELECT key FROM suppressions WHERE key = q.k OFFSET 0) AS s "
    "UNION ALL SELECT 'd', d.key, d.lead_id, d.created_at, NULL, d.campaign_id "
    "FROM jsonb_array_elements_text(%s::jsonb) AS q(k) "
    "CROSS JOIN LATERAL (SELECT key, lead_id, created_at, "
    "campaign_id FROM dedupe_keys WHERE key = q.k AND campaign_id = ANY(%s::bigint[]) "
    "AND created_at >= %s OFFSET 0) AS d "
    "UNION ALL SELECT 'i', i.key, i.id, i.created_at, i.body_hash, i.source_id "
    "FROM jsonb_array_elements_text(%s::jsonb) AS q(k) "
    "CROSS JOIN LATERAL (SELECT id, key, created_at, "
    "body_hash, source_id FROM idempotency_keys WHERE key = q.k "
    "AND source_id = ANY(%s::bigint[]) OFFSET 0) AS i "
    "UNION ALL SELECT 'n', NULL, nextval(pg_get_serial_sequence('leads', 'id')), NULL, NULL, "
    "NULL FROM generate_series(1, %s)")


def lookup(session: Session, leads: Sequence[BatchLead], now: datetime) -> Found:
    """Stamps, do-not-contact hits, dedupe hits and idempotency keys: one statement.

    On PostgreSQL the leads' key locks (:func:`lock_keys`) go first, in the same
    round trip (store/pipeline.py): a statement of their own, so the lookup's
    snapshot is taken once the locks are held."""
    sup = sorted({k for lead in leads for k in lead.q.suppression_keys})
    keys = sorted({k for lead in leads for k in lead.q.dedupe_keys})
    oldest = min((lead.sub.received_at - lead.campaign.spec.dedupe.window for lead in leads),
                 default=now)
    idem = sorted({x.sub.idempotency_key for x in leads if x.sub.idempotency_key})
    if session.get_bind().dialect.name == "postgresql":
        rows: Any = pipeline.run(session, [lock_keys(leads), (_PG_LOOKUP, (
            pg_texts(sup), pg_texts(keys), pg_ids(sorted({x.campaign.id for x in leads})),
            oldest, pg_texts(idem), pg_ids(sorted({x.source.id for x in leads})),
            len(leads)))])[1]
    else:
        rows = _sqlite_rows(session, leads, sup, keys, oldest, idem)
    found = Found()
    for kind, k, num, when, text_, other in rows:
        if kind == "n":
            found.lead_ids.append(int(num))
        elif kind == "c":
            found.stamps[k] = int(num)
        elif kind == "s":
            found.suppressed.add(k)
        elif kind == "d":
            found.dedupe.setdefault((int(other), k), []).append((when, int(num)))
        else:
            found.idem[(int(other), k)] = (int(num), when, text_)
    return found


#: SQLite: the same lookup as one fixed text, the lists as JSON arrays read with
#: ``json_each`` (nothing built or compiled per batch; SQLite uses the indexes for
#: ``IN (SELECT value FROM json_each(?))`` as for an IN list). Times are compared as
#: the text SQLAlchemy stores (``bulk._sqlite_time``).
_SQLITE_LOOKUP = (
    "SELECT 'c', area, version, NULL, NULL, NULL FROM config_stamps "
    "UNION ALL SELECT 's', key, NULL, NULL, NULL, NULL FROM suppressions "
    "WHERE key IN (SELECT value FROM json_each(?)) "
    "UNION ALL SELECT 'd', key, lead_id, created_at, NULL, campaign_id FROM dedupe_keys "
    "WHERE key IN (SELECT value FROM json_each(?)) "
    "AND campaign_id IN (SELECT value FROM json_each(?)) AND created_at >= ? "
    "UNION ALL SELECT 'i', key, id, created_at, body_hash, source_id FROM idempotency_keys "
    "WHERE key IN (SELECT value FROM json_each(?)) "
    "AND source_id IN (SELECT value FROM json_each(?))")


def _sqlite_rows(session: Session, leads: Sequence[BatchLead], sup: list[str],
                 keys: list[str], oldest: datetime, idem: list[str]) -> list[tuple[Any, ...]]:
    """SQLite: the lookup's rows, times read back as aware UTC datetimes."""
    raw = session.connection().exec_driver_sql(_SQLITE_LOOKUP, (
        dumps(sup), dumps(keys), dumps(sorted({x.campaign.id for x in leads})),
        _sqlite_time(oldest), dumps(idem), dumps(sorted({x.source.id for x in leads}))))
    return [(kind, k, num, from_sqlite_time(when), text_, other)
            for kind, k, num, when, text_, other in raw]


def window_text(window: timedelta) -> str:
    days = window.total_seconds() / 86400
    return f"{days:g}-day" if days >= 1 else f"{window.total_seconds() / 3600:g}-hour"


def resolve(snap: Snapshot, subs: Sequence[Submission], out: list[Any]) -> list[BatchLead]:
    """Submissions with their source, campaign and (current) qualification."""
    leads = []
    stamps = q_stamps(snap)
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
        leads.append(BatchLead(i, sub, source, campaign, sub.q))
    return leads


def gatekeep(lead: BatchLead, found: Found, now: datetime) -> None:
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
                               f"{window_text(spec.dedupe.window)} dedupe window"))
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


