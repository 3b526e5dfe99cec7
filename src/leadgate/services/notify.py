"""Live notices: what just happened, pushed at once to the people watching.

A :class:`Hub` per process and database fans notices out to its subscribers
(server-sent event streams, ``GET /v1/events``). Notices are published only
after the transaction that caused them has committed, so nobody hears of a
lead that was rolled back.

Across processes, on PostgreSQL, a hub also sends each committed batch of
notices with ``NOTIFY`` on its own connection and ``LISTEN``s for the other
processes' batches (one listener thread per process). On SQLite, notices reach
the subscribers of the process that made the change (``serve`` runs one).

A notice is a hint that something changed, not the record: a client that was
disconnected reads the current state through the API when it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from leadgate.store.db import dumps

log = logging.getLogger(__name__)

CHANNEL = "leadgate_events"
#: PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more.
MAX_PAYLOAD = 7_000


@dataclass(frozen=True)
class Notice:
    """Something a person may want to know at once (``kind`` as in ``lead.assigned``)."""

    kind: str
    #: the agent it concerns; managers see every notice
    agent_id: int | None
    data: dict[str, Any] = field(default_factory=dict)
    #: more agents it concerns (e.g. who may pull from the queue a lead joined)
    agents: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = {"kind": self.kind, "agent_id": self.agent_id, "data": self.data}
        if self.agents:
            out["agents"] = list(self.agents)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Notice:
        return cls(str(d["kind"]), d.get("agent_id"), dict(d.get("data") or {}),
                   tuple(d.get("agents") or ()))


class Subscription:
    """One stream's queue, filled from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, agent_id: int | None,
                 everything: bool, limit: int = 1000) -> None:
        self.loop = loop
        self.agent_id = agent_id
        self.everything = everything
        self.queue: asyncio.Queue[Notice] = asyncio.Queue(maxsize=limit)

    def wants(self, notice: Notice) -> bool:
        return self.everything or (self.agent_id is not None and (
            notice.agent_id == self.agent_id or self.agent_id in notice.agents))

    def offer(self, notice: Notice) -> None:
        def put() -> None:
            if not self.queue.full():  # a stalled client misses notices, never blocks us
                self.queue.put_nowait(notice)

        with contextlib.suppress(RuntimeError):  # its loop is closed: the stream is gone
            self.loop.call_soon_threadsafe(put)


class Hub:
    """Subscribers of this process, and (PostgreSQL) the bridge to the others."""

    def __init__(self, pg_dsn: str | None = None) -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._origin = uuid.uuid4().hex
        self._dsn = pg_dsn
        self._engine: Any = None
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._listening = threading.Event()

    def attach(self, engine: Any) -> None:
        """The engine whose pooled connections send this process's NOTIFYs."""
        self._engine = engine

    # -- subscribers ---------------------------------------------------------------------

    def subscribe(self, agent_id: int | None, *, everything: bool) -> Subscription:
        sub = Subscription(asyncio.get_running_loop(), agent_id, everything)
        with self._lock:
            self._subs.add(sub)
        self._ensure_listener()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def _deliver(self, notices: Iterable[Notice]) -> None:
        with self._lock:
            subs = list(self._subs)
        for notice in notices:
            for sub in subs:
                if sub.wants(notice):
                    sub.offer(notice)

    # -- publishing ------------------------------------------------------------------------

    def publish(self, notices: list[Notice], *, others: bool = True) -> None:
        """Tell everyone (call after commit). Never raises: a notice is a hint.

        ``others=False``: the other processes were told by the transaction itself
        (its ``NOTIFY``, from :meth:`payloads`, which PostgreSQL delivers at commit)."""
        if not notices:
            return
        self._deliver(notices)
        if not others or self._dsn is None or self._engine is None:
            return
        try:
            self._notify_others(notices)
        except Exception:  # the database is away for a moment: the notice is lost, not the lead
            log.warning("could not send %d notices to other processes", len(notices),
                        exc_info=True)

    def payloads(self, notices: list[Notice]) -> list[str]:
        """PostgreSQL: the ``NOTIFY`` payloads telling the other processes about
        ``notices``, for a transaction to send (delivered only if it commits); ``[]``
        when there are no other processes to tell (SQLite)."""
        if self._dsn is None or self._engine is None or not notices:
            return []
        return self._payloads(notices)

    def _notify_others(self, notices: list[Notice]) -> None:
        payloads = self._payloads(notices)
        pg_notify(self._engine, CHANNEL, payloads)

    def _payloads(self, notices: list[Notice]) -> list[str]:
        """``{"origin": ..., "notices": [...]}`` texts of at most ``MAX_PAYLOAD`` bytes
        (a notice bigger than that goes alone). Each notice is encoded once."""
        head = b'{"origin":' + dumps(self._origin).encode() + b',"notices":['
        payloads: list[str] = []
        parts: list[bytes] = []
        size = len(head) + 2
        for n in notices:
            part = dumps(n.to_json()).encode()
            if parts and size + 1 + len(part) > MAX_PAYLOAD:
                payloads.append((head + b",".join(parts) + b"]}").decode())
                parts, size = [], len(head) + 2
            size += len(part) + (1 if parts else 0)
            parts.append(part)
        if parts:
            payloads.append((head + b",".join(parts) + b"]}").decode())
        return payloads

    # -- listening (PostgreSQL) -------------------------------------------------------------

    def _ensure_listener(self) -> None:
        if self._dsn is None or self._listener is not None:
            return
        with self._lock:
            if self._listener is not None:
                return
            self._listener = threading.Thread(target=self._listen, name="leadgate-listen",
                                              daemon=True)
            self._listener.start()
        self._listening.wait(5)

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        for n in conn.notifies(timeout=1.0):
                            self._received(n.payload)
            except Exception:
                log.warning("notice listener lost its connection; reconnecting",
                            exc_info=True)
                self._stop.wait(1.0)

    def _received(self, payload: str) -> None:
        if not self._subs:
            return  # nobody here to tell: not even worth parsing
        try:
            msg = json.loads(payload)
        except ValueError:
            return
        if msg.get("origin") == self._origin:
            return  # ours, already delivered here
        self._deliver(Notice.from_json(n) for n in msg.get("notices", ()))

    def close(self) -> None:
        """Stop listening (the hub keeps delivering to this process's subscribers)."""
        self._stop.set()


def pg_notify(engine: Any, channel: str, payloads: Iterable[str]) -> None:
    """``NOTIFY channel`` once per payload, on a pooled connection in its own
    transaction (PostgreSQL delivers them at its commit)."""
    with engine.connect() as conn:
        for p in payloads:
            conn.exec_driver_sql("SELECT pg_notify(%s, %s)", (channel, p))
        conn.commit()


_hubs: dict[str, Hub] = {}
_hubs_lock = threading.Lock()


def hub_for(database_url: str) -> Hub:
    """This process's hub for a database (one per URL)."""
    hub = _hubs.get(database_url)
    if hub is None:
        with _hubs_lock:
            hub = _hubs.get(database_url)
            if hub is None:
                dsn = None
                if database_url.startswith("postgresql"):
                    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
                hub = _hubs[database_url] = Hub(dsn)
    return hub


def publish_after_commit(uow: Any, notices: list[Notice]) -> None:
    """Publish ``notices`` through this process's hub once ``uow`` has committed."""
    if notices:
        url = uow.session.get_bind().engine.url.render_as_string(hide_password=False)
        hub = hub_for(url)
        uow.after_commit(lambda: hub.publish(notices))
