"""Console pages for the lead marketplace (managers): buyers with caps, budget used and
acceptance rate; the returns queue with Approve / Refuse for returns the rules sent to
review; money totals. A lead's sale trace is shown on its page (``_market.html``).
The same services as ``/v1/buyers``, ``/v1/returns`` and ``/v1/market/money`` do the
work; these pages read forms and show results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from leadgate.api.params import DbId
from leadgate.services.market import board, returns
from leadgate.web.auth import CoreDep, ManagerDep, ReaderDep, WriterDep, check_csrf
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
