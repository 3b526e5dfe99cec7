"""The transactional outbox and the worker that drains it.

Jobs are inserted in the same transaction as the change that caused them, so a
crash between "lead stored" and "lead delivered" loses nothing. Workers claim
due jobs with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises
writers), run the handler in its own unit of work, and retry with exponential
back-off; a job that keeps failing ends as ``dead`` for a person to retry.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update

from leadgate.store.models import Job
from leadgate.store.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, dict[str, Any], datetime], None]
HANDLERS: dict[str, Handler] = {}

LEASE = timedelta(minutes=5)
_JOBS = cast(Table, Job.__table__)


class PermanentJobError(Exception):
    """A job failure that retrying cannot fix."""


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def enqueue(uow: UnitOfWork, kind: str, payload: dict[str, Any], now: datetime,
            *, delay: timedelta = timedelta(0)) -> Job:
    job = Job(kind=kind, payload=payload, status="pending", attempts=0, max_attempts=8,
              run_after=now + delay, created_at=now)
    uow.session.add(job)
    return job


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 ... seconds, capped at one hour."""
    return timedelta(seconds=min(2 ** attempts, 3600))


_worker_ids: dict[tuple[int, int], str] = {}


def worker_id() -> str:
    """``host:pid:thread`` (made once per process and thread: no system call per job)."""
    key = (os.getpid(), threading.get_ident())
    got = _worker_ids.get(key)
    if got is None:
        got = _worker_ids[key] = f"{socket.gethostname()}:{key[0]}:{key[1]}"
    return got


def claim(uow: UnitOfWork, now: datetime, limit: int = 10) -> list[int]:
    """Lease up to ``limit`` due jobs to this worker; returns their ids (due first).

    One Core ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``: the due jobs
    are picked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises
    writers), and leased in the same statement, with no ORM object loaded. What
    running them needs (kind, payload) comes back with them and is kept for this
    thread's :func:`run_one` (see :func:`_claimed`)."""
    stmt = _CLAIM[uow.dialect == "postgresql"]
    rows = uow.session.connection().execute(stmt, {
        "b_now": now, "b_limit": limit, "b_me": worker_id(),
        "b_until": now + LEASE}).all()
    uow.commit()
    _held.jobs = {r.id: (r.kind, r.payload, now + LEASE * FRESH) for r in rows}
    return [r.id for r in sorted(rows, key=lambda r: (r.run_after, r.id))]


#: the jobs this thread's last claim leased: id -> (kind, payload, fresh until)
_held = threading.local()
#: part of the lease within which a job this thread claimed is run without reading its
#: row again: no other worker can claim it before the lease ends (``claim`` takes only
#: expired leases), and the margin left covers clocks of other hosts running ahead
FRESH = 0.5


def _claimed(job_id: int, now: datetime) -> tuple[str, Any] | None:
    """The kind and payload of a job this thread claimed, if its lease is still young:
    then no other worker has claimed it (let alone finished it), so ``run_one`` needs
    no SELECT of its row. None otherwise (read the row: a job run late, after its lease
    expired, may have been finished by another worker meanwhile)."""
    held: dict[int, tuple[str, Any, datetime]] | None = getattr(_held, "jobs", None)
    got = held.pop(job_id, None) if held else None
    if got is None or now >= got[2]:
        return None
    return got[0], got[1]


def _claim_statement(skip_locked: bool) -> Any:
    now = bindparam("b_now", type_=_JOBS.c.run_after.type)
    due = (select(_JOBS.c.id)
           .where(_JOBS.c.status.in_(("pending", "running")), _JOBS.c.run_after <= now)
           .where(_JOBS.c.locked_until.is_(None) | (_JOBS.c.locked_until < now))
           .order_by(_JOBS.c.run_after, _JOBS.c.id).limit(bindparam("b_limit")))
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    return (update(_JOBS).where(_JOBS.c.id.in_(due.scalar_subquery()))
            .values(status="running", locked_by=bindparam("b_me"),
                    locked_until=bindparam("b_until", type_=_JOBS.c.locked_until.type))
            .returning(_JOBS.c.id, _JOBS.c.run_after, _JOBS.c.kind, _JOBS.c.payload))


def run_one(uow_factory: Callable[[], UnitOfWork], job_id: int,
            clock: Callable[[], datetime]) -> str:
    """Run one leased job; returns its new status."""
    with uow_factory() as uow:
        now = clock()
        got = _claimed(job_id, now)
        if got is None:
            # one Core SELECT of what running the job needs (no ORM object)
            job = uow.session.connection().execute(_TO_RUN, {"b_id": job_id}).one_or_none()
            if job is None or job.status in ("done", "dead"):
                return "skipped"
            got = job.kind, job.payload
        kind, payload = got
        fn = HANDLERS.get(kind)
        error: str | None = None
        permanent = False
        try:
            if fn is None:
                raise PermanentJobError(f"no handler for job kind {kind!r}")
            fn(uow, dict(payload), now)
        except PermanentJobError as exc:
            error, permanent = str(exc), True
        except Exception as exc:  # a failing job must never kill the worker
            log.exception("job %s (%s) failed", job_id, kind)
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            # one Core UPDATE, not an ORM flush of the job at the commit
            uow.session.connection().execute(_DONE, {"b_id": job_id, "b_now": now})
            uow.commit()
            return "done"
    # the handler's writes are discarded; record the failure in a fresh transaction
    with uow_factory() as uow:
        job = uow.session.get(Job, job_id)
        assert job is not None
        job.attempts += 1
        job.last_error = error
        job.locked_until = None
        if permanent or job.attempts >= job.max_attempts:
            job.status = "dead"
            job.finished_at = clock()
        else:
            job.status = "pending"
            job.run_after = clock() + backoff(job.attempts)
        uow.commit()
        return job.status


_DONE = update(_JOBS).where(_JOBS.c.id == bindparam("b_id")).values(
    status="done", attempts=_JOBS.c.attempts + 1, locked_until=None,
    finished_at=bindparam("b_now", type_=_JOBS.c.finished_at.type))
_TO_RUN = select(_JOBS.c.kind, _JOBS.c.payload, _JOBS.c.status).where(
    _JOBS.c.id == bindparam("b_id"))
#: claim statements: [SQLite, PostgreSQL (FOR UPDATE SKIP LOCKED)]
_CLAIM = (_claim_statement(False), _claim_statement(True))


def drain(uow_factory: Callable[[], UnitOfWork], clock: Callable[[], datetime],
          *, max_jobs: int = 1000, claim_limit: int = 10,
          found: Callable[[], None] | None = None) -> int:
    """Run due jobs until none is left (or ``max_jobs``); returns how many ran.
    ``found`` is called whenever a claim got jobs, before they run."""
    ran = 0
    while ran < max_jobs:
        with uow_factory() as uow:
            ids = claim(uow, clock(), claim_limit)
        if not ids:
            return ran
        if found is not None:
            found()
        for job_id in ids:
            run_one(uow_factory, job_id, clock)
            ran += 1
    return ran


#: an idle worker's threads after the first look for due jobs this many poll intervals
#: apart (the first thread polls every interval and wakes them when it finds work)
REST_POLLS = 10


def default_threads(dialect: str) -> int:
    """Jobs run at once by one worker when not configured: several on PostgreSQL (jobs
    are claimed with SKIP LOCKED and mostly wait on I/O), one on SQLite (one writer)."""
    return 4 if dialect == "postgresql" else 1


class Worker:
    """Background threads that drain the outbox; woken early by commits.

    With ``threads`` > 1 each thread claims one job at a time, so a slow delivery
    does not hold up the jobs behind it; the first thread also runs the periodic
    tasks. A thread that found work looks again at once and wakes the others; when
    idle, the first thread waits for a wake-up or ``poll_seconds`` and the others for
    a wake-up or ``REST_POLLS`` times that."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], clock: Callable[[], datetime],
                 wake: threading.Event, poll_seconds: float = 0.5,
                 periodic: list[tuple[float, Callable[[UnitOfWork, datetime], None]]]
                 | None = None, threads: int = 1) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._wake = wake
        self._poll = poll_seconds
        # (every N seconds, task): e.g. giving held leads a chance after cap resets
        self._periodic = [(every, task, 0.0) for every, task in (periodic or [])]
        self._stop = threading.Event()
        self._threads_n = max(1, threads)
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._spawn(range(self._threads_n))

    def _spawn(self, indexes: range) -> None:
        for i in indexes:
            t = threading.Thread(target=self._run, args=(i,), name=f"leadgate-worker-{i}",
                                 daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)

    def run_forever(self) -> None:
        """Run in the calling thread (plus ``threads - 1`` helpers) until stopped."""
        self._spawn(range(1, self._threads_n))
        try:
            self._run(0)
        finally:
            self._stop.set()
            self._wake.set()

    def _run(self, index: int = 0) -> None:
        import time

        limit = 10 if self._threads_n == 1 else 1
        while not self._stop.is_set():
            ran = 0
            try:
                now_mono = time.monotonic()
                if index == 0:
                    for i, (every, task, last) in enumerate(self._periodic):
                        if now_mono - last >= every:
                            with self._uow_factory() as uow:
                                task(uow, self._clock())
                            self._periodic[i] = (every, task, now_mono)
                # more may be due: a thread that finds work wakes the resting ones
                ran = drain(self._uow_factory, self._clock, max_jobs=100, claim_limit=limit,
                            found=self._wake.set if self._threads_n > 1 else None)
            except Exception:  # database away for a moment: log and keep polling
                log.exception("worker loop error")
            if ran and not self._stop.is_set():
                continue  # more may be due already
            # idle: the first thread polls (and runs the periodic tasks); the others
            # rest until woken (jobs committed, or the first thread found work), and
            # look by themselves only now and then: an idle server polls the table
            # about 2.6 times a second instead of 2 times per thread
            self._wake.wait(self._poll if index == 0 else self._poll * REST_POLLS)
            self._wake.clear()
