"""Group commit: one thread per process turns waiting leads into batches.

Requests hand their prepared :class:`Submission` to :meth:`CaptureRouter.submit`
and wait. The router thread takes whatever has queued up (at most
``max_batch``), runs :func:`capture.process` on all of it in one transaction
(one routing lock, one commit), then answers every request. While it waits on
the database, new requests queue up and form the next batch: under load many
leads share a commit, and when idle a batch is one lead, so latency does not
suffer. A 2xx is still only sent after the commit that stored the lead.

If a batch fails as a whole (a lost race on an idempotency key with another
process, say), its leads are retried one by one, so one bad lead only fails
its own request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from leadgate.services.capture import DEFER, AfterCommit, IngestResult, Submission, process
from leadgate.services.notify import Notice
from leadgate.store import pipeline
from leadgate.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: (submission, its future, the event loop awaiting it); also accepted: (submission, a
#: concurrent.futures.Future), for callers outside an event loop
_Item = tuple[Any, ...]


def _settle_now(fut: Future[Any], outcome: Any) -> None:
    with contextlib.suppress(InvalidStateError):  # cancelled: nobody waits
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)


def _settle(settle: list[tuple[asyncio.Future[Any], Any]]) -> None:
    """In the requests' event loop: each future gets its result or exception."""
    for fut, outcome in settle:
        if fut.done():
            continue
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)


class CaptureRouter:
    """The per-process batcher of the capture path."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], clock: Callable[[], datetime],
                 *, ttl: timedelta, max_batch: int = 64,
                 after_commit: Callable[[], None] | None = None,
                 publish: Callable[..., None] | None = None,
                 payloads: Callable[[list[Notice]], list[str]] | None = None) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._ttl = ttl
        self._max = max_batch
        self._after_commit = after_commit
        self._publish = publish
        self._payloads = payloads
        self._jobs_queued = False
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        #: batches run and leads in them, for the mean batch size (``/healthz``)
        self.batches = 0
        self.leads = 0
        self.largest = 0

    async def submit(self, sub: Submission) -> IngestResult:
        """Queue ``sub`` and wait for its committed answer."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[IngestResult] = loop.create_future()
        self._ensure_started()
        self._queue.put((sub, fut, loop))
        return await fut

    @staticmethod
    def _answer(answers: list[tuple[_Item, Any]]) -> None:
        """Settle the requests' futures: one hop per event loop for the whole batch
        (a request whose client went away has a cancelled future, left alone)."""
        per_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        for item, outcome in answers:
            if len(item) == 2:  # queued with a concurrent.futures.Future (set from any thread)
                _settle_now(item[1], outcome)
                continue
            _sub, fut, loop = item
            per_loop.setdefault(loop, []).append((fut, outcome))
        for loop, settle in per_loop.items():
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, settle)

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    t = threading.Thread(target=self._run, name="leadgate-capture",
                                         daemon=True)
                    t.start()
                    self._thread = t

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def stats(self) -> dict[str, int]:
        """Batches run so far, the leads in them and the largest batch."""
        return {"batches": self.batches, "leads": self.leads, "largest_batch": self.largest}

    def _run(self) -> None:
        waiting: list[_Item] = []
        while True:
            if not waiting:
                item = self._queue.get()
                if item is None:
                    return
                waiting.append(item)
            stop = False
            while len(waiting) < self._max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                waiting.append(item)
            batch, waiting = waiting[: self._max], waiting[self._max:]
            try:
                waiting = self._run_batch(batch) + waiting
            except BaseException as exc:  # never leave a request hanging
                log.exception("capture batch failed")
                self._answer([(item, exc) for item in batch])
            if stop:
                self._answer([(item, RuntimeError("leadgate is shutting down"))
                              for item in waiting])
                return

    def _run_batch(self, batch: list[_Item]) -> list[_Item]:
        """Run one batch; returns the items deferred to the next one."""
        subs = [item[0] for item in batch]
        try:
            results = self._once(subs)
        except Exception:
            if len(subs) == 1:
                results = [self._single(subs[0])]
            else:
                log.info("batch of %d failed as a whole; retrying its leads one by one",
                         len(subs))
                results = [self._single(s) for s in subs]
        self.batches += 1
        self.leads += len(subs)
        self.largest = max(self.largest, len(subs))
        deferred = []
        answers = []
        for item, result in zip(batch, results, strict=True):
            if result is DEFER:
                deferred.append(item)
            else:
                answers.append((item, result))
        self._answer(answers)
        if self._after_commit is not None and self._jobs_queued:
            # only when the batch queued jobs (held leads, offers, deliveries): waking
            # the worker for nothing costs a write transaction per batch on SQLite
            self._after_commit()
        self._jobs_queued = False
        return deferred

    def _once(self, subs: list[Submission]) -> list[Any]:
        # on PostgreSQL the batch's write statement itself NOTIFYs the other processes
        # (delivered at commit): no transaction of its own after the batch's
        # PostgreSQL: the batch's write statement goes with the COMMIT, one round trip
        # fewer made holding the flow's lock
        after = AfterCommit(payloads=self._payloads, last=[])
        with self._uow() as uow:
            results = process(uow.session, subs, self._clock(), ttl=self._ttl, after=after)
            if after.last:
                pipeline.commit_with(uow.session, after.last)
            uow.commit()
        if after.jobs:
            self._jobs_queued = True  # wake the worker once the batch is answered
        if self._publish is not None and after.notices:
            # committed: tell the people watching
            self._publish(after.notices, others=not after.told)
        return results

    def _single(self, sub: Submission) -> Any:
        for attempt in range(3):
            try:
                return self._once([sub])[0]
            except IntegrityError as exc:  # lost a race with another process: look again
                if attempt == 2:
                    return exc
            except Exception as exc:
                log.exception("capture of one lead failed")
                return exc
        raise AssertionError("unreachable")
