"""Waking workers in other processes when jobs are queued (PostgreSQL).

A ``leadgate worker`` process otherwise finds new jobs by polling
(``LEADGATE_WORKER_POLL_SECONDS``). On PostgreSQL, whoever commits jobs sends
``NOTIFY leadgate_jobs`` after the commit (:func:`signal`) and every worker
process ``LISTEN``s (:class:`Listener`) and wakes at once. A lost signal costs
one poll interval, never a job: the jobs are in the table.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

__all__ = ["CHANNEL", "Listener", "Signal"]

from leadgate.services.notify import pg_notify

log = logging.getLogger(__name__)

CHANNEL = "leadgate_jobs"


class Signal:
    """Sends the wake-up on a pooled connection; at most one per ``min_gap`` seconds
    (a burst of commits needs one wake-up: the woken workers drain everything due)."""

    def __init__(self, engine: Any, min_gap: float = 0.002) -> None:
        self._engine = engine
        self._gap = min_gap
        self._last = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._last < self._gap:
            return
        self._last = now
        try:
            pg_notify(self._engine, CHANNEL, [""])
        except Exception:  # a hint only: the worker still polls
            log.warning("could not signal workers", exc_info=True)


class Listener:
    """A daemon thread that sets ``event`` whenever another process queued jobs."""

    def __init__(self, dsn: str, event: threading.Event) -> None:
        self._dsn = dsn
        self._event = event
        self._stop = threading.Event()
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leadgate-jobs-listen",
                                        daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._event.set()  # look once now: jobs may have come meanwhile
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self._event.set()
            except Exception:
                log.warning("job listener lost its connection; reconnecting", exc_info=True)
                self._stop.wait(1.0)


def pg_dsn(engine: Any) -> str | None:
    """The libpq connection string of a PostgreSQL engine, else None."""
    if engine.dialect.name != "postgresql":
        return None
    url = engine.url.render_as_string(hide_password=False)
    return str(url).replace("postgresql+psycopg://", "postgresql://", 1)
