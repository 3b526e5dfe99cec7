"""Composition root: builds the engine, unit-of-work factory, clock and notifier."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from leadgate.config import Settings
from leadgate.services.group_commit import CaptureRouter
from leadgate.services.login import LoginGuard
from leadgate.services.notify import Hub, hub_for
from leadgate.store.db import make_engine, make_session_factory
from leadgate.store.uow import UnitOfWork

Clock = Callable[[], datetime]


def freeze_heap() -> None:
    """After start-up: collect once, then freeze everything made so far (modules, the
    app, cached configuration) out of the cyclic garbage collector, so a full
    collection no longer walks it (``serve`` and ``worker`` call this)."""
    import gc

    gc.collect()
    gc.freeze()


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Wakeup:
    """Signal that new jobs are waiting: this process's worker at once, and (on
    PostgreSQL, ``remote``) the workers of other processes (services/wake.py). Workers
    also poll."""

    event: threading.Event = field(default_factory=threading.Event)
    remote: Callable[[], None] | None = None

    def notify(self) -> None:
        self.event.set()
        if self.remote is not None:
            self.remote()


@dataclass
class App:
    """Everything a surface (API, console, CLI, worker) needs, built once."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    read_session_factory: sessionmaker[Session]
    clock: Clock = utcnow
    wakeup: Wakeup = field(default_factory=Wakeup)
    #: Group commit of the capture path (services/group_commit.py).
    capture: CaptureRouter = field(init=False)
    #: Live notices of this process (services/notify.py).
    notices: Hub = field(init=False)

    #: Console password logins: throttling and the bounded hashing executor.
    login_guard: LoginGuard = field(init=False)

    def __post_init__(self) -> None:
        self.notices = hub_for(self.engine.url.render_as_string(hide_password=False))
        self.notices.attach(self.engine)
        if self.engine.dialect.name == "postgresql":
            from leadgate.services.wake import Signal

            self.wakeup.remote = Signal(self.engine)
        from leadgate.services import notifications

        notifications.configure(self.engine.url.render_as_string(hide_password=False),
                                self.settings)
        capture_uow: Callable[[], UnitOfWork] = self.uow
        if self.engine.dialect.name == "postgresql":
            # the capture batch sends its own BEGIN, in its first round trip
            from leadgate.store.pipeline import autocommit_sessions

            capture_uow = functools.partial(UnitOfWork, autocommit_sessions(self.engine))
        self.capture = CaptureRouter(
            capture_uow, lambda: self.clock(),
            ttl=timedelta(hours=self.settings.idempotency_ttl_hours),
            max_batch=self.settings.capture_batch_max, after_commit=self.wakeup.notify,
            publish=self.notices.publish, payloads=self.notices.payloads)
        s = self.settings
        self.login_guard = LoginGuard(
            per_account=s.login_attempts_per_account, per_address=s.login_attempts_per_address,
            window_seconds=s.login_window_seconds, hash_concurrency=s.password_hash_concurrency,
            now=lambda: self.clock().timestamp())

    def uow(self) -> UnitOfWork:
        """A unit of work that may write (takes SQLite's write lock at BEGIN)."""
        return UnitOfWork(self.session_factory)

    def reader(self) -> UnitOfWork:
        """A unit of work for reads only; never blocks or is blocked by writers."""
        return UnitOfWork(self.read_session_factory)

    def close(self) -> None:
        from leadgate.services.deliveries import close_connections

        self.capture.stop()
        self.login_guard.close()
        close_connections()  # kept-alive connections to destinations
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, clock: Clock = utcnow,
              migrate: bool = False) -> App:
    settings = settings or Settings()
    from leadgate.services import jobs
    from leadgate.services.market import sell  # noqa: F401  (registers lead.sell)

    jobs.LEASE = timedelta(seconds=settings.job_lease_seconds)
    engine = make_engine(settings)
    if migrate:
        from leadgate.store.migrate import upgrade

        upgrade(engine)
    return App(settings=settings, engine=engine,
               session_factory=make_session_factory(engine),
               read_session_factory=make_session_factory(engine, readonly=True), clock=clock)
