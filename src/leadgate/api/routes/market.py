"""The marketplace API: supplier pre-ping, sales and returns, buyers, money."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from starlette.concurrency import run_in_threadpool

from leadgate.api.deps import AppDep, CallerDep, ReaderDep, UowDep, UserDep
from leadgate.api.routes.leads import read_json
from leadgate.domain.errors import Forbidden, NotFound
from leadgate.services.market import board, preping, returns

router = APIRouter(tags=["market"])


@router.post("/v1/ping", summary="Supplier pre-ping: price a partial lead")
async def ping(request: Request, app: AppDep, caller: CallerDep) -> dict[str, Any]:
    """Send the fields you have (no lead is created). The answer says whether the lead
    would be bought and at what price (``price``, what you will be paid) with a signed
    ``ping_id`` valid until ``expires_at``: post the full lead to ``/v1/leads`` with
    that ``ping_id`` to be held to the price."""
    if caller.principal.source_id is None:
        raise Forbidden("pings are sent with a source API key")
    payload = await read_json(request)
    source_id = caller.principal.source_id

    def run() -> dict[str, Any]:
        with app.reader() as uow:
            return preping.quote(uow, source_id, payload, app.clock(),
                                 app.settings.secret_key)

    return await run_in_threadpool(run)


@router.get("/v1/sales", summary="Sales, newest first (a buyer sees its own)")
def list_sales(uow: ReaderDep, user: UserDep, buyer: str | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    return {"items": returns.list_sales(uow, user, buyer=buyer, limit=limit)}


@router.post("/v1/sales/{sale_id}/return", status_code=201, summary="Return a sale")
def return_sale(sale_id: int, uow: UowDep, user: UserDep, app: AppDep,
                reason: Annotated[str, Body(embed=True, max_length=200)],
                note: Annotated[str | None, Body(embed=True, max_length=2000)] = None,
                ) -> dict[str, Any]:
    """A buyer returns one of its purchases within the return window; the rules
    approve it (crediting the buyer, charging the supplier back), refuse it or send it
    to a manager (``needs_review``)."""
    return returns.request_return(uow, user, sale_id, reason, app.clock(), note=note)


@router.get("/v1/returns", summary="Returns, newest first (a buyer sees its own)")
def list_returns(uow: ReaderDep, user: UserDep, status: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    return {"items": returns.list_returns(uow, user, status=status, limit=limit)}


@router.post("/v1/returns/{return_id}/{verdict}", summary="Approve or refuse a return")
def review_return(return_id: int, verdict: str, uow: UowDep, user: UserDep, app: AppDep,
                  note: Annotated[str | None, Body(embed=True, max_length=2000)] = None,
                  ) -> dict[str, Any]:
    """A manager decides a return the rules sent to review (``approve`` or ``refuse``)."""
    if verdict not in ("approve", "refuse"):
        raise NotFound(f"no action {verdict!r}; use approve or refuse")
    return returns.review(uow, user, return_id, verdict == "approve", app.clock(), note=note)


@router.get("/v1/buyers", summary="Buyers with caps, budget used and acceptance rate")
def list_buyers(uow: ReaderDep, user: UserDep, app: AppDep) -> dict[str, Any]:
    user.require_manager()
    return {"items": board.buyers(uow, app.clock())}


@router.get("/v1/market/money", summary="Revenue, supplier cost, credits, margin, rates")
def money(uow: ReaderDep, user: UserDep) -> dict[str, Any]:
    user.require_manager()
    return returns.totals(uow)


@router.get("/v1/leads/{lead_id}/market", summary="A lead's sales, money and sale trace")
def lead_market(lead_id: int, uow: ReaderDep, user: UserDep) -> dict[str, Any]:
    user.require_manager()
    got = board.lead_market(uow, lead_id)
    if got is None:
        raise NotFound(f"lead {lead_id} was never on the market")
    return got
