"""Console sessions: who is logged in, and the per-session CSRF token.

The cookie is Starlette's signed session (``SessionMiddleware``); it holds only
a random session id (``sid``) and the CSRF token. The session itself is a row
of ``console_sessions`` (keyed by the id's SHA-256): logging out or
deactivating the user deletes it, so a copied cookie stops working at once.
The user row is re-read on every request, so a changed role takes effect at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from leadgate.bootstrap import App
from leadgate.domain.errors import Forbidden
from leadgate.services import accounts, security
from leadgate.services.principal import Principal
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class LoginRequired(Exception):
    """The page needs a logged-in user; the console answers with a redirect."""

    def __init__(self, next_url: str = "") -> None:
        super().__init__("login required")
        self.next_url = next_url


class CsrfRefused(Forbidden):
    """A state-changing request came without the session's CSRF token."""

    code = "csrf_refused"


@dataclass(frozen=True)
class ConsoleUser:
    """The logged-in user as pages see them."""

    principal: Principal
    user_id: int
    email: str
    name: str
    role: str
    agent_key: str | None

    @property
    def is_manager(self) -> bool:
        return self.principal.is_manager


def core_app(request: Request) -> App:
    """The leadgate composition root stored on the FastAPI app."""
    app: App = request.app.state.leadgate
    return app


def reader(request: Request) -> Iterator[UnitOfWork]:
    """A read-only unit of work for the request."""
    with core_app(request).reader() as uow:
        yield uow


def writer(request: Request) -> Iterator[UnitOfWork]:
    """A writing unit of work; the service called by the route commits."""
    with core_app(request).uow() as uow:
        yield uow


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def rotate_session(request: Request, session_id: str | None) -> None:
    """Start a fresh cookie (at login and logout): new CSRF token, new session id."""
    request.session.clear()
    if session_id is not None:
        request.session["sid"] = session_id
    csrf_token(request)


def session_id(request: Request) -> str | None:
    sid = request.session.get("sid")
    return sid if isinstance(sid, str) and 20 <= len(sid) <= 100 else None


async def check_csrf(request: Request) -> None:
    """Refuse (403) any non-safe request whose token does not match the session's.

    HTMX sends the token as the ``X-CSRF-Token`` header (``hx-headers`` on
    ``<body>``); plain forms send it as the hidden ``csrf_token`` field.
    """
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent: Any = request.headers.get(CSRF_HEADER)
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = (await request.form()).get(CSRF_FIELD)
    if not isinstance(expected, str) or not isinstance(sent, str) or not sent \
            or not security.constant_equals(expected, sent):
        raise CsrfRefused("the form is out of date or was not sent by the console; "
                          "reload the page and try again")


def _load_user(request: Request, uow: UnitOfWork) -> m.User | None:
    sid = session_id(request)
    if sid is None:
        return None
    return accounts.session_user(uow, sid, core_app(request).clock())


def optional_user(request: Request,
                  uow: Annotated[UnitOfWork, Depends(reader)]) -> ConsoleUser | None:
    """The logged-in user, or None."""
    user = _load_user(request, uow)
    if user is None:
        return None
    return ConsoleUser(principal=accounts.principal_for_user(user), user_id=user.id,
                       email=user.email, name=user.name, role=user.role,
                       agent_key=user.agent.key if user.agent else None)


def current_user(request: Request,
                 user: Annotated[ConsoleUser | None, Depends(optional_user)]) -> ConsoleUser:
    """The logged-in user; anyone else is sent to the login page."""
    if user is None:
        if request.session.get("sid") is not None:
            request.session.pop("sid", None)
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise LoginRequired(target)
    return user


def manager(user: Annotated[ConsoleUser, Depends(current_user)]) -> ConsoleUser:
    """The logged-in user, who must be a manager or an admin."""
    user.principal.require_manager()
    return user


def staff(user: Annotated[ConsoleUser, Depends(current_user)]) -> ConsoleUser:
    """The logged-in user, who must be on the team (admin, manager or agent): a buyer's
    user is an outside company and sees only its own purchases (``/console/purchases``),
    never the reps, the teams, the leads or the live notices."""
    user.principal.require_staff()
    return user


def safe_next(value: str | None) -> str:
    """Where to go after login: only a console path, never another site."""
    if value and value.startswith("/console/") and not value.startswith("//") \
            and "\\" not in value and not value.startswith("/console/login"):
        return value
    return "/console/leads"


UserDep = Annotated[ConsoleUser, Depends(current_user)]
ManagerDep = Annotated[ConsoleUser, Depends(manager)]
StaffDep = Annotated[ConsoleUser, Depends(staff)]
ReaderDep = Annotated[UnitOfWork, Depends(reader)]
WriterDep = Annotated[UnitOfWork, Depends(writer)]
CoreDep = Annotated[App, Depends(core_app)]
