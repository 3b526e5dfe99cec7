"""/v1/agents and /v1/teams."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from leadgate.api.deps import AppDep, ReaderDep, StaffDep, UowDep
from leadgate.services import agents, notifications

router = APIRouter(tags=["agents"])


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["available", "away", "offline"]


@router.get("/v1/agents", summary="List agents with their status and open leads")
def list_agents(uow: ReaderDep, user: StaffDep, team: str | None = None) -> dict[str, Any]:
    user.require_user()
    return {"items": agents.list_agents(uow, team)}


@router.get("/v1/agents/{key}", summary="One agent")
def get_agent(key: str, uow: ReaderDep, user: StaffDep) -> dict[str, Any]:
    return agents.agent_view(agents.get_agent(uow, key))


@router.put("/v1/agents/{key}/status", summary="Set an agent's availability")
def set_status(key: str, body: StatusChange, uow: UowDep, user: StaffDep,
               app: AppDep) -> dict[str, Any]:
    """An agent may set their own status; managers may set anyone's."""
    agent = agents.set_status(uow, user, key, body.status, app.clock())
    app.wakeup.notify()
    return agents.agent_view(agent)


@router.put("/v1/agents/{key}", summary="Replace an agent's routing settings (managers)")
def update_agent(key: str, uow: UowDep, user: StaffDep, app: AppDep,
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
def list_teams(uow: ReaderDep, user: StaffDep) -> dict[str, Any]:
    return {"items": agents.list_teams(uow)}


# --- notification preferences ---------------------------------------------------------
class WebhookSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    secret: str | None = None


class NotificationSettings(BaseModel):
    """A rep's notification preferences (the ``notify:`` key of the setup file)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"email": True, "webhook": "https://chat.example/hooks/ana",
         "events": ["offered", "assigned"]}]})
    email: bool | str = Field(False, description="true (the agent's address), false, or "
                                                  "an address")
    webhook: str | WebhookSetting | None = Field(
        None, description="a URL (signed with Standard Webhooks; a secret is made when "
                          "none is given) or {url, secret}")
    events: list[Literal["offered", "claimable", "assigned"]] | None = Field(
        None, description="default: offered, assigned")


class NotificationSettingsView(BaseModel):
    agent: str
    email: bool | str
    webhook: WebhookSetting | None
    events: list[str]
    email_address: str | None = Field(description="where emails go")
    configured: bool


@router.get("/v1/agents/{key}/notifications", response_model=NotificationSettingsView,
            summary="An agent's notification preferences (your own, or anyone's: managers)")
def get_notifications(key: str, uow: ReaderDep, user: StaffDep) -> dict[str, Any]:
    """Email and webhook notifications of offers and assignments. The webhook's signing
    secret is shown: receivers verify the Standard Webhooks signature with it."""
    return notifications.get_prefs(uow, user, key)


@router.put("/v1/agents/{key}/notifications", response_model=NotificationSettingsView,
            summary="Set an agent's notification preferences (your own, or anyone's: "
                    "managers)")
def put_notifications(key: str, body: NotificationSettings, uow: UowDep, user: StaffDep,
                      app: AppDep) -> dict[str, Any]:
    """Replaces the preferences as a whole (keys left out take their defaults: email
    off, no webhook, events offered and assigned). A rep may change only their own
    (403 otherwise). A webhook without a secret keeps its current one, or gets a new
    one."""
    data = body.model_dump(exclude_none=True)
    return notifications.set_prefs(uow, user, key, data, app.clock())
