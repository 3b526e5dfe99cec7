"""/v1/suppressions and the quarantine decisions on /v1/leads/{id}."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from leadgate.api.deps import AppDep, ReaderDep, StaffDep, UowDep
from leadgate.api.params import DbId
from leadgate.services import outcomes, review, suppressions
from leadgate.services.ingest import lead_summary

router = APIRouter(tags=["gatekeeper"])


class SuppressionAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: list[str] = Field(min_length=1, max_length=10000,
                              description="Phones, emails or domains")
    kind: Literal["phone", "email", "domain"] | None = Field(
        default=None, description="Guessed per value when omitted")
    reason: str | None = Field(default=None, max_length=200)
    default_region: str | None = Field(default=None, min_length=2, max_length=2)


class OutcomeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["contacted", "qualified", "won", "lost"]
    revenue: float | None = Field(default=None, ge=0)
    reason: str | None = Field(default=None, max_length=500)


class RefuseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=500)


@router.get("/v1/suppressions", summary="The do-not-contact list")
def list_suppressions(uow: ReaderDep, user: StaffDep,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    return suppressions.list_entries(uow, user, limit=limit, offset=offset)


@router.post("/v1/suppressions", status_code=201, summary="Add do-not-contact entries")
def add_suppressions(body: SuppressionAdd, uow: UowDep, user: StaffDep,
                     app: AppDep) -> dict[str, Any]:
    return suppressions.add(uow, user, body.values, app.clock(), kind=body.kind,
                            reason=body.reason, default_region=body.default_region)


@router.delete("/v1/suppressions/{value}", summary="Remove a do-not-contact entry")
def delete_suppression(value: str, uow: UowDep, user: StaffDep) -> dict[str, Any]:
    return {"removed": suppressions.remove(uow, user, value)}


@router.post("/v1/leads/{lead_id}/approve", summary="Approve a quarantined lead (it is routed)")
def approve_lead(lead_id: DbId, uow: UowDep, user: StaffDep, app: AppDep) -> dict[str, Any]:
    lead = review.approve(uow, user, lead_id, app.clock())
    app.wakeup.notify()
    return lead_summary(lead)


@router.post("/v1/leads/{lead_id}/refuse", summary="Refuse a quarantined lead")
def refuse_lead(lead_id: DbId, body: RefuseBody, uow: UowDep, user: StaffDep,
                app: AppDep) -> dict[str, Any]:
    return lead_summary(review.refuse(uow, user, lead_id, app.clock(), body.note))


@router.post("/v1/leads/{lead_id}/outcome", summary="Post an outcome: contacted, qualified, "
             "won (with revenue), lost (with reason)")
def post_outcome(lead_id: DbId, body: OutcomeBody, uow: UowDep, user: StaffDep,
                 app: AppDep) -> dict[str, Any]:
    """An agent may post outcomes on their own leads; managers on any."""
    lead = outcomes.record_outcome(uow, user, lead_id, body.outcome, app.clock(),
                                   revenue=body.revenue, reason=body.reason)
    return lead_summary(lead)
