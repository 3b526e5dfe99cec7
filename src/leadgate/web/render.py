"""Templates, their filters, and the route class that turns every error on a
console page into a friendly HTML answer (never a traceback, never JSON)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadgate.domain.errors import AuthError, LeadgateError
from leadgate.web.auth import ConsoleUser, LoginRequired, csrf_token

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def when(value: Any) -> str:
    """An ISO time (or datetime) as ``2026-11-23 10:00:05 UTC``."""
    if value in (None, ""):
        return ""
    try:
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    zone = dt.strftime("%Z") or ""
    return dt.strftime("%Y-%m-%d %H:%M:%S") + (f" {zone}" if zone else "")


def pretty_json(value: Any) -> str:
    """Indented JSON for the raw views."""
    return json.dumps(value, indent=2, sort_keys=False, default=str, ensure_ascii=False)


def table_columns(rows: Sequence[Any]) -> list[str]:
    """The union of keys of a list of mappings, in first-seen order."""
    cols: list[str] = []
    for r in rows:
        cols.extend(k for k in r if k not in cols)
    return cols


def is_table(value: Any) -> bool:
    """A non-empty list made only of mappings (rendered as a table)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


def is_isotime(value: Any) -> bool:
    """A string holding an ISO 8601 date-time (shown in the console's time format)."""
    return isinstance(value, str) and bool(ISO_TIME.match(value))


def humanize(key: Any) -> str:
    """``open_leads`` -> ``open leads``."""
    return str(key).replace("_", " ")


templates.env.filters.update(when=when, pretty_json=pretty_json, columns=table_columns,
                             humanize=humanize)
templates.env.tests.update(mapping=lambda v: isinstance(v, Mapping),
                           table=is_table, isotime=is_isotime,
                           scalar_list=lambda v: isinstance(v, list | tuple)
                           and not any(isinstance(x, Mapping | list) for x in v))


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           user: ConsoleUser | None = None, status_code: int = 200,
           headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """Render a console template with the user, the CSRF token and the nav state."""
    ctx: dict[str, Any] = {"user": user, "csrf": csrf_token(request),
                           "path": request.url.path, **(context or {})}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code,
                                      headers=headers)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def error_page(request: Request, status: int, message: str, *,
               reference: str | None = None) -> Response:
    """The friendly error page (or, for an HTMX request, a message header)."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    headers = {"X-Console-Message": quote(message)}
    if is_htmx(request):
        return Response(message, status_code=status, headers=headers, media_type="text/plain")
    return render(request, "error.html",
                  {"status": status, "title": title, "message": message,
                   "reference": reference}, status_code=status, headers=headers)


def login_redirect(request: Request, next_url: str) -> Response:
    target = "/console/login" + (f"?{urlencode({'next': next_url})}" if next_url else "")
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def handle_error(request: Request, exc: Exception) -> Response:
    """Map any exception raised by a console page to an HTML answer."""
    if isinstance(exc, LoginRequired):
        return login_redirect(request, exc.next_url)
    if isinstance(exc, LeadgateError):
        status = 403 if isinstance(exc, AuthError) and exc.code in ("forbidden", "csrf_refused") \
            else exc.status
        return error_page(request, status, exc.message)
    if isinstance(exc, RequestValidationError):
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', 'invalid')}"
                 for e in exc.errors()]
        return error_page(request, 422, "; ".join(parts) or "invalid request")
    if isinstance(exc, StarletteHTTPException):
        messages = {404: "There is no such page in the console.",
                    405: "This page does not accept that kind of request."}
        return error_page(request, exc.status_code,
                          messages.get(exc.status_code, str(exc.detail)))
    ref = uuid.uuid4().hex[:12]
    log.exception("unexpected console error ref=%s", ref)
    return error_page(request, 500, "Something went wrong on our side. The error was logged.",
                      reference=ref)


class ConsoleRoute(APIRoute):
    """An APIRoute whose errors become console pages instead of problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except Exception as exc:  # every error becomes a page, by design
                return handle_error(request, exc)

        return handler


def parse_yaml_mapping(text: str, expected: str, *, empty_ok: bool = False) -> dict[str, Any]:
    """A YAML mapping typed into a console editor, or InvalidConfig saying where it is
    broken (line and column) or what shape was ``expected``."""
    import yaml

    from leadgate.domain.errors import InvalidConfig

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the text"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidConfig(f"this is not valid YAML: {problem}", path=where,
                            code="invalid_yaml") from None
    if data is None and empty_ok:
        data = {}
    if not isinstance(data, dict):
        raise InvalidConfig(expected, path="(top)", code="invalid_yaml")
    return data
