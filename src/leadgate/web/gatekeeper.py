"""Console pages for the gatekeeper (managers): the do-not-contact list and the
quarantine queue. The services check, normalise and commit; these pages only
read forms and show the result."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from leadgate.api.params import DbId
from leadgate.domain.errors import InvalidInput, NotFound
from leadgate.services import leads, review, suppressions
from leadgate.web.auth import ConsoleUser, CoreDep, ManagerDep, ReaderDep, WriterDep, check_csrf
from leadgate.web.render import ConsoleRoute, is_htmx, render

router = APIRouter(prefix="/console", route_class=ConsoleRoute,
                   dependencies=[Depends(check_csrf)], include_in_schema=False)

PAGE_SIZE = 50
MAX_PAGE = 10_000
PageQ = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def _pages(total: int, page: int, base: str) -> dict[str, Any]:
    pages = max(1, -(-total // PAGE_SIZE))
    return {"page": page, "pages": pages,
            "prev_href": f"{base}?{urlencode({'page': page - 1})}" if page > 1 else None,
            "next_href": f"{base}?{urlencode({'page': page + 1})}" if page < pages else None}


# --- do-not-contact ------------------------------------------------------------

def _suppressions_page(request: Request, uow: Any, user: ConsoleUser, page: int, *,
                       status_code: int = 200, **extra: Any) -> Response:
    result = suppressions.list_entries(uow, user.principal, limit=PAGE_SIZE,
                                       offset=(page - 1) * PAGE_SIZE)
    ctx: dict[str, Any] = {"result": result, "kinds": suppressions.KINDS, "error": None,
                           "form": {"values": "", "kind": "", "reason": "", "region": ""},
                           "notice": None,
                           **_pages(result["total"], page, "/console/suppressions")}
    ctx.update(extra)
    return render(request, "suppressions.html", ctx, user=user, status_code=status_code)


@router.get("/suppressions")
def suppressions_page(request: Request, uow: ReaderDep, user: ManagerDep, page: PageQ = 1,
                      added: Annotated[int | None, Query(ge=0)] = None,
                      already: Annotated[int | None, Query(ge=0)] = None,
                      removed: Annotated[str | None, Query(max_length=320)] = None
                      ) -> Response:
    """The do-not-contact list (newest first), the add form and a remove button per entry."""
    notice = None
    if added is not None:
        notice = f"Added {added} entr{'y' if added == 1 else 'ies'}" + \
            (f"; {already} already listed." if already else ".")
    elif removed:
        notice = f"Removed {removed}."
    return _suppressions_page(request, uow, user, page, notice=notice)


@router.post("/suppressions")
def add_suppressions(request: Request, uow: WriterDep, user: ManagerDep, core: CoreDep,
                     values: Annotated[str, Form(max_length=200_000)] = "",
                     kind: Annotated[str, Form(max_length=16)] = "",
                     reason: Annotated[str, Form(max_length=500)] = "",
                     region: Annotated[str, Form(max_length=2)] = "") -> Response:
    """Add entries, one per line; all or nothing when one line is not valid."""
    form = {"values": values, "kind": kind, "reason": reason, "region": region}
    lines = [line.strip() for line in values.splitlines() if line.strip()]
    try:
        if not lines:
            raise InvalidInput("write at least one phone, email or domain",
                               code="invalid_suppression")
        result = suppressions.add(uow, user.principal, lines, core.clock(), kind=kind or None,
                                  reason=reason.strip() or None,
                                  default_region=region.strip().upper() or None)
    except InvalidInput as exc:
        uow.rollback()
        return _suppressions_page(request, uow, user, 1, status_code=422, error=exc.message,
                                  form=form)
    query = urlencode({"added": result["added"], "already": result["already_listed"]})
    return RedirectResponse(f"/console/suppressions?{query}", status_code=303)


@router.post("/suppressions/remove")
def remove_suppression(request: Request, uow: WriterDep, user: ManagerDep,
                       value: Annotated[str, Form(max_length=400)]) -> Response:
    """Take one entry (``kind:value``) off the list."""
    if not suppressions.remove(uow, user.principal, value):
        raise NotFound(f"{value} is not on the do-not-contact list")
    if is_htmx(request):
        return Response("", media_type="text/html")
    return RedirectResponse(f"/console/suppressions?{urlencode({'removed': value})}",
                            status_code=303)


# --- quarantine ----------------------------------------------------------------

@router.get("/quarantine")
def quarantine_page(request: Request, uow: ReaderDep, user: ManagerDep,
                    page: PageQ = 1) -> Response:
    """Leads held for a person, with their reasons and Approve / Refuse buttons."""
    result = leads.list_leads(uow, user.principal, leads.LeadFilter(
        status="quarantined", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE))
    return render(request, "quarantine.html",
                  {"result": result, **_pages(result["total"], page, "/console/quarantine")},
                  user=user)


def _done(request: Request) -> Response:
    if is_htmx(request):
        return Response("", media_type="text/html")  # the row disappears
    return RedirectResponse("/console/quarantine", status_code=303)


@router.post("/quarantine/{lead_id}/approve")
def approve(request: Request, lead_id: DbId, uow: WriterDep, core: CoreDep,
            user: ManagerDep) -> Response:
    """Approve a quarantined lead: it is routed now."""
    review.approve(uow, user.principal, lead_id, core.clock())
    core.wakeup.notify()
    return _done(request)


@router.post("/quarantine/{lead_id}/refuse")
def refuse(request: Request, lead_id: DbId, uow: WriterDep, core: CoreDep, user: ManagerDep,
           note: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Refuse a quarantined lead, with an optional note."""
    review.refuse(uow, user.principal, lead_id, core.clock(), note.strip() or None)
    return _done(request)
