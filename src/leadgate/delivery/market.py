"""Pinging buyers in parallel for a ping post auction, and posting the sold lead.

One event loop thread per process holds one ``aiohttp`` client session (kept-alive
connections per buyer host, one TLS context); :meth:`Pinger.ping_all` sends every
ping at once and returns the answers that came back within the timeout. Pings still
running when the timeout strikes are cancelled: a late answer is never waited for.
A buyer's ping destination is an ``http`` destination (docs/delivery.md): its
``response`` rules read the bid (``price``) and the bid id (``external_id``) from the
answer; a ``rejected`` answer, or one without a price, is no bid.

:meth:`Pinger.post` sends an auction's or a ping tree's post of the full lead to an
``http`` buyer destination over the same session: the worker thread builds and signs
the request exactly as the delivery engine does (``delivery.http``), the loop does
the I/O, and the answer is classified by the destination's ``response`` rules;
:meth:`Pinger.post_all` sends several such posts at once (a shared lead posted to its
next bidders together). The delivery engine's own sends (queued deliveries, with
retries) stay on httpx.

aiohttp rather than httpx because pings are many, small and cancelled at the
timeout: measured on this machine, 20 parallel pings to a local buyer cost the event
loop 4.7 ms of CPU with aiohttp and 77 ms with httpx's async client, and that loop's
CPU is what makes an auction overrun its timeout when several run at once. Handing the two posts
of a shared sale to the loop took 4-5 ms of CPU per auction off the worker thread
(httpx's sync requests) without a measurable rise in the loop's (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ssl
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from leadgate.delivery import responses, signing
from leadgate.delivery.base import Exchange, Outcome, truncate
from leadgate.delivery.http import auth_headers, build
from leadgate.domain.market.amounts import CENT

T = TypeVar("T")


@dataclass(frozen=True)
class PingRequest:
    buyer: str
    config: Mapping[str, Any]  # the ping destination's http config
    view: Mapping[str, Any]    # what the buyer is shown of the lead


@dataclass(frozen=True)
class PingAnswer:
    buyer: str
    outcome: Outcome
    seconds: float             # from the start of the auction to the answer
    status: int | None = None

    @property
    def bid(self) -> Decimal | None:
        """The bid, when the answer accepted with a price above 0."""
        if self.outcome.status != "accepted" or self.outcome.price is None:
            return None
        try:
            amount = Decimal(str(self.outcome.price)).quantize(CENT)
        except InvalidOperation:
            return None
        return amount if amount > 0 else None


class Pinger:
    """Parallel pings over one background event loop and one aiohttp session."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        #: a ping URL (as configured) parsed once (it is the buyer's configured URL)
        self._urls: dict[str, URL] = {}
        self._ssl: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="leadgate-pinger",
                                 daemon=True).start()
                self._loop = loop
            return self._loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._start()).result()

    def _url(self, url: str) -> URL:
        got = self._urls.get(url)
        if got is None:
            got = self._urls[url] = URL(url)
        return got

    def _client(self) -> aiohttp.ClientSession:
        """The session, made in the pinger's loop on first use (aiohttp binds it there)."""
        if self._session is None:
            if self._ssl is None:  # made once: loading the CA bundle takes ~40 ms
                self._ssl = ssl.create_default_context()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=500, limit_per_host=100, ssl=self._ssl),
                auto_decompress=True, raise_for_status=False)
        return self._session

    def ping_all(self, requests: Sequence[PingRequest], timeout: float) -> list[PingAnswer]:
        """Ping every buyer at once; the answers received within ``timeout`` seconds."""
        if not requests:
            return []
        return self._run(self._all(requests, timeout))

    async def _all(self, requests: Sequence[PingRequest],
                   timeout: float) -> list[PingAnswer]:
        t0 = time.perf_counter()
        tasks = [asyncio.ensure_future(self._one(r, t0, timeout)) for r in requests]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for t in pending:
            t.cancel()
        return [t.result() for t in done if not t.cancelled() and t.exception() is None]

    async def _one(self, r: PingRequest, t0: float, timeout: float) -> PingAnswer:
        req = build(r.config, r.view)
        headers = dict(req["headers"])
        headers.update(auth_headers(r.config))
        if r.config.get("sign"):
            headers.update(signing.sign_headers(r.config["sign"], str(r.view.get("ping_ref")),
                                                datetime.now(UTC), req["body"]))
        try:
            async with self._client().request(
                    req["method"], self._url(req["url"]), headers=headers,
                    data=req["body"].encode(), allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                raw = await resp.read()
                text = raw.decode(resp.charset or "utf-8", errors="replace")
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return PingAnswer(r.buyer, Outcome("error", f"{type(exc).__name__}: {exc}"),
                              time.perf_counter() - t0)
        outcome = responses.classify(status, text, r.config.get("response"))
        return PingAnswer(r.buyer, outcome, time.perf_counter() - t0, status)

    def post(self, config: Mapping[str, Any], view: Mapping[str, Any],
             timeout: float) -> tuple[Outcome, Exchange]:
        """Post the lead ``view`` to an ``http`` destination (``config``), as
        ``delivery.http.exchange`` would (auth and signature headers, the exchange
        recorded truncated, the answer classified by the ``response`` rules); a
        timeout or a connection failure is an ``error`` outcome. The request is built
        in the calling thread; only the I/O runs on the pinger's loop."""
        return self.post_all([(config, view, timeout)])[0]

    def post_all(self, posts: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], float]]
                 ) -> list[tuple[Outcome, Exchange]]:
        """:meth:`post` for several posts at once (a shared lead posted to its next
        bidders together): built in the calling thread, sent in parallel by the loop;
        the answers in the order given."""
        ready = []
        for config, view, timeout in posts:
            req = build(config, view)
            headers = dict(req["headers"])
            headers.update(auth_headers(config))
            if config.get("sign"):
                msg_id = str(view.get("idempotency_key") or view.get("delivery_id") or "")
                headers.update(signing.sign_headers(config["sign"], msg_id,
                                                    datetime.now(UTC), req["body"]))
            seen = Exchange(request={"method": req["method"], "url": req["url"],
                                     "headers": dict(headers), "body": truncate(req["body"])})
            ready.append((config, req, headers, seen, timeout))
        got = self._run(self._posts([
            (req["method"], req["url"], headers, req["body"].encode(), timeout)
            for _c, req, headers, _s, timeout in ready]))
        out: list[tuple[Outcome, Exchange]] = []
        for (config, req, _h, seen, _t), answer in zip(ready, got, strict=True):
            if isinstance(answer, str):  # the error's text: the request as prepared
                out.append((Outcome("error", answer, retryable=True), Exchange(request=req)))
                continue
            status, text, ms, kept = answer
            seen.response = {"status": status, "ms": ms, "headers": kept,
                             "body": truncate(text)}
            out.append((responses.classify(status, text, config.get("response")), seen))
        return out

    async def _posts(self, posts: Sequence[tuple[str, str, Mapping[str, str], bytes, float]]
                     ) -> list[tuple[int, str, float, dict[str, str]] | str]:
        if len(posts) == 1:
            return [await self._post(*posts[0])]
        return list(await asyncio.gather(*(self._post(*p) for p in posts)))

    async def _post(self, method: str, url: str, headers: Mapping[str, str], body: bytes,
                    timeout: float) -> tuple[int, str, float, dict[str, str]] | str:
        start = time.monotonic()
        try:
            async with self._client().request(
                    method, self._url(url), headers=headers, data=body,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                raw = await resp.read()
                text = raw.decode(resp.charset or "utf-8", errors="replace")
                kept = {k: v for k, v in resp.headers.items()
                        if k.lower() in ("content-type", "location", "retry-after")}
                return resp.status, text, round((time.monotonic() - start) * 1000, 3), kept
        except TimeoutError as exc:
            return f"timed out after {timeout:g}s ({type(exc).__name__})"
        except (aiohttp.ClientError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        loop, session = self._loop, self._session
        if loop is None:
            return
        if session is not None:
            asyncio.run_coroutine_threadsafe(session.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        self._loop, self._session, self._urls = None, None, {}


_pinger = Pinger()


def pinger() -> Pinger:
    """The process's pinger (tests may :func:`set_pinger` their own)."""
    return _pinger


def set_pinger(p: Pinger) -> None:
    global _pinger
    _pinger = p


@atexit.register
def _close_at_exit() -> None:
    """Close the session's connections as the process ends (aiohttp warns otherwise)."""
    with contextlib.suppress(Exception):
        _pinger.close()
