"""Console pages for delivery (managers): destinations with "send a test lead" and a
dry-run preview, the deliveries list (dead letters included) with Retry and
Discard, and one delivery's attempt log. The same services as ``/v1/destinations``
and ``/v1/deliveries`` do the work; these pages read forms and show results."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from leadgate.api.params import DbId
from leadgate.domain.errors import InvalidConfig, InvalidInput
from leadgate.services import deliveries, destinations
from leadgate.web.auth import ConsoleUser, CoreDep, ManagerDep, ReaderDep, WriterDep, check_csrf
from leadgate.web.render import ConsoleRoute, is_htmx, render, templates

templates.env.globals.update(delivery_retryable=deliveries.RETRYABLE,
                             delivery_not_discardable=deliveries.NOT_DISCARDABLE)

router = APIRouter(prefix="/console", route_class=ConsoleRoute,
                   dependencies=[Depends(check_csrf)], include_in_schema=False)

PAGE_SIZE = 50
#: The statuses offered by the filter, in the order of a delivery's life.
STATUSES = ("pending", "held", "waiting", "sending", "standby", "accepted", "rejected",
            "duplicate", "dead", "discarded", "skipped")
StatusQ = Annotated[str | None, Query(max_length=32)]
KeyQ = Annotated[str | None, Query(max_length=64)]
BeforeQ = Annotated[int | None, Query(ge=1, le=2**62)]


def _lead_id(text: str) -> int:
    value = text.strip().lstrip("#")
    if not value.isdigit() or len(value) > 18 or int(value) < 1:
        raise InvalidInput(f"lead id {text!r} is not a lead number", code="invalid_lead_id")
    return int(value)


# --- destinations ----------------------------------------------------------------

def _destinations_page(request: Request, uow: Any, user: ConsoleUser, *,
                       status_code: int = 200, headers: dict[str, str] | None = None,
                       **extra: Any) -> Response:
    ctx: dict[str, Any] = {"items": destinations.overview(uow), "preview": None,
                           "error": None, "target": None, "lead_value": ""}
    ctx.update(extra)
    return render(request, "destinations.html", ctx, user=user, status_code=status_code,
                  headers=headers)


@router.get("/destinations")
def destinations_page(request: Request, uow: ReaderDep, user: ManagerDep) -> Response:
    """Every destination with its limits, deliveries per status, and two actions."""
    return _destinations_page(request, uow, user)


@router.post("/destinations/{key}/preview")
def preview(request: Request, key: str, uow: ReaderDep, user: ManagerDep,
            lead_id: Annotated[str, Form(max_length=32)] = "") -> Response:
    """Dry run: the exact request ``key`` would get for a lead (secrets as ``***``)."""
    try:
        result = deliveries.preview(uow, key, _lead_id(lead_id))
    except (InvalidInput, InvalidConfig) as exc:
        return _destinations_page(request, uow, user, status_code=422, error=exc.message,
                                  target=key, lead_value=lead_id,
                                  headers={"X-Console-Message": quote(exc.message)})
    return _destinations_page(request, uow, user, preview=result, target=key,
                              lead_value=lead_id)


@router.post("/destinations/{key}/test")
def send_test(key: str, uow: WriterDep, core: CoreDep, user: ManagerDep,
              lead_id: Annotated[str, Form(max_length=32)] = "") -> Response:
    """Queue a real delivery of a lead to ``key`` and show it."""
    d = deliveries.queue_direct(uow, _lead_id(lead_id), key, core.clock())
    uow.commit()
    core.wakeup.notify()
    return RedirectResponse(f"/console/deliveries/{d.id}", status_code=303)


# --- deliveries ------------------------------------------------------------------

@router.get("/deliveries")
def deliveries_page(request: Request, uow: ReaderDep, user: ManagerDep,
                    status: StatusQ = None, destination: KeyQ = None,
                    before: BeforeQ = None) -> Response:
    """Deliveries newest first, filtered by status and destination, 50 per page
    (``before`` = the last id of the previous page)."""
    items = deliveries.list_deliveries(uow, status=status or None,
                                       destination=destination or None,
                                       limit=PAGE_SIZE + 1, before=before)
    more = len(items) > PAGE_SIZE
    items = items[:PAGE_SIZE]
    params = {k: v for k, v in (("status", status), ("destination", destination)) if v}
    counts = deliveries.counts(uow, destination=destination or None)
    ctx = {"items": items, "status": status or "", "destination": destination or "",
           "statuses": STATUSES, "counts": counts, "total": sum(counts.values()),
           "destinations": [d["key"] for d in destinations.list_destinations(uow)],
           "first_href": f"/console/deliveries?{urlencode(params)}" if before else None,
           "next_href": (f"/console/deliveries?{urlencode({**params, 'before': items[-1]['id']})}"
                         if more else None),
           "tab_href": lambda s: "/console/deliveries?" + urlencode(
               {k: v for k, v in (("status", s), ("destination", destination)) if v})}
    return render(request, "deliveries.html", ctx, user=user)


@router.get("/deliveries/{delivery_id}")
def delivery_page(request: Request, delivery_id: DbId, uow: ReaderDep,
                  user: ManagerDep) -> Response:
    """One delivery and every attempt: request, response, timing, worker, outcome."""
    return render(request, "delivery.html", {"d": deliveries.get_delivery(uow, delivery_id)},
                  user=user)


def _after_action(request: Request, user: ConsoleUser, d: dict[str, Any]) -> Response:
    if is_htmx(request):  # the row is swapped in place
        return render(request, "_delivery_row.html", {"d": d}, user=user)
    return RedirectResponse(f"/console/deliveries/{d['id']}", status_code=303)


@router.post("/deliveries/{delivery_id}/retry")
def retry(request: Request, delivery_id: DbId, uow: WriterDep, core: CoreDep,
          user: ManagerDep) -> Response:
    """Send a dead, rejected, duplicate, discarded or held delivery again."""
    d = deliveries.retry(uow, delivery_id, core.clock(), actor=user.principal.actor)
    uow.commit()
    core.wakeup.notify()
    return _after_action(request, user, deliveries.delivery_dict(d))


@router.post("/deliveries/{delivery_id}/discard")
def discard(request: Request, delivery_id: DbId, uow: WriterDep, core: CoreDep,
            user: ManagerDep) -> Response:
    """Give up on a delivery that has not been accepted."""
    d = deliveries.discard(uow, delivery_id, core.clock(), actor=user.principal.actor)
    uow.commit()
    return _after_action(request, user, deliveries.delivery_dict(d))
