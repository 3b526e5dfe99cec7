"""The capture fast lane: ``POST /v1/leads`` without the framework's layers.

Every request to the API passes through a stack of ASGI layers: Starlette's
error middleware, FastAPI's own body limit, leadgate's security headers, body
limit and JSON guard, the console's session middleware, the exception
middleware, then route matching over every included router. For the one
route that carries the product's volume this was about a third of the
process's CPU per lead (py-spy, ``serve`` under wrk), more than qualifying
the lead.

:class:`LeadgateAPI` answers ``POST /v1/leads`` itself when the request has
the ordinary shape (a declared JSON body of a declared, allowed length) and
does exactly what those layers would have done for it:

- the body limit: a declared length over ``max_body_bytes`` is never taken
  here (the stack refuses it without reading); a body longer than declared is
  replayed to the stack, which refuses it;
- the JSON guard: the body is parsed once, strictly, by
  :func:`textsafety.loads` (a bad body answers 400 / 422 problem+json, with the
  same document as the guard's);
- the route: :func:`leads.capture_handler`, the very function the route runs;
- errors: the application's own exception handlers (problem+json, a reference
  for anything unexpected);
- the security headers of every answer (:func:`headers.security_headers`).

Anything else (no or another content type, no declared length, an empty
body) goes through the whole stack untouched, where it gets the usual
answer. The console's session is not involved: a lead is submitted with a
source key. Tests run the capture suites through this lane, and
``tests/integration/test_fastlane.py`` compares its answers with the stack's.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from leadgate.api.errors import problem
from leadgate.api.headers import security_headers
from leadgate.api.jsonguard import replay
from leadgate.domain.errors import LeadgateError
from leadgate.services import textsafety

PATH = "/v1/leads"


class LeadgateAPI(FastAPI):
    """FastAPI, with ``POST /v1/leads`` answered by the fast lane."""

    #: set by ``create_app``: the largest body accepted, the HSTS setting
    max_body_bytes: int = 0
    hsts: bool = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST" \
                and self.max_body_bytes:
            length = _plain_length(scope, self.max_body_bytes)
            if length is not None:
                await self._capture(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _capture(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":  # the client went away
                return
            chunk = msg.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not msg.get("more_body", False):
                break
        body = b"".join(chunks)
        if size > self.max_body_bytes or not body.strip():
            # longer than declared, or empty: the stack answers as it always does
            await super().__call__(scope, replay(body, receive), send)
            return
        secured = _secured(send, self.hsts)
        try:
            parsed = textsafety.loads(body)
        except LeadgateError as exc:  # what the JSON guard answers
            await problem(exc.status, exc.code, exc.message, **exc.details())(
                scope, receive, secured)
            return
        scope["app"] = self
        scope[textsafety.SCOPE_KEY] = parsed
        request = Request(scope, replay(body, receive))
        from leadgate.api.routes.leads import capture_handler

        try:
            response = await capture_handler(request)
        except Exception as exc:
            response = await self._handle(request, exc)
        # what Response.__call__ sends (these responses have no background task), with
        # the security headers
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": security_headers(PATH, response.raw_headers, self.hsts)})
        await send({"type": "http.response.body", "body": response.body})

    async def _handle(self, request: Request, exc: Exception) -> Any:
        """The application's handler for ``exc`` (the most specific class wins, as in
        Starlette's exception middleware); ``Exception``'s answers the unexpected."""
        for cls in type(exc).__mro__:
            handler = self.exception_handlers.get(cls)
            if handler is not None:
                answer = handler(request, exc)
                return await answer if inspect.isawaitable(answer) else answer
        raise exc  # pragma: no cover - errors.install registers a handler for Exception


def _plain_length(scope: Scope, limit: int) -> int | None:
    """The declared length of a JSON body within ``limit``, or None when the request
    is not of that plain shape."""
    length = ctype = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = value
        elif name == b"content-type":
            ctype = value
    if length is None or ctype is None or not length.isdigit():
        return None
    n = int(length)
    if n > limit or not textsafety.is_json_type(ctype.decode("latin-1")):
        return None
    return n


def _secured(send: Send, hsts: bool) -> Send:
    async def with_headers(msg: Message) -> None:
        if msg["type"] == "http.response.start":
            msg = {**msg, "headers": security_headers(PATH, msg.get("headers", []), hsts)}
        await send(msg)

    return with_headers
