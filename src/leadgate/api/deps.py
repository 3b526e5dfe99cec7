"""Request dependencies: the application, the unit of work, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from leadgate.bootstrap import App
from leadgate.domain.errors import AuthError
from leadgate.services import accounts, security, snapshot
from leadgate.services.principal import Principal
from leadgate.store.uow import UnitOfWork


async def get_app(request: Request) -> App:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread
    # hop on every request for one attribute read
    app: App = request.app.state.leadgate
    return app


def get_uow(app: Annotated[App, Depends(get_app)]) -> Iterator[UnitOfWork]:
    """A writing unit of work for the request (the route's service commits)."""
    with app.uow() as uow:
        yield uow


def get_reader(app: Annotated[App, Depends(get_app)]) -> Iterator[UnitOfWork]:
    """A read-only unit of work for the request."""
    with app.reader() as uow:
        yield uow


def bearer_secret(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


class Caller:
    """The authenticated caller; for a source key, the key's hash (re-checked by
    the capture batch, which sees every change of sources)."""

    def __init__(self, principal: Principal, key_hash: str | None = None) -> None:
        self.principal = principal
        self.key_hash = key_hash


async def get_caller(request: Request, app: Annotated[App, Depends(get_app)]) -> Caller:
    secret = bearer_secret(request)
    if secret is None:
        raise AuthError("send an API key as 'Authorization: Bearer <key>' or 'X-API-Key'")
    if not secret.startswith(security.USER_TOKEN_PREFIX):
        # source keys: answered from the cached configuration, no statement
        digest = security.hash_secret(secret)
        snap = snapshot.cached_for(app.engine)
        found = snap.source_for_key(digest) if snap is not None else None
        if found is not None:
            return Caller(Principal(kind="source", name=found.key, source_id=found.id), digest)

    def resolve() -> Caller:
        now = app.clock()
        with app.reader() as uow:
            principal, source = accounts.resolve_secret(uow, secret, now)
        if principal.touch_token_id is not None:
            with app.uow() as uow:
                accounts.token_used(uow, principal.touch_token_id, now)
        return Caller(principal, security.hash_secret(secret) if source is not None else None)

    return await run_in_threadpool(resolve)


def get_user(caller: Annotated[Caller, Depends(get_caller)]) -> Principal:
    caller.principal.require_user()
    return caller.principal


def get_staff(user: Annotated[Principal, Depends(get_user)]) -> Principal:
    """A user on the team (admin, manager or agent). A buyer's user is an outside
    company: it has its purchases and returns (``/v1/sales``, ``/v1/returns``), its
    tokens and ``/v1/me``, never the reps, teams, leads, flows or live events."""
    user.require_staff()
    return user


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
ReaderDep = Annotated[UnitOfWork, Depends(get_reader)]
AppDep = Annotated[App, Depends(get_app)]
CallerDep = Annotated[Caller, Depends(get_caller)]
UserDep = Annotated[Principal, Depends(get_user)]
StaffDep = Annotated[Principal, Depends(get_staff)]
