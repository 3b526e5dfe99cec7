"""ASGI middleware: every JSON body sent to the API is parsed once, strictly.

The parse is :func:`leadgate.services.textsafety.loads`: NaN/Infinity, lone
surrogates, numbers out of range and deep nesting are refused (422
``invalid_body``, naming the field) and anything that is not JSON is 400
``malformed_json``, as problem+json, before a route or a database sees it.
NUL characters are removed; when that changes the body, the route receives
the cleaned JSON. The parsed value is left in the ASGI scope
(``textsafety.SCOPE_KEY``) so ``POST /v1/leads`` does not parse it twice.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadgate.api.errors import problem
from leadgate.domain.errors import LeadgateError
from leadgate.services import textsafety


class JsonGuard:
    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = ("/v1/",)) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS") \
                or not str(scope.get("path", "")).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type")
        if ctype is not None and not textsafety.is_json_type(ctype.decode("latin-1")):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            msg = await receive()
            if msg["type"] != "http.request":  # the client went away
                return
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body", False):
                break
        body = b"".join(chunks)
        if body.strip():
            try:
                parsed = textsafety.loads(body)
            except LeadgateError as exc:
                response = problem(exc.status, exc.code, exc.message, **exc.details())
                await response(scope, receive, send)
                return
            scope[textsafety.SCOPE_KEY] = parsed
            if b"\\u0000" in body:  # NUL was removed: pass the cleaned body on
                body = json.dumps(parsed, ensure_ascii=False).encode("utf-8")
                scope["headers"] = [(k, v) for k, v in scope["headers"]
                                    if k != b"content-length"] + \
                    [(b"content-length", str(len(body)).encode())]
        await self.app(scope, replay(body, receive), send)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read ``body`` over first, then defers."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
