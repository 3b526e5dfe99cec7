"""ASGI middleware adding the security headers to every answer (API and console).

- ``Content-Security-Policy``: the console loads only its own scripts and styles
  (no inline script, no ``eval``; ``static/console.js`` does what inline
  handlers used to); API answers may load nothing; the Swagger page (``/docs``)
  needs its CDN and inline bootstrap script. All forbid framing
  (``frame-ancestors 'none'``), as does ``X-Frame-Options: DENY``.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``.
- ``Cache-Control: no-store`` on everything but the console's static files:
  pages and API answers carry personal data.
- ``Strict-Transport-Security`` when cookies are Secure (production, HTTPS).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
               "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
               "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "img-src 'self' data: https://fastapi.tiangolo.com; worker-src 'self' blob:; "
            "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
DOCS_PATHS = ("/docs", "/redoc")
STATIC_PREFIX = "/console/static/"


def policy_for(path: str) -> str:
    if path.startswith(DOCS_PATHS):
        return DOCS_CSP
    if path == "/console" or path.startswith(("/console/", "/f/")):
        return CONSOLE_CSP
    return API_CSP


_REPLACED = frozenset({b"content-security-policy", b"x-frame-options",
                       b"x-content-type-options", b"referrer-policy"})
_REPLACED_HSTS = _REPLACED | {b"strict-transport-security"}


def security_headers(path: str, headers: Any, hsts: bool) -> list[tuple[bytes, bytes]]:
    """An answer's headers for ``path`` with the security headers set (replacing any
    the app set)."""
    no_store = not path.startswith(STATIC_PREFIX)
    replaced = _REPLACED_HSTS if hsts else _REPLACED
    if no_store:
        replaced = replaced | {b"cache-control"}
    out = [(k, v) for k, v in headers if k.lower() not in replaced]
    out += [
        (b"content-security-policy", policy_for(path).encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]
    if hsts:
        out.append((b"strict-transport-security", b"max-age=31536000"))
    if no_store:
        out.append((b"cache-control", b"no-store"))
    return out


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                msg = {**msg, "headers": security_headers(path, msg.get("headers", []),
                                                          self.hsts)}
            await send(msg)

        await self.app(scope, receive, with_headers)
