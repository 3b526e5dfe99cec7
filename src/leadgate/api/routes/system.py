"""Health, the caller's identity, API tokens, config as code over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from leadgate.api.deps import AppDep, CallerDep, ReaderDep, UowDep, UserDep
from leadgate.api.params import DbId
from leadgate.services import accounts, configure
from leadgate.store import models as m

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness and database check")
def health(uow: ReaderDep, app: AppDep) -> dict[str, Any]:
    """Answers once the database answers; ``capture`` counts this process's group
    commits (batches, the leads in them, the largest batch)."""
    uow.session.execute(text("SELECT 1"))
    return {"status": "ok", "database": uow.dialect, "capture": app.capture.stats()}


@router.get("/v1/me", summary="Who the credentials belong to")
def me(caller: CallerDep) -> dict[str, Any]:
    p = caller.principal
    return {"kind": p.kind, "name": p.name, "role": p.role}


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    expires_days: int | None = Field(default=None, ge=1, le=accounts.MAX_TOKEN_DAYS,
                                     description="Stop working after this many days "
                                     "(default: never)")


@router.post("/v1/tokens", status_code=201, summary="Create a personal API token")
def create_token(body: TokenRequest, uow: UowDep, user: UserDep,
                 app: AppDep) -> dict[str, Any]:
    """The token is shown once in this answer; only its hash is stored. A new user
    gets their first token from the console (*My tokens*) or `leadgate token create`."""
    row = uow.session.get(m.User, user.user_id)
    assert row is not None
    secret = accounts.create_token(uow, row, body.name, app.clock(),
                                   expires_days=body.expires_days)
    uow.commit()
    token = accounts.list_tokens(uow, row.id)[0]
    return {**token, "token": secret}


@router.get("/v1/tokens", summary="Your personal API tokens (prefix, created, last used, "
            "expiry; never the secret)")
def list_tokens(uow: ReaderDep, user: UserDep) -> dict[str, Any]:
    assert user.user_id is not None
    return {"items": accounts.list_tokens(uow, user.user_id)}


@router.delete("/v1/tokens/{token_id}", summary="Revoke one of your tokens")
def revoke_token(token_id: DbId, uow: UowDep, user: UserDep) -> dict[str, Any]:
    assert user.user_id is not None
    accounts.revoke_token(uow, user.user_id, token_id)
    return {"revoked": token_id}


@router.get("/v1/config", summary="Export the whole setup (config as code)")
def export_config(uow: ReaderDep, user: UserDep) -> dict[str, Any]:
    user.require_manager()
    return configure.export(uow)
