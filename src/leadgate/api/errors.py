"""The one place where errors become HTTP answers: RFC 9457 problem+json.

Every answer has ``type``, ``title``, ``status``, ``detail`` and a stable
``code``; domain errors add their own members (``errors``, ``reasons``).
Nothing escapes as a bare 500: unexpected errors are logged with a reference
and answered with a problem document that carries it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadgate.domain.errors import AuthError, LeadgateError

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


def problem(status: int, code: str, detail: str, *,
            headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "code": code, "detail": detail, **extra}
    out = dict(headers or {})
    if status == 401:
        out["WWW-Authenticate"] = "Bearer"
    if status == 429 and "retry_after" in extra:
        out["Retry-After"] = str(extra["retry_after"])
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=out or None)


def flat_routes(app: Any) -> list[Any]:
    """Every route of ``app``, included routers flattened (FastAPI >= 0.130 keeps
    included routers as one entry; ``iter_route_contexts`` walks them)."""
    routes = list(getattr(app, "routes", []))
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI copies included routes onto the app
        return routes
    return list(iter_route_contexts(routes))


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method some route of ``app`` answers on ``path`` (for a 405's Allow)."""
    methods: set[str] = set()
    for route in flat_routes(app):
        regex = getattr(route, "path_regex", None)
        if regex is not None and getattr(route, "methods", None) and regex.match(path):
            methods.update(route.methods)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(LeadgateError)
    async def _domain(_: Request, exc: LeadgateError) -> JSONResponse:
        status = exc.status
        if isinstance(exc, AuthError) and exc.code == "forbidden":
            status = 403
        return problem(status, exc.code, exc.message, **exc.details())

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"path": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
             "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors) or "invalid request"
        return problem(422, "invalid_request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "malformed_json", 404: "not_found", 405: "method_not_allowed",
                413: "body_too_large"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return problem(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        log.exception("unexpected error ref=%s", ref)
        return problem(500, "internal_error",
                       f"an unexpected error occurred; quote reference {ref}", reference=ref)
