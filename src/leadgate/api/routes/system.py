"""Health, the caller's identity, API tokens, config as code over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from leadgate.api.deps import AppDep, CallerDep, ReaderDep, UowDep, UserDep
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


@router.post("/v1/tokens", status_code=201, summary="Create a personal API token")
def create_token(body: TokenRequest, uow: UowDep, user: UserDep,
                 app: AppDep) -> dict[str, Any]:
    """The token is shown once in this answer; only its hash is stored."""
    row = uow.session.get(m.User, user.user_id)
    assert row is not None
    secret = accounts.create_token(uow, row, body.name, app.clock())
    uow.commit()
    return {"name": body.name, "token": secret}


@router.get("/v1/config", summary="Export the whole setup (config as code)")
def export_config(uow: ReaderDep, user: UserDep) -> dict[str, Any]:
    user.require_manager()
    return configure.export(uow)
