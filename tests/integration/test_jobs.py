"""The outbox worker: jobs run once, failures back off, then end dead."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from tests.conftest import FakeClock

from leadgate.bootstrap import App
from leadgate.services import jobs
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

CALLS: list[dict[str, Any]] = []


@jobs.handler("test.ok")
def _ok(uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
    CALLS.append(payload)
    uow.commit()


@jobs.handler("test.flaky")
def _flaky(uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
    CALLS.append(payload)
    raise RuntimeError("receiver down")


@jobs.handler("test.permanent")
def _permanent(uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
    raise jobs.PermanentJobError("receiver said 400")


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()


def enqueue(app: App, kind: str) -> int:
    with app.uow() as uow:
        job = jobs.enqueue(uow, kind, {"n": 1}, app.clock())
        uow.commit()
        return job.id


def status(app: App, job_id: int) -> m.Job:
    with app.reader() as uow:
        job = uow.session.get(m.Job, job_id)
        assert job is not None
        return job


def test_job_runs_once_and_is_done(app: App) -> None:
    job_id = enqueue(app, "test.ok")
    assert jobs.drain(app.uow, app.clock) == 1
    assert jobs.drain(app.uow, app.clock) == 0
    assert CALLS == [{"n": 1}]
    assert status(app, job_id).status == "done"


def test_failing_job_backs_off_exponentially_then_goes_dead(app: App,
                                                            clock: FakeClock) -> None:
    job_id = enqueue(app, "test.flaky")
    jobs.drain(app.uow, app.clock)
    job = status(app, job_id)
    assert (job.status, job.attempts) == ("pending", 1)
    assert (job.run_after - clock.now).total_seconds() == pytest.approx(2)
    assert jobs.drain(app.uow, app.clock) == 0  # not due yet
    for attempt in range(2, 9):
        clock.advance(hours=2)
        jobs.drain(app.uow, app.clock)
        assert status(app, job_id).attempts == attempt
    job = status(app, job_id)
    assert job.status == "dead"
    assert "receiver down" in (job.last_error or "")
    assert len(CALLS) == 8


def test_permanent_error_goes_dead_at_once(app: App) -> None:
    job_id = enqueue(app, "test.permanent")
    jobs.drain(app.uow, app.clock)
    job = status(app, job_id)
    assert (job.status, job.attempts) == ("dead", 1)


def test_unknown_job_kind_is_dead_not_a_crash(app: App) -> None:
    job_id = enqueue(app, "no.such.kind")
    jobs.drain(app.uow, app.clock)
    assert status(app, job_id).status == "dead"


def test_lease_expiry_lets_another_worker_take_a_stuck_job(app: App, clock: FakeClock) -> None:
    job_id = enqueue(app, "test.ok")
    with app.uow() as uow:
        assert jobs.claim(uow, clock.now) == [job_id]  # a worker that then dies
    assert jobs.drain(app.uow, app.clock) == 0  # leased
    clock.advance(minutes=6)
    assert jobs.drain(app.uow, app.clock) == 1
    assert status(app, job_id).status == "done"


def test_a_job_run_within_its_claim_lease_is_not_read_again(app: App) -> None:
    from sqlalchemy import event

    job_id = enqueue(app, "test.ok")
    with app.uow() as uow:
        assert jobs.claim(uow, app.clock()) == [job_id]
    seen: list[str] = []

    def count(conn: Any, cursor: Any, stmt: str, *rest: Any) -> None:
        seen.append(stmt)

    event.listen(app.engine, "before_cursor_execute", count)
    try:
        assert jobs.run_one(app.uow, job_id, app.clock) == "done"
    finally:
        event.remove(app.engine, "before_cursor_execute", count)
    assert CALLS == [{"n": 1}]  # the payload the claim returned
    assert not [s for s in seen if s.lstrip().upper().startswith("SELECT")], seen


def test_a_job_run_after_its_lease_expired_is_read_again_and_skipped_if_done(
        app: App, clock: FakeClock) -> None:
    import threading

    job_id = enqueue(app, "test.ok")
    with app.uow() as uow:
        assert jobs.claim(uow, clock.now) == [job_id]  # then this worker stalls
    clock.advance(minutes=6)
    # another worker (another thread: its claims are its own) takes the expired lease
    other = threading.Thread(target=lambda: jobs.drain(app.uow, app.clock))
    other.start()
    other.join()
    assert status(app, job_id).status == "done" and CALLS == [{"n": 1}]
    # the stalled worker comes back: its claim is stale, so it reads the row, and skips
    assert jobs.run_one(app.uow, job_id, app.clock) == "skipped"
    assert CALLS == [{"n": 1}]


def test_worker_runs_periodic_tasks_and_drains_jobs(app: App) -> None:
    import threading
    import time

    ticks: list[datetime] = []
    job_id = enqueue(app, "test.ok")
    wake = threading.Event()
    w = jobs.Worker(app.uow, app.clock, wake, poll_seconds=0.05,
                    periodic=[(0.05, lambda uow, now: ticks.append(now))])
    w.start()
    deadline = time.monotonic() + 10
    while (len(ticks) < 3 or status(app, job_id).status != "done") \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    w.stop()
    assert len(ticks) >= 3
    assert status(app, job_id).status == "done"


BARRIER: list[Any] = []


@jobs.handler("test.together")
def _together(uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
    # on PostgreSQL, returns only once 3 jobs are running at the same moment (else
    # BrokenBarrierError); SQLite has one writer, so there jobs run one after another
    if BARRIER:
        BARRIER[0].wait(timeout=20)
    CALLS.append(payload)
    uow.commit()


def test_a_worker_with_threads_runs_jobs_side_by_side_each_once(app: App) -> None:
    import threading

    BARRIER[:] = [threading.Barrier(3)] if app.engine.dialect.name == "postgresql" else []
    ids = [enqueue(app, "test.together") for _ in range(6)]
    w = jobs.Worker(app.uow, app.clock, threading.Event(), poll_seconds=0.05, threads=3)
    w.start()
    try:
        for _ in range(400):
            if all(status(app, i).status in ("done", "dead") for i in ids):
                break
            threading.Event().wait(0.05)
    finally:
        w.stop()
    assert [status(app, i).status for i in ids] == ["done"] * 6
    assert [status(app, i).attempts for i in ids] == [1] * 6  # none ran twice
    assert len(CALLS) == 6


def test_default_threads_per_database() -> None:
    assert jobs.default_threads("postgresql") == 4
    assert jobs.default_threads("sqlite") == 1


def test_queued_jobs_wake_workers_of_other_processes_on_postgresql(app: App) -> None:
    import threading

    from leadgate.services.wake import Listener, Signal, pg_dsn

    dsn = pg_dsn(app.engine)
    if app.engine.dialect.name != "postgresql":
        assert dsn is None and app.wakeup.remote is None  # one process: in-process event
        return
    assert dsn is not None and isinstance(app.wakeup.remote, Signal)
    woken = threading.Event()
    listener = Listener(dsn, woken).start()
    try:
        assert listener.listening.wait(10)
        woken.wait(2)  # the listener looks once when it connects
        woken.clear()
        assert not woken.wait(0.3)  # nothing queued: nobody is woken
        app.wakeup.notify()  # what a commit that queued jobs does
        assert woken.wait(10)
    finally:
        listener.stop()


def test_an_idle_worker_polls_with_one_thread_and_rests_the_others(app: App) -> None:
    import threading

    class Recording(threading.Event):
        """The wake-up event, noting which thread waited how long."""

        def __init__(self) -> None:
            super().__init__()
            self.waits: dict[str, set[float | None]] = {}
            self.lock = threading.Lock()

        def wait(self, timeout: float | None = None) -> bool:
            with self.lock:
                self.waits.setdefault(threading.current_thread().name, set()).add(timeout)
            return super().wait(timeout)

    wake = Recording()
    w = jobs.Worker(app.uow, app.clock, wake, poll_seconds=0.05, threads=3)
    w.start()
    try:
        for _ in range(200):
            with wake.lock:
                if len(wake.waits) == 3:
                    break
            threading.Event().wait(0.02)
    finally:
        w.stop()
    # nothing to do: the first thread polls every interval, the others rest 10 times
    # longer (woken early by commits that queue jobs, or when the first finds work)
    assert wake.waits == {"leadgate-worker-0": {0.05},
                          "leadgate-worker-1": {0.05 * jobs.REST_POLLS},
                          "leadgate-worker-2": {0.05 * jobs.REST_POLLS}}


def test_a_worker_thread_that_finds_work_wakes_the_resting_ones(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    monkeypatch.setattr(jobs, "REST_POLLS", 2000)  # resting threads would sleep 100 s
    BARRIER[:] = [threading.Barrier(3)] if app.engine.dialect.name == "postgresql" else []
    w = jobs.Worker(app.uow, app.clock, threading.Event(), poll_seconds=0.05, threads=3)
    w.start()
    try:
        threading.Event().wait(0.3)  # every thread idle, the helpers resting
        # queued without a wake-up (as by another process whose signal was lost):
        # only the first thread polls, finds one, and wakes the others for the rest (on
        # PostgreSQL the three must run at the same moment, see _together)
        ids = [enqueue(app, "test.together") for _ in range(3)]
        for _ in range(200):
            if all(status(app, i).status in ("done", "dead") for i in ids):
                break
            threading.Event().wait(0.02)
    finally:
        w.stop()
    assert [status(app, i).status for i in ids] == ["done"] * 3
