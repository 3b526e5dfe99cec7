"""The rep's work loop: /v1/offers, /v1/pull, /v1/queues, claim, reassign, release."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from leadgate.api.deps import AppDep, ReaderDep, StaffDep, UowDep
from leadgate.api.params import DbId
from leadgate.services import inbox, offers, pull, reassign
from leadgate.services.ingest import lead_summary
from leadgate.store import models as m

router = APIRouter(tags=["work"])


class DeclineBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500)


class PullBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str | None = Field(default=None, max_length=200,
                              description="one queue; default every queue you may pull from")


class ReassignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str | None = Field(default=None, max_length=64, description="the new assignee")
    queue: str | None = Field(default=None, max_length=200, description="or a queue")
    reason: str = Field(min_length=1, max_length=500)


class ReleaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500)


@router.get("/v1/offers", summary="Pending offers: yours (reps) or anyone's (managers)")
def list_offers(uow: ReaderDep, user: StaffDep, status: str | None = "offered",
                agent: str | None = None,
                lead_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Soonest deadline first. `status` (default `offered`), `agent` and `lead_id`
    filter; a rep only ever sees their own offers."""
    return {"items": offers.list_offers(uow, user, status=status, agent=agent,
                                        lead_id=lead_id, limit=limit)}


def _answer(offer: m.Offer, lead: m.Lead) -> dict[str, Any]:
    return {"offer": offers.offer_dict(offer), "lead": lead_summary(lead)}


@router.post("/v1/offers/{offer_id}/accept", summary="Accept an offer before its deadline")
def accept_offer(offer_id: DbId, uow: UowDep, user: StaffDep, app: AppDep) -> dict[str, Any]:
    """The lead becomes yours (`assigned`). A shotgun offer is a claim: only the first
    wins, the others get 409 `already_claimed`."""
    now = app.clock()
    offer = offers.accept(uow, user, offer_id, now)
    inbox.announce(uow, offer.lead_id, now, kind="accepted")
    uow.commit()
    lead = uow.session.get(m.Lead, offer.lead_id)
    assert lead is not None
    return _answer(offer, lead)


@router.post("/v1/offers/{offer_id}/decline", summary="Decline an offer")
def decline_offer(offer_id: DbId, uow: UowDep, user: StaffDep, app: AppDep,
                  body: DeclineBody | None = None) -> dict[str, Any]:
    """A push offer goes at once to the next eligible rep (or escalates)."""
    now = app.clock()
    offer = offers.decline(uow, user, offer_id, now, reason=body.reason if body else None)
    inbox.announce(uow, offer.lead_id, now, kind="declined", previous=offer.agent_id)
    uow.commit()
    app.wakeup.notify()
    lead = uow.session.get(m.Lead, offer.lead_id)
    assert lead is not None
    return _answer(offer, lead)


@router.post("/v1/leads/{lead_id}/claim", summary="Claim a shotgun lead or a queued lead")
def claim_lead(lead_id: DbId, uow: UowDep, user: StaffDep, app: AppDep) -> dict[str, Any]:
    """A lead offered to you by a shotgun (first claim wins; the others get 409
    `already_claimed`), or a lead of a selective queue you may take from."""
    user.require_user()
    shotgun = user.agent_id is not None and uow.session.scalar(select(m.Offer.id).where(
        m.Offer.lead_id == lead_id, m.Offer.agent_id == user.agent_id,
        m.Offer.kind == "shotgun").limit(1)) is not None
    now = app.clock()
    if shotgun:
        lead = offers.claim(uow, user, lead_id, now)
    else:
        lead = pull.claim_queued(uow, user, lead_id, now)
    inbox.announce(uow, lead.id, now, kind="claimed")
    uow.commit()
    return lead_summary(lead)


@router.post("/v1/pull", summary="Take the next best lead of your pull queues")
def pull_next(uow: UowDep, user: StaffDep, app: AppDep,
              body: PullBody | None = None) -> dict[str, Any]:
    """`{"lead": null}` when nothing is waiting; 409 `not_eligible` when you cannot take
    a lead now (away, outside hours, at a cap)."""
    now = app.clock()
    lead = pull.pull(uow, user, now, queue=body.queue if body else None)
    if lead is not None:
        inbox.announce(uow, lead.id, now, kind="pulled")
    uow.commit()
    return {"lead": lead_summary(lead) if lead is not None else None}


@router.get("/v1/queues", summary="The pull queues you may take from")
def list_queues(uow: ReaderDep, user: StaffDep) -> dict[str, Any]:
    return {"items": [q.to_dict() for q in pull.my_queues(uow, user)]}


@router.get("/v1/queues/{name}", summary="Preview a selective queue")
def preview_queue(name: str, uow: ReaderDep, user: StaffDep, app: AppDep,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """The leads of the queue you may take, in the queue's order (a blind queue is
    for managers only: reps pull from it)."""
    return pull.preview(uow, user, name, app.clock(), limit=limit)


@router.post("/v1/leads/{lead_id}/reassign", summary="Reassign a lead (managers)")
def reassign_lead(lead_id: DbId, body: ReassignBody, uow: UowDep, user: StaffDep,
                  app: AppDep) -> dict[str, Any]:
    """To another agent (assigned at once) or a queue, with a reason; audited. The
    flow's rotation is not moved."""
    now = app.clock()
    locked = offers.lock_lead(uow, lead_id)
    previous = locked.assignee_id if locked is not None else None
    lead = reassign.reassign(uow, user, lead_id, now, agent=body.agent, queue=body.queue,
                             reason=body.reason)
    inbox.announce(uow, lead.id, now, kind="reassigned", previous=previous)
    uow.commit()
    return lead_summary(lead)


@router.post("/v1/leads/{lead_id}/release", summary="Hand a lead back to its queue")
def release_lead(lead_id: DbId, uow: UowDep, user: StaffDep, app: AppDep,
                 body: ReleaseBody | None = None) -> dict[str, Any]:
    """The assignee (or a manager) puts an assigned lead back in the queue it was
    pulled from (`unassigned` otherwise); audited."""
    now = app.clock()
    lead = reassign.release(uow, user, lead_id, now, reason=body.reason if body else None)
    inbox.announce(uow, lead.id, now, kind="released")
    uow.commit()
    return lead_summary(lead)
