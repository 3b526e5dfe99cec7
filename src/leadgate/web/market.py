"""Console pages for the lead marketplace. Managers: buyers with caps, budget used and
acceptance rate; the returns queue with Approve / Refuse for returns the rules sent to
review; money totals. A lead's sale trace is shown on its page (``_market.html``).
A buyer's user: its own purchases, each with a Return form, and its returns.
The same services as ``/v1/buyers``, ``/v1/returns`` and ``/v1/market/money`` do the
work; these pages read forms and show results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from leadgate.api.params import DbId
from leadgate.domain.errors import LeadgateError
from leadgate.services.market import board, returns
from leadgate.services.market.settings import current
from leadgate.web.auth import CoreDep, ManagerDep, ReaderDep, UserDep, WriterDep, check_csrf
from leadgate.web.render import ConsoleRoute, render

router = APIRouter(prefix="/console", route_class=ConsoleRoute,
                   dependencies=[Depends(check_csrf)], include_in_schema=False)
RETURN_STATUSES = ("needs_review", "approved", "refused")


@router.get("/buyers")
def buyers_page(request: Request, uow: ReaderDep, core: CoreDep, user: ManagerDep) -> Response:
    """Every buyer: caps used per window, budget used, bids and acceptance rate."""
    return render(request, "buyers.html", {"items": board.buyers(uow, core.clock()),
                                           "money": returns.totals(uow)}, user=user)


@router.get("/returns")
def returns_page(request: Request, uow: ReaderDep, user: ManagerDep,
                 status: Annotated[str | None, Query(max_length=32)] = "needs_review",
                 ) -> Response:
    """The returns queue (waiting for review first) and decided returns."""
    chosen = status if status in RETURN_STATUSES else None
    items = returns.list_returns(uow, user.principal, status=chosen, limit=200)
    return render(request, "returns.html", {"items": items, "status": chosen,
                                            "statuses": RETURN_STATUSES}, user=user)


@router.post("/returns/{return_id}/{verdict}")
def review_return(return_id: DbId, verdict: str, uow: WriterDep, core: CoreDep,
                  user: ManagerDep, note: Annotated[str, Form(max_length=2000)] = ""
                  ) -> Response:
    """Approve (credit the buyer, charge the supplier back) or refuse a return."""
    if verdict not in ("approve", "refuse"):
        return RedirectResponse("/console/returns", status_code=303)
    returns.review(uow, user.principal, return_id, verdict == "approve", core.clock(),
                   note=note or None)
    return RedirectResponse("/console/returns", status_code=303)


def _purchases_page(request: Request, uow: ReaderDep | WriterDep, user: UserDep, *,
                    error: str | None = None, done: dict[str, object] | None = None,
                    status_code: int = 200) -> Response:
    who = user.principal
    sales = returns.list_sales(uow, who, limit=200)  # a buyer: its own only
    asked = returns.list_returns(uow, who, limit=200)
    pending = {r["sale_id"] for r in asked if r["status"] == "needs_review"}
    window = current(uow).return_window
    return render(request, "purchases.html",
                  {"sales": sales, "returns": asked, "pending": pending, "error": error,
                   "done": done, "window": _duration(window.total_seconds())},
                  user=user, status_code=status_code)


@router.get("/purchases")
def purchases_page(request: Request, uow: ReaderDep, user: UserDep) -> Response:
    """A buyer's purchases (newest first) with a Return form each, and its returns; a
    manager sees every sale here. Anyone else is refused."""
    return _purchases_page(request, uow, user)


@router.post("/purchases/{sale_id}/return")
def return_purchase(request: Request, sale_id: DbId, uow: WriterDep, core: CoreDep,
                    user: UserDep, reason: Annotated[str, Form(max_length=200)] = "",
                    note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Return one purchase with a reason: the rules decide at once (approved, refused)
    or send it to a manager's review; the page says which. A refused request (no reason,
    out of the return window, already returned) is shown on the page, nothing changes."""
    try:
        done = returns.request_return(uow, user.principal, sale_id, reason, core.clock(),
                                      note=note.strip() or None)
    except LeadgateError as exc:
        if exc.status >= 500 or exc.status in (401, 403, 404):
            raise
        uow.rollback()
        return _purchases_page(request, uow, user, error=exc.message,
                               status_code=exc.status)
    return _purchases_page(request, uow, user, done=done, status_code=201)


def _duration(seconds: float) -> str:
    """A return window as people say it: "7 days", "36 hours", "1 day"."""
    days, hours = divmod(round(seconds / 3600), 24)
    if hours == 0 and days:
        return f"{days} day{'s' if days != 1 else ''}"
    total = days * 24 + hours
    return f"{total} hour{'s' if total != 1 else ''}"
