"""/v1/destinations and /v1/deliveries; PATCH /v1/leads/{id} (source updates)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from leadgate.api.deps import AppDep, CallerDep, ReaderDep, StaffDep, UowDep
from leadgate.api.routes.leads import read_json
from leadgate.domain.errors import Forbidden, InvalidInput
from leadgate.services import deliveries, destinations

router = APIRouter(tags=["delivery"])


@router.get("/v1/destinations", summary="List destinations (secrets hidden)")
def list_destinations(uow: ReaderDep, user: StaffDep) -> dict[str, Any]:
    user.require_manager()
    return {"items": destinations.list_destinations(uow)}


@router.get("/v1/destinations/{key}", summary="One destination (secrets hidden)")
def get_destination(key: str, uow: ReaderDep, user: StaffDep) -> dict[str, Any]:
    user.require_manager()
    return destinations.destination_dict(deliveries.get_destination(uow, key))


@router.post("/v1/destinations/{key}/preview", summary="Dry run: what a lead would send")
def preview(key: str, uow: ReaderDep, user: StaffDep,
            lead_id: Annotated[int, Body(embed=True)]) -> dict[str, Any]:
    """Build the request for ``lead_id`` without sending anything (secrets hidden)."""
    user.require_manager()
    return deliveries.preview(uow, key, lead_id)


@router.post("/v1/destinations/{key}/test", status_code=202,
             summary="Send a test lead to a destination")
def test_destination(key: str, uow: UowDep, user: StaffDep, app: AppDep,
                     lead_id: Annotated[int, Body(embed=True)]) -> dict[str, Any]:
    """Queue a real delivery of ``lead_id`` to ``key``; follow it in /v1/deliveries."""
    user.require_manager()
    d = deliveries.queue_direct(uow, lead_id, key, app.clock())
    uow.commit()
    app.wakeup.notify()
    return deliveries.delivery_dict(d)


@router.get("/v1/deliveries", summary="List deliveries, newest first")
def list_deliveries(uow: ReaderDep, user: StaffDep, status: str | None = None,
                    lead_id: int | None = None, destination: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100,
                    before: int | None = None) -> dict[str, Any]:
    user.require_manager()
    items = deliveries.list_deliveries(uow, status=status, lead_id=lead_id,
                                       destination=destination, limit=limit, before=before)
    return {"items": items, "counts": deliveries.counts(uow)}


@router.get("/v1/deliveries/{delivery_id}", summary="One delivery with every attempt")
def get_delivery(delivery_id: int, uow: ReaderDep, user: StaffDep) -> dict[str, Any]:
    user.require_manager()
    return deliveries.get_delivery(uow, delivery_id)


@router.post("/v1/deliveries/{delivery_id}/retry", summary="Send a delivery again")
def retry(delivery_id: int, uow: UowDep, user: StaffDep, app: AppDep) -> dict[str, Any]:
    user.require_manager()
    d = deliveries.retry(uow, delivery_id, app.clock(), actor=user.actor)
    uow.commit()
    app.wakeup.notify()
    return deliveries.delivery_dict(d)


@router.post("/v1/deliveries/{delivery_id}/discard", summary="Give up on a delivery")
def discard(delivery_id: int, uow: UowDep, user: StaffDep, app: AppDep) -> dict[str, Any]:
    user.require_manager()
    d = deliveries.discard(uow, delivery_id, app.clock(), actor=user.actor)
    uow.commit()
    return deliveries.delivery_dict(d)


@router.patch("/v1/leads/{lead_id}", summary="Update a lead (by the source that sent it)")
async def update_lead(lead_id: int, request: Request, caller: CallerDep,
                      app: AppDep) -> dict[str, Any]:
    """Merge fields into a lead; held deliveries whose condition now holds are released."""
    if caller.principal.source_id is None:
        raise Forbidden("leads are updated with the API key of the source that sent them")
    changes = await read_json(request)
    if not isinstance(changes, dict):
        raise InvalidInput("send a JSON object of the fields to change", code="invalid_body")
    source_id = caller.principal.source_id

    def run() -> dict[str, Any]:
        with app.uow() as uow:
            out = deliveries.update_lead(uow, source_id, lead_id, changes, app.clock())
            uow.commit()
        app.wakeup.notify()
        return out

    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(run)
