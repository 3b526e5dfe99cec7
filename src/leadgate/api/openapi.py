"""The OpenAPI document: every error answer is described as problem+json.

Error responses are declared per operation from the route's kind, with one
shared description per status:

- authenticated (depends on the caller's key or token): 401, 403, 429 is not
  used by the API (only the console login is throttled);
- with a path parameter: 404;
- with parameters or a body: 422 (``invalid_request``, ``invalid_body``...);
- with a body: 400 (``malformed_json``), 413 (``body_too_large``);
- route-specific ones (409 conflicts, 415 on ``POST /v1/leads``) come from
  :data:`SPECIFIC` or the route's own ``responses``.

FastAPI's default ``HTTPValidationError`` (``application/json``) is replaced
by the ``Problem`` schema under ``application/problem+json``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from leadgate.api.deps import get_caller
from leadgate.api.errors import PROBLEM, flat_routes

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details with a stable `code`.",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string", "example": "Unprocessable Content"},
        "status": {"type": "integer", "example": 422},
        "code": {"type": "string", "example": "invalid_body"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "path": {"type": "string"}, "message": {"type": "string"}}}},
        "reasons": {"type": "array", "items": {"type": "object"}},
        "lead_id": {"type": "integer"},
        "field": {"type": ["string", "null"]},
        "retry_after": {"type": "integer"},
        "reference": {"type": "string"},
    },
}

DESCRIPTIONS = {
    400: "`malformed_json`: the body is empty or not JSON",
    401: "`unauthorized`: missing, unknown, expired or revoked key or token",
    403: "`forbidden`: this credential may not do this",
    404: "`not_found`: no such thing (or not yours)",
    409: "`conflict`: the state does not allow this",
    413: "`body_too_large`: the body is over the size limit",
    415: "`unsupported_media_type`: the body is not application/json",
    422: "`invalid_request` / `invalid_body` / `invalid_query`: a parameter or the body "
         "is refused; `errors` names each",
}

#: Route-specific statuses: (method, path) -> {status: description}.
SPECIFIC: dict[tuple[str, str], dict[int, str]] = {
    ("POST", "/v1/leads"): {
        409: "`idempotency_conflict`: Idempotency-Key reused with another body",
        415: DESCRIPTIONS[415],
        422: "`lead_rejected` (refused and recorded: `reasons`, `lead_id`) or "
             "`invalid_body` (a value that cannot be stored: lone surrogate, NaN, "
             "a number out of range), naming the `field`",
    },
    ("POST", "/v1/leads/{lead_id}/approve"): {409: "`conflict`: the lead is not quarantined"},
    ("POST", "/v1/leads/{lead_id}/refuse"): {409: "`conflict`: the lead is not quarantined"},
    ("POST", "/v1/offers/{offer_id}/accept"): {
        409: "`offer_expired` (past the deadline), `offer_closed` (already answered) or "
             "`already_claimed` (a shotgun lead someone else claimed first)"},
    ("POST", "/v1/offers/{offer_id}/decline"): {
        409: "`offer_expired` or `offer_closed`"},
    ("POST", "/v1/leads/{lead_id}/claim"): {
        409: "`already_claimed` (someone claimed it first), `offer_expired`, `blind_queue` "
             "(use POST /v1/pull) or `not_eligible` (you cannot take a lead now)"},
    ("POST", "/v1/pull"): {409: "`not_eligible`: you cannot take a lead now (status, "
                                "hours, caps, open-lead limit)"},
    ("POST", "/v1/leads/{lead_id}/reassign"): {
        409: "`not_reassignable`: the lead is closed, refused or sold"},
    ("POST", "/v1/leads/{lead_id}/release"): {409: "`not_assigned`: the lead is not assigned"},
    ("GET", "/v1/agents/{key}/notifications"): {
        403: "`forbidden`: a rep may only see their own notification settings"},
    ("PUT", "/v1/agents/{key}/notifications"): {
        403: "`forbidden`: a rep may only change their own notification settings",
        422: "`invalid_body` / `invalid_config`: a bad address, URL, secret or event; "
             "`errors` names each"},
}


def _depends_on(route: Any, call: Any) -> bool:
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if dep.call is call:
            return True
        stack.extend(dep.dependencies)
    return False


def error_statuses(route: Any, method: str) -> dict[int, str]:
    """The error answers an operation can give, with their descriptions."""
    out: dict[int, str] = {}
    has_body = route.body_field is not None or \
        "requestBody" in (route.openapi_extra or {})
    has_params = bool(route.dependant.path_params or route.dependant.query_params)
    if _depends_on(route, get_caller):
        out[401] = DESCRIPTIONS[401]
        out[403] = DESCRIPTIONS[403]
    if "{" in route.path_format:
        out[404] = DESCRIPTIONS[404]
    if has_body:
        out[400] = DESCRIPTIONS[400]
        out[413] = DESCRIPTIONS[413]
    if has_body or has_params or "{" in route.path_format:
        out[422] = DESCRIPTIONS[422]
    for status in route.responses or {}:
        if isinstance(status, int) and status >= 400 and status not in out:
            out[status] = DESCRIPTIONS.get(status, "see `code`")
    out.update(SPECIFIC.get((method, route.path_format), {}))
    return dict(sorted(out.items()))


def build(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary,
                      description=app.description, routes=app.routes)
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    ref = {"$ref": "#/components/schemas/Problem"}
    routes = {(r.path_format, m): r for r in flat_routes(app)
              if getattr(r, "include_in_schema", False) and hasattr(r, "dependant")
              for m in r.methods or ()}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            route = routes.get((path, method.upper()))
            if route is None:
                continue
            responses = op.setdefault("responses", {})
            for status, text in error_statuses(route, method.upper()).items():
                responses[str(status)] = {"description": text,
                                          "content": {PROBLEM: {"schema": ref}}}
            for status, resp in responses.items():
                if status.isdigit() and int(status) >= 400:
                    resp["content"] = {PROBLEM: {"schema": ref}}
            op["responses"] = dict(sorted(responses.items()))
    return doc


def install(app: FastAPI) -> None:
    """Serve :func:`build`'s document (built once) at ``/openapi.json``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
