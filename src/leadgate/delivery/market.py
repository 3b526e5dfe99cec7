"""Pinging buyers in parallel for a ping post auction.

One event loop thread per process holds an ``httpx.AsyncClient`` per buyer host
(kept-alive connections; one pool per host because httpcore's pool does work in
proportion to its requests times its connections on every change, which one shared
pool for every buyer turns quadratic under load); :meth:`Pinger.ping_all` sends
every ping at once and
returns the answers that came back within the timeout. Pings still running when the
timeout strikes are cancelled: a late answer is never waited for. A buyer's ping
destination is an ``http`` destination (docs/delivery.md): its ``response`` rules read
the bid (``price``) and the bid id (``external_id``) from the answer; a ``rejected``
answer, or one without a price, is no bid.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
import sys
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import httpx

from leadgate.delivery import responses, signing
from leadgate.delivery.base import Outcome
from leadgate.delivery.http import auth_headers, build
from leadgate.domain.market.amounts import CENT

T = TypeVar("T")

# httpcore runs ``import sniffio`` on every lock it takes; without sniffio installed
# each try searches sys.path again (a failed import is not cached), about 0.3 ms a
# time, several times a request. Recording the absence makes the import fail at once,
# which httpcore reads as "asyncio", as it would anyway.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


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
    """Parallel pings over one background event loop and one async HTTP client."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: dict[str, httpx.AsyncClient] = {}
        #: a ping URL (as configured) -> its host's client and the URL parsed once
        self._targets: dict[str, tuple[httpx.AsyncClient, httpx.URL]] = {}
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

    def _target(self, url: str) -> tuple[httpx.AsyncClient, httpx.URL]:
        """The client of ``url``'s host and ``url`` parsed: both made once per URL (a
        ping URL is the buyer's configured one, so parsing it on every ping is waste)."""
        got = self._targets.get(url)
        if got is None:
            parsed = httpx.URL(url)
            got = self._targets[url] = (self._http(parsed), parsed)
        return got

    def _http(self, url: httpx.URL) -> httpx.AsyncClient:
        key = str(url.copy_with(path="/", query=None, fragment=None))
        client = self._clients.get(key)
        if client is None:
            if self._ssl is None:  # made once: loading the CA bundle takes ~40 ms
                self._ssl = ssl.create_default_context()
            client = self._clients[key] = httpx.AsyncClient(
                transport=self._transport, follow_redirects=False, verify=self._ssl,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        return client

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
        client, url = self._target(req["url"])
        headers = dict(req["headers"])
        headers.update(auth_headers(r.config))
        if r.config.get("sign"):
            headers.update(signing.sign_headers(r.config["sign"], str(r.view.get("ping_ref")),
                                                datetime.now(UTC), req["body"]))
        try:
            resp = await client.request(req["method"], url, headers=headers,
                                        content=req["body"].encode(), timeout=timeout)
        except httpx.HTTPError as exc:
            return PingAnswer(r.buyer, Outcome("error", f"{type(exc).__name__}: {exc}"),
                              time.perf_counter() - t0)
        outcome = responses.classify(resp.status_code, resp.text, r.config.get("response"))
        return PingAnswer(r.buyer, outcome, time.perf_counter() - t0, resp.status_code)

    def close(self) -> None:
        loop, clients = self._loop, list(self._clients.values())
        if loop is None:
            return
        for client in clients:
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        self._loop, self._clients, self._targets = None, {}, {}


_pinger = Pinger()


def pinger() -> Pinger:
    """The process's pinger (tests may :func:`set_pinger` their own)."""
    return _pinger


def set_pinger(p: Pinger) -> None:
    global _pinger
    _pinger = p
