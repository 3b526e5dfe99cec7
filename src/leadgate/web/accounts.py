"""Console pages for accounts: *My tokens* (everyone) and *Users* (admins).

A new user logs in and creates their first personal API token here (the API's
``POST /v1/tokens`` needs a token already). Admins deactivate users, which
ends their sessions and revokes their tokens at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from leadgate.api.params import DbId
from leadgate.domain.errors import InvalidInput
from leadgate.services import accounts
from leadgate.store import models as m
from leadgate.web.auth import CoreDep, ReaderDep, UserDep, WriterDep, check_csrf
from leadgate.web.render import ConsoleRoute, render

router = APIRouter(prefix="/console", route_class=ConsoleRoute,
                   dependencies=[Depends(check_csrf)], include_in_schema=False)

EXPIRY_CHOICES = (("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("", "never"))


def _tokens_page(request: Request, uow: ReaderDep | WriterDep, user: UserDep, *,
                 secret: str | None = None, name: str = "", status_code: int = 200) -> Response:
    return render(request, "tokens.html",
                  {"tokens": accounts.list_tokens(uow, user.user_id), "secret": secret,
                   "new_name": name, "choices": EXPIRY_CHOICES, "now": None},
                  user=user, status_code=status_code)


@router.get("/tokens")
def tokens_page(request: Request, uow: ReaderDep, user: UserDep) -> Response:
    """The user's own API tokens and a form to create one."""
    return _tokens_page(request, uow, user)


@router.post("/tokens")
def create_token(request: Request, uow: WriterDep, core: CoreDep, user: UserDep,
                 name: Annotated[str, Form(max_length=200)] = "",
                 expires_days: Annotated[str, Form(max_length=5)] = "90") -> Response:
    """Create a token; the secret is shown on this page once, never again."""
    days = None
    if expires_days.strip():
        if not expires_days.strip().isdigit():
            raise InvalidInput("choose an expiry", code="invalid_token")
        days = int(expires_days)
    row = uow.session.get(m.User, user.user_id)
    assert row is not None
    secret = accounts.create_token(uow, row, name, core.clock(), expires_days=days)
    uow.commit()
    return _tokens_page(request, uow, user, secret=secret, name=name.strip(), status_code=201)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: DbId, uow: WriterDep, user: UserDep) -> Response:
    """Revoke one of the user's own tokens; it stops working at once."""
    accounts.revoke_token(uow, user.user_id, token_id)
    return RedirectResponse("/console/tokens", status_code=303)


@router.get("/users")
def users_page(request: Request, uow: ReaderDep, user: UserDep) -> Response:
    """Admins: every user with role and state, and a *Deactivate* button."""
    user.principal.require_admin()
    rows = uow.session.scalars(select(m.User).order_by(m.User.email)).unique().all()
    return render(request, "users.html", {"users": rows}, user=user)


@router.post("/users/{user_id}/deactivate")
def deactivate_user(user_id: DbId, uow: WriterDep, user: UserDep) -> Response:
    """Admins: deactivate a user (sessions end, tokens are revoked, at once)."""
    user.principal.require_admin()
    target = uow.session.get(m.User, user_id)
    if target is None:
        from leadgate.domain.errors import NotFound

        raise NotFound(f"no user {user_id}")
    if target.id == user.user_id:
        raise InvalidInput("you cannot deactivate yourself", code="invalid_request")
    accounts.deactivate_user(uow, target.email)
    return RedirectResponse("/console/users", status_code=303)
