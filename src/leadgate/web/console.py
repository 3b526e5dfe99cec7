"""The web console: server-rendered pages (Jinja2 + HTMX) under ``/console``.

``install(api, core)`` adds the signed-session middleware, the static files,
the pages, and an HTML answer for console URLs that match no page. The pages
call the same services as the HTTP API and hold no business logic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from leadgate.api.errors import allowed_methods
from leadgate.bootstrap import App
from leadgate.web import (
    accounts,
    deliveries,
    flows,
    gatekeeper,
    inbox,
    manage,
    market,
    offer_link,
    pages,
)
from leadgate.web.render import HERE, handle_error

SESSION_COOKIE = "leadgate_console"
SESSION_MAX_AGE = 12 * 60 * 60  # a working day; then log in again
PREFIX = "/console"

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def install(api: FastAPI, core: App) -> None:
    """Mount the console on ``api`` (pages, static files, session middleware)."""
    api.add_middleware(
        SessionMiddleware,
        secret_key=core.settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        path=PREFIX,
        same_site="lax",
        https_only=core.settings.cookie_secure,  # always on in production
    )
    api.mount(f"{PREFIX}/static", StaticFiles(directory=str(HERE / "static")),
              name="console-static")
    api.include_router(pages.router)
    api.include_router(manage.router)
    api.include_router(flows.router)
    api.include_router(gatekeeper.router)
    api.include_router(deliveries.router)
    api.include_router(accounts.router)
    api.include_router(inbox.router)
    api.include_router(offer_link.router)
    api.include_router(market.router)
    _html_for_unknown_console_urls(api)


def _html_for_unknown_console_urls(api: FastAPI) -> None:
    """A 404/405 under /console gets the console's error page; the API keeps problem+json."""
    previous: Handler | None = api.exception_handlers.get(StarletteHTTPException)

    async def handler(request: Request, exc: Any) -> Response:
        path = request.url.path
        if (path == PREFIX or path.startswith(PREFIX + "/")) \
                and not path.startswith(PREFIX + "/static/"):
            response = handle_error(request, exc)
            if getattr(exc, "status_code", None) == 405:
                response.headers["Allow"] = ", ".join(allowed_methods(request.app, path))
            return response
        if previous is None:
            raise exc
        result = previous(request, exc)
        return await result if isinstance(result, Awaitable) else result

    api.add_exception_handler(StarletteHTTPException, handler)
