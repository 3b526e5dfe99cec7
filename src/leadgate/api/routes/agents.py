"""/v1/agents and /v1/teams."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict

from leadgate.api.deps import AppDep, ReaderDep, UowDep, UserDep
from leadgate.services import agents

router = APIRouter(tags=["agents"])


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["available", "away", "offline"]


@router.get("/v1/agents", summary="List agents with their status and open leads")
def list_agents(uow: ReaderDep, user: UserDep, team: str | None = None) -> dict[str, Any]:
    user.require_user()
    return {"items": agents.list_agents(uow, team)}


@router.get("/v1/agents/{key}", summary="One agent")
def get_agent(key: str, uow: ReaderDep, user: UserDep) -> dict[str, Any]:
    return agents.agent_view(agents.get_agent(uow, key))


@router.put("/v1/agents/{key}/status", summary="Set an agent's availability")
def set_status(key: str, body: StatusChange, uow: UowDep, user: UserDep,
               app: AppDep) -> dict[str, Any]:
    """An agent may set their own status; managers may set anyone's."""
    agent = agents.set_status(uow, user, key, body.status, app.clock())
    app.wakeup.notify()
    return agents.agent_view(agent)


@router.put("/v1/agents/{key}", summary="Replace an agent's routing settings (managers)")
def update_agent(key: str, uow: UowDep, user: UserDep, app: AppDep,
                 body: Annotated[dict[str, Any], Body(
                     examples=[{"name": "Agent One", "teams": ["mumbai"],
                                "timezone": "Asia/Kolkata",
                                "working_hours": {"mon-fri": "09:00-18:00"},
                                "holidays": "IN-MH", "capacity": {"daily": 20, "open": 5}}],
                 )]) -> dict[str, Any]:
    """The whole settings mapping in the config file's format (name, email, teams,
    languages, skills, territories, tier, attributes, timezone, working_hours,
    holidays, time_off, capacity); keys left out are cleared. The status is not
    changed here. Bad values answer 422 with ``errors`` naming each path."""
    agent = agents.update_agent(uow, user, key, body, app.clock())
    app.wakeup.notify()
    return agents.agent_view(agent)


@router.get("/v1/teams", summary="List teams and their members")
def list_teams(uow: ReaderDep, user: UserDep) -> dict[str, Any]:
    return {"items": agents.list_teams(uow)}
