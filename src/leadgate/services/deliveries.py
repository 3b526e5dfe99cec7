"""Reliable delivery: queue in the lead's transaction, send at least once, record
every attempt, retry on a published schedule, dead-letter what keeps failing.

Life of a delivery (``deliveries.status``)::

    pending --(worker)--> sending --> accepted | rejected | duplicate     (final)
       ^   \\                 |
       |    held (office hours, a date, a condition on the lead)
       |                     +--> pending again after retry_delay()   (retryable error)
       |                     +--> dead (permanent error / attempts used up)
       +---- retry (a person) ----- dead | rejected | discarded
    standby: later destinations of a ``first_accepting`` plan, waiting their turn
    waiting: batch destinations (sftp) collecting leads for the next file

Each delivery is queued with a ``delivery.send`` job in the same transaction
(the outbox). The worker marks it ``sending`` (committed) before any I/O and
records the outcome in a second transaction; a worker killed between the two
leaves the job leased: once the lease runs out another worker claims it and
sends again. Receivers deduplicate on the delivery's idempotency id (sent as
the ``Idempotency-Key`` header, the Standard Webhooks ``webhook-id``, the email
Message-ID...). That is at-least-once delivery, exactly-once effect.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.orm import joinedload

import leadgate.delivery  # noqa: F401  (registers the kinds)
from leadgate.delivery.base import (
    DeliveryError,
    Exchange,
    Outcome,
    SendContext,
    Spec,
    parse_spec,
    redact,
)
from leadgate.domain.decision import Decision
from leadgate.domain.delivery import DeliverPlan, Hold, parse_hold, plan_of, retry_delay
from leadgate.domain.errors import Conflict, InvalidConfig, NotFound
from leadgate.domain.routing.flow import Flow
from leadgate.services import jobs
from leadgate.store import models as m
from leadgate.store.bulk import insert_rows
from leadgate.store.uow import UnitOfWork

log = logging.getLogger(__name__)

JOB = "delivery.send"
FINAL = ("accepted", "rejected", "duplicate", "dead", "discarded", "skipped")
OPEN = ("pending", "held", "waiting", "sending")
#: Statuses a person may send again (``retry``) ...
RETRYABLE = ("dead", "rejected", "duplicate", "discarded", "held")
#: ... and statuses that can no longer be discarded.
NOT_DISCARDABLE = ("accepted", "discarded", "skipped")
#: A worker owns a ``sending`` delivery this long beyond the destination's timeout.
SENDING_GRACE = timedelta(seconds=30)
#: How soon a delivery over its destination's concurrency limit is tried again.
BUSY_DELAY = timedelta(seconds=1)
DELIVERIES, JOBS = m.Delivery.__table__, m.Job.__table__

# --- the HTTP client and the random source (injected by tests) ------------------------
_client: httpx.Client | None = None
_client_lock = threading.Lock()
rand: Callable[[], float] = random.random


#: one client per buyer host for the marketplace's posts (see :func:`http_client_for`)
_host_clients: dict[str, httpx.Client] = {}
_injected = False
_ssl: ssl.SSLContext | None = None


def http_client() -> httpx.Client:
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(follow_redirects=False,
                                   limits=httpx.Limits(max_connections=100))
        return _client


def http_client_for(url: str | None) -> httpx.Client:
    """The client for posts to ``url``'s host: one per host (scheme, host, port), kept
    for the process, all sharing one TLS context. A pool per host keeps the connection
    pool's bookkeeping (done over every connection it holds, on every request) to that
    host's few connections. A client set by :func:`set_http_client` (tests) serves
    every host."""
    global _ssl
    if url is None or _injected:
        return http_client()
    origin = url.split("/", 3)[:3]  # "https:", "", "host:port"
    key = "/".join(origin)
    client = _host_clients.get(key)
    if client is None:
        with _client_lock:
            client = _host_clients.get(key)
            if client is None:
                if _ssl is None:  # loading the CA bundle takes tens of ms: once
                    _ssl = ssl.create_default_context()
                client = _host_clients[key] = httpx.Client(
                    follow_redirects=False, verify=_ssl,
                    limits=httpx.Limits(max_connections=100))
    return client


def close_connections() -> None:
    """Close the shared HTTP client's kept-alive connections and the pools of database
    destinations (``App.close()``); the next delivery opens new ones."""
    from leadgate.delivery.database import dispose_engines

    global _client
    with _client_lock:
        clients = [c for c in (_client, *_host_clients.values()) if c is not None]
        _client = None
        _host_clients.clear()
    for client in clients:
        client.close()
    dispose_engines()


def set_http_client(client: httpx.Client | None) -> None:
    """Use ``client`` for HTTP destinations (tests pass one with a MockTransport)."""
    global _client, _injected
    with _client_lock:
        _client, _injected = client, client is not None


# --- destinations ---------------------------------------------------------------------
_specs: dict[tuple[str, str], Spec] = {}


def spec_of(row: m.Destination) -> Spec:
    """The parsed spec of a destination row, cached per content."""
    k = (row.key, json.dumps(row.spec, sort_keys=True, default=str))
    got = _specs.get(k)
    if got is None:
        got = parse_spec(row.spec, f"destination {row.key}")
        _specs[k] = got
    return got


def public_spec(spec: Mapping[str, Any], s: Spec | None = None) -> dict[str, Any]:
    """A destination's spec with every secret replaced by ``***``."""
    s = s or parse_spec(spec)
    return redact(dict(spec), s.impl.secrets(s.config))


def get_destination(uow: UnitOfWork, key: str) -> m.Destination:
    row = uow.session.scalar(select(m.Destination).where(m.Destination.key == key))
    if row is None:
        raise NotFound(f"no destination {key!r}")
    return row


# --- queueing (in the lead's transaction) ----------------------------------------------
@dataclass
class Batch:
    """Deliveries of a batch of leads: one INSERT for all, jobs for the caller's INSERT."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)

    def add(self, lead_id: int, plan: DeliverPlan | None, facts: Callable[[], Mapping[str, Any]],
            now: datetime, *, flow_key: str | None = None, rule: str | None = None) -> None:
        if plan is None:
            return
        from leadgate.domain.delivery import select_targets

        targets = select_targets(plan, facts())
        group = f"{lead_id}:{uuid.uuid4().hex[:12]}" if plan.mode == "first_accepting" else None
        for i, t in enumerate(targets):
            key = uuid.uuid4().hex
            first = group is None or i == 0
            self.rows.append({
                "lead_id": lead_id, "destination_key": t.destination, "idempotency_key": key,
                "status": "pending" if first else "standby", "attempts": 0,
                "attempts_offset": 0, "next_attempt_at": now if first else None,
                "sending_until": None, "hold": t.hold.to_dict() if t.hold else None,
                "group_key": group, "position": i, "flow_key": flow_key, "rule": rule,
                "reason": None, "external_id": None, "price": None, "notice": None,
                "created_at": now,
                "updated_at": now, "finished_at": None})
            if first:
                self.jobs.append(job_row(key, now))

    def write(self, session: Any) -> list[dict[str, Any]]:
        """Insert the deliveries (one statement); returns the job rows to insert."""
        if self.rows:
            insert_rows(session, DELIVERIES, self.rows)
        return self.jobs


def job_row(idempotency_key: str, run_after: datetime, now: datetime | None = None
            ) -> dict[str, Any]:
    return {"kind": JOB, "payload": {"delivery": idempotency_key}, "status": "pending",
            "attempts": 0, "max_attempts": 8, "run_after": run_after,
            "created_at": now or run_after}


def queue_for_decision(uow: UnitOfWork, lead: m.Lead, flow: Flow, decision: Decision,
                       facts: Mapping[str, Any], now: datetime) -> int:
    """Queue the deliveries of a (re-)routing decision; a destination already queued
    for this lead is not queued twice. Returns how many were queued."""
    plan = plan_of(flow, decision)
    if plan is None:
        return 0
    done = set(uow.session.scalars(select(m.Delivery.destination_key)
                                   .where(m.Delivery.lead_id == lead.id)))
    if done:
        plan = DeliverPlan(tuple(t for t in plan.targets if t.destination not in done),
                           plan.mode)
        if not plan.targets:
            return 0
    b = Batch()
    b.add(lead.id, plan, lambda: facts, now, flow_key=flow.key, rule=decision.rule)
    uow.session.flush()
    b.write(uow.session)
    if b.jobs:
        uow.session.execute(insert(JOBS), b.jobs)
    return len(b.rows)


def queue_direct(uow: UnitOfWork, lead_id: int, destination: str, now: datetime) -> m.Delivery:
    """Queue one delivery of a lead to a destination (tests, "send a test lead")."""
    get_destination(uow, destination)
    d = m.Delivery(lead_id=lead_id, destination_key=destination,
                   idempotency_key=uuid.uuid4().hex, status="pending", attempts=0,
                   attempts_offset=0, next_attempt_at=now, position=0, created_at=now,
                   updated_at=now)
    uow.session.add(d)
    jobs.enqueue(uow, JOB, {"delivery": d.idempotency_key}, now)
    return d


# --- the worker side ------------------------------------------------------------------
@jobs.handler(JOB)
def _run_job(uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
    run(uow, str(payload["delivery"]), now)


def _load(uow: UnitOfWork, key: str) -> m.Delivery | None:
    q = select(m.Delivery).where(m.Delivery.idempotency_key == key)
    if uow.dialect == "postgresql":
        q = q.with_for_update()
    return uow.session.scalar(q)


#: what lead_view() reads of a lead, loaded with it in one query
LEAD_VIEW_LOAD = (joinedload(m.Lead.source), joinedload(m.Lead.campaign),
                  joinedload(m.Lead.assignee))


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


class _Person(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...


class ViewedLead(Protocol):
    """What :func:`lead_view` reads of a lead: an ORM ``Lead``, or the sell job's
    ``LeadForSale`` (read in one Core statement)."""

    @property
    def id(self) -> int: ...
    @property
    def values(self) -> dict[str, Any]: ...
    @property
    def enrichment(self) -> dict[str, Any]: ...
    @property
    def score(self) -> float | None: ...
    @property
    def grade(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def source(self) -> _Keyed | None: ...
    @property
    def campaign(self) -> _Keyed: ...
    @property
    def assignee(self) -> _Person | None: ...


def lead_view(lead: ViewedLead, d: m.Delivery | None) -> dict[str, Any]:
    """What destinations see of a lead (see delivery/render.py)."""
    view: dict[str, Any] = dict(lead.values or {})
    enr = lead.enrichment or {}
    for k in ("country", "region", "timezone", "postal_code"):
        if view.get(k) in (None, "") and enr.get(k) not in (None, ""):
            view[k] = enr[k]
    view.update({
        "lead_id": lead.id, "score": lead.score, "grade": lead.grade,
        "source": lead.source.key if lead.source else None, "campaign": lead.campaign.key,
        "assignee": lead.assignee.key if lead.assignee else None,
        "assignee_name": lead.assignee.name if lead.assignee else None,
        "assignee_email": lead.assignee.email if lead.assignee else None,
        "status": lead.status, "created_at": lead.created_at.isoformat()})
    if d is not None:
        view["delivery_id"] = d.id
        view["idempotency_key"] = d.idempotency_key
    return view


def _hold_of(spec: Spec, d: m.Delivery) -> list[Hold]:
    holds = [spec.common.hold] if spec.common.hold else []
    if d.hold:
        holds.append(parse_hold(d.hold, "hold"))
    return holds


def run(uow: UnitOfWork, key: str, now: datetime) -> str:
    """Send one delivery (or the batch it belongs to). Returns the delivery's status."""
    from leadgate.services.routing import lead_facts

    s = uow.session
    d = _load(uow, key)
    if d is None or d.status in FINAL or d.status == "standby":
        return d.status if d else "missing"
    notice: dict[str, Any] | None = None
    if d.notice is not None:  # a notification to a rep or team (services/notifications.py)
        from leadgate.services import notifications

        got = notifications.prepare(uow, d, now)
        if isinstance(got, str):
            _finish(uow, d, Outcome("skipped", got), now, final="skipped")
            uow.commit()
            return d.status
        spec, notice = got
    else:
        dest = s.scalar(select(m.Destination).where(m.Destination.key == d.destination_key))
        if dest is None or not dest.active:
            _finish(uow, d, Outcome("error", f"destination {d.destination_key!r} is missing "
                                    "or inactive"), now, final="dead")
            uow.commit()
            return d.status
        spec = spec_of(dest)
        lead = s.get(m.Lead, d.lead_id, options=LEAD_VIEW_LOAD)
        assert lead is not None
        for hold in _hold_of(spec, d):
            rel = hold.release(lead_facts(lead, now), now)
            if not rel.ready:
                d.status, d.reason, d.updated_at = "held", rel.reason, now
                d.next_attempt_at = rel.wake_at
                if rel.wake_at is not None:
                    s.execute(insert(JOBS), [job_row(key, rel.wake_at, now)])
                uow.commit()
                return "held"
        if spec.impl.batched(spec.config):
            return _run_batch(uow, d, dest, spec, now)
        if uow.dialect == "postgresql":  # serialise the concurrency count per destination
            s.execute(select(m.Destination.id).where(m.Destination.id == dest.id)
                      .with_for_update())
    busy = s.scalar(select(func.count()).select_from(m.Delivery).where(
        m.Delivery.destination_key == d.destination_key, m.Delivery.status == "sending",
        m.Delivery.sending_until > now, m.Delivery.id != d.id))
    if (busy or 0) >= spec.common.concurrency:
        d.status, d.next_attempt_at, d.updated_at = "pending", now + BUSY_DELAY, now
        s.execute(insert(JOBS), [job_row(key, now + BUSY_DELAY, now)])
        uow.commit()
        return "pending"
    d.status, d.attempts, d.updated_at = "sending", d.attempts + 1, now
    d.sending_until = now + timedelta(seconds=spec.common.timeout) + SENDING_GRACE
    number = d.attempts
    view = notice if notice is not None else lead_view(lead, d)
    uow.commit()  # "sending" is durable before any byte leaves

    outcome, seen, started, ms = _send(spec, view, now, batch=None)
    d = _load(uow, key)
    assert d is not None
    if d.status != "sending":  # discarded (or finished by a faster twin) meanwhile
        _attempt(uow, d, number, outcome, seen, started, ms, spec)
        uow.commit()
        return d.status
    _attempt(uow, d, number, outcome, seen, started, ms, spec)
    _settle(uow, d, spec, outcome, now)
    uow.commit()
    return d.status


def _send(spec: Spec, view: Any, now: datetime, *, batch: list[dict[str, Any]] | None,
          http: httpx.Client | None = None) -> tuple[Outcome, Exchange, datetime, float]:
    import time

    ctx = SendContext(http=http or http_client(), now=now, timeout=spec.common.timeout)
    t0 = time.monotonic()
    try:
        if batch is not None:
            outcome, seen = spec.impl.send_batch(spec.config, batch, ctx)
        else:
            outcome, seen = spec.impl.send(spec.config, view, ctx)
    except DeliveryError as exc:
        outcome = Outcome("error", str(exc), retryable=exc.retryable)
        try:
            req = spec.impl.prepare(spec.config, batch[0] if batch else view)
        except Exception:
            req = {}
        seen = Exchange(request=req)
    except Exception as exc:  # a bug in a destination must not lose the delivery
        log.exception("destination %s failed", spec.key)
        outcome = Outcome("error", f"{type(exc).__name__}: {exc}", retryable=True)
        seen = Exchange()
    return outcome, seen, now, round((time.monotonic() - t0) * 1000, 3)


def _attempt(uow: UnitOfWork, d: m.Delivery, number: int, outcome: Outcome, seen: Exchange,
             started: datetime, ms: float, spec: Spec) -> None:
    record_attempts(uow, [attempt_row(d.id, number, outcome, seen, started, ms, spec)])


def attempt_row(delivery_id: int, number: int, outcome: Outcome, seen: Exchange,
                started: datetime, ms: float, spec: Spec) -> dict[str, Any]:
    """One attempt's ``delivery_attempts`` row: the request and the response with the
    destination's secrets and credential headers redacted."""
    secrets = spec.impl.secrets(spec.config)
    request = redact(seen.request, secrets)
    headers = request.get("headers") if isinstance(request, dict) else None
    if isinstance(headers, dict):
        for h in list(headers):
            if h.lower() in ("authorization", "proxy-authorization", "cookie"):
                headers[h] = "***"
    return dict(delivery_id=delivery_id, number=number, outcome=outcome.status,
                reason=redact(outcome.reason, secrets), retryable=outcome.retryable,
                request=request, response=redact(seen.response, secrets),
                started_at=started, duration_ms=ms, worker=jobs.worker_id())


def record_attempts(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    """Insert attempt rows (:func:`attempt_row`): one Core statement on the unit of
    work's connection, no ORM object nor flush."""
    if rows:
        uow.session.connection().execute(_NEW_ATTEMPT, rows)


_NEW_ATTEMPT = insert(m.DeliveryAttempt.__table__)


def _settle(uow: UnitOfWork, d: m.Delivery, spec: Spec, outcome: Outcome,
            now: datetime) -> None:
    if outcome.status == "error":
        used = d.attempts - d.attempts_offset
        if outcome.retryable and used < spec.common.max_attempts:
            wait = retry_delay(used, spec.common.schedule, rand())
            d.status, d.reason, d.updated_at = "pending", outcome.reason, now
            d.next_attempt_at, d.sending_until = now + wait, None
            uow.session.execute(insert(JOBS), [job_row(d.idempotency_key, now + wait, now)])
            return
        _finish(uow, d, outcome, now, final="dead")
        return
    _finish(uow, d, outcome, now, final=outcome.status)


def _finish(uow: UnitOfWork, d: m.Delivery, outcome: Outcome, now: datetime, *,
            final: str) -> None:
    from leadgate.services import timeline

    d.status, d.reason, d.updated_at, d.finished_at = final, outcome.reason, now, now
    d.sending_until, d.next_attempt_at = None, None
    if outcome.external_id is not None:
        d.external_id = outcome.external_id[:200]
    if outcome.price is not None:
        d.price = outcome.price
    lead = uow.session.get(m.Lead, d.lead_id)
    if lead is not None:
        done = "notified" if d.notice is not None else "delivered"
        timeline.record(uow, lead, done if final == "accepted" else "delivery_" + final,
                        now, actor="worker", destination=d.destination_key,
                        delivery=d.id, reason=outcome.reason,
                        **({"external_id": d.external_id} if d.external_id else {}))
    if d.group_key is not None:
        _next_in_group(uow, d, now)


def _next_in_group(uow: UnitOfWork, d: m.Delivery, now: datetime) -> None:
    """first_accepting: stop at an acceptance, else hand over to the next destination."""
    rest = list(uow.session.scalars(
        select(m.Delivery).where(m.Delivery.group_key == d.group_key,
                                 m.Delivery.status == "standby")
        .order_by(m.Delivery.position)))
    if not rest:
        return
    if d.status == "accepted":
        for r in rest:
            r.status, r.reason, r.updated_at = "skipped", f"{d.destination_key} accepted", now
        return
    nxt = rest[0]
    nxt.status, nxt.next_attempt_at, nxt.updated_at = "pending", now, now
    uow.session.execute(insert(JOBS), [job_row(nxt.idempotency_key, now)])


def _run_batch(uow: UnitOfWork, d: m.Delivery, dest: m.Destination, spec: Spec,
               now: datetime) -> str:
    """Batch kinds: collect ``waiting`` deliveries; send when enough wait or the
    oldest has waited ``every``."""
    s = uow.session
    cfg = spec.config
    if d.status in ("pending", "held"):
        d.status, d.updated_at = "waiting", now
        s.flush()
    stale = (m.Delivery.status == "sending") & (m.Delivery.sending_until < now)
    due = (m.Delivery.destination_key == dest.key) & ((m.Delivery.status == "waiting") | stale)
    n, oldest = s.execute(select(func.count(), func.min(m.Delivery.updated_at))
                          .where(due)).one()
    every = timedelta(seconds=cfg["batch_every"])
    if n < cfg["batch_size"] and oldest is not None and oldest + every > now:
        s.execute(insert(JOBS), [job_row(d.idempotency_key, oldest + every, now)])
        uow.commit()
        return d.status
    q = select(m.Delivery).where(due).order_by(m.Delivery.id).limit(cfg["batch_size"])
    if uow.dialect == "postgresql":
        q = q.with_for_update(skip_locked=True)
    members = list(s.scalars(q))
    if not members:
        uow.commit()
        return d.status
    batch_id = uuid.uuid4().hex[:12]
    views = []
    for x in members:
        x.status, x.attempts, x.updated_at = "sending", x.attempts + 1, now
        x.sending_until = now + timedelta(seconds=spec.common.timeout) + SENDING_GRACE
        lead = s.get(m.Lead, x.lead_id, options=LEAD_VIEW_LOAD)
        assert lead is not None
        views.append({**lead_view(lead, x), "batch_id": batch_id})
    keys = [(x.idempotency_key, x.attempts) for x in members]
    uow.commit()
    outcome, seen, started, ms = _send(spec, None, now, batch=views)
    status = d.status
    for k, number in keys:
        x = _load(uow, k)
        if x is None:
            continue
        _attempt(uow, x, number, outcome, seen, started, ms, spec)
        if x.status != "sending":
            continue
        if outcome.status == "error" and outcome.retryable and \
                x.attempts - x.attempts_offset < spec.common.max_attempts:
            x.status, x.reason, x.updated_at = "waiting", outcome.reason, now
            x.sending_until = None
            wait = retry_delay(x.attempts - x.attempts_offset, spec.common.schedule, rand())
            s.execute(insert(JOBS), [job_row(x.idempotency_key, now + wait, now)])
        else:
            _settle(uow, x, spec, outcome, now)
        if k == d.idempotency_key:
            status = x.status
    uow.commit()
    return status


# --- people: retry, discard, release --------------------------------------------------
def retry(uow: UnitOfWork, delivery_id: int, now: datetime, *, actor: str) -> m.Delivery:
    """Send a dead, rejected, duplicate or discarded delivery again, with a fresh budget."""
    d = uow.session.get(m.Delivery, delivery_id)
    if d is None:
        raise NotFound(f"no delivery {delivery_id}")
    if d.status not in RETRYABLE:
        raise Conflict(f"delivery {delivery_id} is {d.status}; only dead, rejected, duplicate, "
                       "discarded or held deliveries can be retried")
    d.status, d.attempts_offset, d.finished_at = "pending", d.attempts, None
    d.next_attempt_at, d.updated_at, d.reason = now, now, f"retried by {actor}"
    jobs.enqueue(uow, JOB, {"delivery": d.idempotency_key}, now)
    return d


def discard(uow: UnitOfWork, delivery_id: int, now: datetime, *, actor: str) -> m.Delivery:
    """Give up on a delivery that has not succeeded (a dead letter, a held one...)."""
    d = uow.session.get(m.Delivery, delivery_id)
    if d is None:
        raise NotFound(f"no delivery {delivery_id}")
    if d.status in NOT_DISCARDABLE:
        raise Conflict(f"delivery {delivery_id} is {d.status} and cannot be discarded")
    d.status, d.finished_at, d.updated_at = "discarded", now, now
    d.reason, d.next_attempt_at, d.sending_until = f"discarded by {actor}", None, None
    return d


def release_held(uow: UnitOfWork, lead_id: int, now: datetime) -> int:
    """Queue every held delivery of a lead for another look (its hold is re-checked
    by the worker). Called when the lead changes."""
    held = list(uow.session.scalars(select(m.Delivery).where(
        m.Delivery.lead_id == lead_id, m.Delivery.status == "held")))
    for d in held:
        d.status, d.next_attempt_at, d.updated_at = "pending", now, now
        jobs.enqueue(uow, JOB, {"delivery": d.idempotency_key}, now)
    return len(held)


# --- reads ----------------------------------------------------------------------------
def delivery_dict(d: m.Delivery, *, attempts: list[m.DeliveryAttempt] | None = None
                  ) -> dict[str, Any]:
    out = {"id": d.id, "lead_id": d.lead_id, "destination": d.destination_key,
           "idempotency_key": d.idempotency_key, "status": d.status, "attempts": d.attempts,
           "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
           "reason": d.reason, "external_id": d.external_id, "price": d.price,
           "flow": d.flow_key, "rule": d.rule, "hold": d.hold,
           "created_at": d.created_at.isoformat(),
           "finished_at": d.finished_at.isoformat() if d.finished_at else None}
    if d.notice is not None:  # a notification to a rep or team: event, agent, round
        out["notice"] = d.notice
    if attempts is not None:
        out["attempt_log"] = [{
            "number": a.number, "outcome": a.outcome, "reason": a.reason,
            "retryable": a.retryable, "request": a.request, "response": a.response,
            "started_at": a.started_at.isoformat(), "duration_ms": a.duration_ms,
            "worker": a.worker} for a in attempts]
    return out


def list_deliveries(uow: UnitOfWork, *, status: str | None = None, lead_id: int | None = None,
                    destination: str | None = None, limit: int = 100,
                    before: int | None = None) -> list[dict[str, Any]]:
    q = select(m.Delivery).order_by(m.Delivery.id.desc()).limit(min(max(limit, 1), 500))
    if status:
        q = q.where(m.Delivery.status == status)
    if lead_id is not None:
        q = q.where(m.Delivery.lead_id == lead_id)
    if destination:
        q = q.where(m.Delivery.destination_key == destination)
    if before is not None:
        q = q.where(m.Delivery.id < before)
    return [delivery_dict(d) for d in uow.session.scalars(q)]


def get_delivery(uow: UnitOfWork, delivery_id: int) -> dict[str, Any]:
    d = uow.session.get(m.Delivery, delivery_id)
    if d is None:
        raise NotFound(f"no delivery {delivery_id}")
    attempts = list(uow.session.scalars(select(m.DeliveryAttempt).where(
        m.DeliveryAttempt.delivery_id == d.id).order_by(m.DeliveryAttempt.number,
                                                        m.DeliveryAttempt.id)))
    return delivery_dict(d, attempts=attempts)


def counts(uow: UnitOfWork, *, destination: str | None = None) -> dict[str, int]:
    """Deliveries per status (of one destination when given)."""
    q = select(m.Delivery.status, func.count()).group_by(m.Delivery.status)
    if destination:
        q = q.where(m.Delivery.destination_key == destination)
    return {s: n for s, n in uow.session.execute(q)}


def preview(uow: UnitOfWork, key: str, lead_id: int) -> dict[str, Any]:
    """Dry run: what would be sent to destination ``key`` for lead ``lead_id`` (no I/O)."""
    dest = get_destination(uow, key)
    spec = spec_of(dest)
    lead = uow.session.get(m.Lead, lead_id)
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    view = lead_view(lead, None)
    view["idempotency_key"] = "preview"
    try:
        req = spec.impl.preview(spec.config, view)
    except DeliveryError as exc:
        raise InvalidConfig(f"destination {key} cannot build a request for lead {lead_id}: "
                            f"{exc}") from None
    return {"destination": key, "kind": spec.kind, "lead_id": lead_id,
            "request": redact(req, spec.impl.secrets(spec.config))}


# --- lead updates (PATCH /v1/leads/{id} by its source) -----------------------------------
def update_lead(uow: UnitOfWork, source_id: int, lead_id: int, changes: Mapping[str, Any],
                now: datetime) -> dict[str, Any]:
    """Merge ``changes`` into a lead sent by the same source, re-qualify it, and release
    its held deliveries (their hold is checked again by the worker)."""
    from leadgate.domain.errors import Forbidden, InvalidInput
    from leadgate.domain.qualify import qualify
    from leadgate.services import snapshot, timeline
    from leadgate.services.capture import check_payload

    check_payload(dict(changes))
    lead = uow.session.get(m.Lead, lead_id)
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    if lead.source_id != source_id:
        raise Forbidden("a lead can only be updated by the source that sent it")
    snap = snapshot.current(uow.session)
    campaign = snap.campaigns[lead.campaign_id]
    source = snap.sources.get(source_id)
    raw = {**(lead.raw or {}), **changes}
    q = qualify(raw, campaign.spec, now=lead.created_at,
                default_region=source.default_region if source else None, model=campaign.model)
    if q.verdict == "rejected":
        raise InvalidInput("; ".join(r.message for r in q.reasons) or "the update is refused",
                           code="lead_rejected")
    before = dict(lead.values or {})
    lead.raw, lead.values, lead.score, lead.grade = raw, q.values, q.score, q.grade
    changed = sorted(k for k in set(before) | set(q.values) if before.get(k) != q.values.get(k))
    timeline.record(uow, lead, "updated", now, actor=f"source:{source.key if source else '?'}",
                    fields=changed)
    released = release_held(uow, lead.id, now)
    return {"id": lead.id, "changed": changed, "released_deliveries": released,
            "values": lead.values}
