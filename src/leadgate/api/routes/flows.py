"""/v1/flows: versioned flows, testing a lead, simulating a draft; the vocabulary."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from leadgate.api.deps import AppDep, ReaderDep, StaffDep, UowDep
from leadgate.api.params import MAX_ID
from leadgate.domain.routing import vocabulary
from leadgate.services import flows

router = APIRouter(tags=["flows"])


class FlowSpec(BaseModel):
    model_config = ConfigDict(extra="allow")
    rules: list[dict[str, Any]] = Field(default_factory=list)
    fallback: dict[str, Any] | None = None


class TestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lead: dict[str, Any] | None = Field(default=None, description="Lead facts, inline")
    lead_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                                 description="Or an existing lead")
    version: Literal["draft", "published"] = "published"


class SimulateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since_days: float = Field(default=30, gt=0, le=3660)
    leads: list[dict[str, Any]] | None = Field(
        default=None, description="Replay these leads instead of the history")
    version: Literal["draft", "published"] = "draft"


class RestoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=MAX_ID)


@router.get("/v1/vocabulary", summary="Operators, methods, pool attributes and lead facts")
def get_vocabulary(user: StaffDep) -> dict[str, Any]:
    """The routing vocabulary, for building rule editors."""
    return vocabulary()


@router.get("/v1/flows", summary="List flows")
def list_flows(uow: ReaderDep, user: StaffDep) -> dict[str, Any]:
    user.require_manager()
    return {"items": flows.list_flows(uow)}


@router.get("/v1/flows/{key}", summary="A flow: its draft and every published version")
def get_flow(key: str, uow: ReaderDep, user: StaffDep) -> dict[str, Any]:
    user.require_manager()
    return flows.flow_view(uow, key)


@router.put("/v1/flows/{key}", summary="Save a flow draft (validated; refused with a path)")
def put_flow(key: str, body: FlowSpec, uow: UowDep, user: StaffDep, app: AppDep,
             publish: bool = False) -> dict[str, Any]:
    return flows.save_draft(uow, user, key, body.model_dump(exclude_none=True), app.clock(),
                            publish=publish)


@router.post("/v1/flows/{key}/publish", summary="Publish the draft as a new version")
def publish_flow(key: str, uow: UowDep, user: StaffDep, app: AppDep) -> dict[str, Any]:
    return flows.publish(uow, user, key, app.clock())


@router.post("/v1/flows/{key}/restore", summary="Restore an earlier version")
def restore_flow(key: str, body: RestoreRequest, uow: UowDep, user: StaffDep,
                 app: AppDep) -> dict[str, Any]:
    return flows.restore(uow, user, key, body.version, app.clock())


@router.post("/v1/flows/{key}/test", summary="Run one lead through a flow; assigns nothing")
def test_flow(key: str, body: TestRequest, uow: ReaderDep, user: StaffDep,
              app: AppDep) -> dict[str, Any]:
    return flows.try_lead(uow, user, key, app.clock(), lead=body.lead, lead_id=body.lead_id,
                          which=body.version)


@router.post("/v1/flows/{key}/simulate",
             summary="Replay past (or given) leads through a flow and compare")
def simulate_flow(key: str, body: SimulateRequest, uow: ReaderDep, user: StaffDep,
                  app: AppDep) -> dict[str, Any]:
    return flows.simulate_history(uow, user, key, timedelta(days=body.since_days), app.clock(),
                                  which=body.version, leads=body.leads)
