"""Console pages: login and logout, the thank-you page, leads and one lead."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from leadgate.api.params import DbId
from leadgate.domain.errors import AuthError, InvalidInput, TooManyRequests
from leadgate.services import accounts, agents, configure, deliveries, leads, outcomes, review
from leadgate.services.login import LoginCandidate
from leadgate.services.market import board
from leadgate.web.auth import (
    ConsoleUser,
    CoreDep,
    ManagerDep,
    ReaderDep,
    StaffDep,
    UserDep,
    WriterDep,
    check_csrf,
    optional_user,
    rotate_session,
    safe_next,
    session_id,
)
from leadgate.web.render import ConsoleRoute, is_htmx, render

router = APIRouter(prefix="/console", route_class=ConsoleRoute,
                   dependencies=[Depends(check_csrf)], include_in_schema=False)

PAGE_SIZE = 25
MAX_PAGE = 10_000


@router.get("")
@router.get("/")
def index() -> Response:
    """The console's front door: the leads list."""
    return RedirectResponse("/console/leads", status_code=303)


@router.get("/login")
def login_form(request: Request,
               user: Annotated[ConsoleUser | None, Depends(optional_user)],
               next: str | None = None) -> Response:
    """The login form (a logged-in user goes straight on)."""
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "email": ""})


@router.post("/login")
async def login(request: Request, core: CoreDep,
                email: Annotated[str, Form(max_length=320)] = "",
                password: Annotated[str, Form(max_length=1000)] = "",
                next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Check email and password (throttled, see ``services/login.py``); on
    success start a fresh server-side session."""
    address = request.client.host if request.client else "unknown"

    async def lookup(account: str) -> LoginCandidate | None:
        def find() -> LoginCandidate | None:
            with core.reader() as uow:
                return accounts.find_login(uow, account)
        return await run_in_threadpool(find)

    ctx = {"next": safe_next(next), "email": email}
    try:
        user_id = await core.login_guard.attempt(email, password, address, lookup)
    except TooManyRequests as exc:
        minutes = -(-exc.retry_after // 60)
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}" if exc.retry_after > 60 \
            else f"{exc.retry_after} second{'s' if exc.retry_after != 1 else ''}"
        return render(request, "login.html",
                      {**ctx, "error": f"Too many login attempts. Try again in {wait}."},
                      status_code=429, headers={"Retry-After": str(exc.retry_after)})
    except AuthError:
        return render(request, "login.html", {**ctx, "error": "Wrong email or password."},
                      status_code=200)

    def start() -> str:
        with core.uow() as uow:
            return accounts.start_session(uow, user_id, core.clock(),
                                          timedelta(hours=core.settings.session_hours))
    rotate_session(request, await run_in_threadpool(start))
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, uow: WriterDep) -> Response:
    """End the session: its row is deleted, so a copy of the cookie stops working."""
    sid = session_id(request)
    if sid is not None:
        accounts.end_session(uow, sid)
    rotate_session(request, None)
    return RedirectResponse("/console/login", status_code=303)


@router.get("/thanks")
def thanks(request: Request, lead: str | None = None, error: str | None = None,
           reason: str | None = None) -> Response:
    """Public thank-you page: the target of the demo form's redirect."""
    ref = lead if lead and lead.isdigit() and len(lead) < 20 else None
    why = reason if reason and reason.isidentifier() and len(reason) < 64 else None
    return render(request, "thanks.html", {"lead": ref, "error": error, "reason": why})


def _lead_filter(status: str | None, assignee: str | None, campaign: str | None,
                 page: int) -> leads.LeadFilter:
    return leads.LeadFilter(status=status or None, assignee=assignee or None,
                            campaign=campaign or None, limit=PAGE_SIZE,
                            offset=(page - 1) * PAGE_SIZE)


def _table_context(uow: Any, user: ConsoleUser, status: str | None, assignee: str | None,
                   campaign: str | None, page: int) -> dict[str, Any]:
    result = leads.list_leads(uow, user.principal, _lead_filter(status, assignee, campaign, page))
    params = {k: v for k, v in (("status", status), ("assignee", assignee),
                                ("campaign", campaign)) if v}
    pages = max(1, -(-result["total"] // PAGE_SIZE))
    return {"result": result, "page": page, "pages": pages, "params": params,
            "query": urlencode({**params, "page": page}),
            "prev_query": urlencode({**params, "page": page - 1}) if page > 1 else None,
            "next_query": urlencode({**params, "page": page + 1}) if page < pages else None}


StatusQ = Annotated[str | None, Query(max_length=32)]
KeyQ = Annotated[str | None, Query(max_length=64)]
PageQ = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/leads")
def leads_page(request: Request, uow: ReaderDep, user: UserDep, status: StatusQ = None,
               assignee: KeyQ = None, campaign: KeyQ = None, page: PageQ = 1) -> Response:
    """The leads list with filters, pagination and a table that refreshes itself (the
    console's front door: a buyer's user is sent to its purchases instead)."""
    if user.role == "buyer":
        return RedirectResponse("/console/purchases", status_code=303)
    ctx = _table_context(uow, user, status, assignee, campaign, page)
    if is_htmx(request):
        return render(request, "_lead_table.html", ctx, user=user)
    setup = configure.export(uow) if user.is_manager else {}
    ctx.update(statuses=leads.STATUSES,
               agents=agents.list_agents(uow) if user.is_manager else [],
               campaigns=setup.get("campaigns", []),
               status=status or "", assignee=assignee or "", campaign=campaign or "")
    return render(request, "leads.html", ctx, user=user)


@router.get("/leads/table")
def leads_table(request: Request, uow: ReaderDep, user: StaffDep, status: StatusQ = None,
                assignee: KeyQ = None, campaign: KeyQ = None, page: PageQ = 1) -> Response:
    """The table alone (polled every few seconds by HTMX)."""
    ctx = _table_context(uow, user, status, assignee, campaign, page)
    return render(request, "_lead_table.html", ctx, user=user)


@router.get("/events")
async def console_events(user: StaffDep, core: CoreDep) -> Response:
    """The console's live notices (server-sent events; the session cookie
    authenticates): the lead list refreshes itself when one arrives."""
    from leadgate.api.routes.events import sse_response

    return sse_response(core.notices, user.principal.agent_id, everything=user.is_manager)


@router.get("/leads/{lead_id}")
def lead_page(request: Request, lead_id: DbId, uow: ReaderDep, user: StaffDep) -> Response:
    """One lead: values, checks, enrichment, consent, decision, timeline, assignments."""
    detail = leads.lead_detail(uow, user.principal, lead_id)
    values = detail.get("values") or {}
    raw = detail.get("raw") or {}
    fields = [k for k in values if k in raw] + [k for k in values if k not in raw] + \
        [k for k in raw if k not in values]
    decision = detail.get("decision") or None
    trace = (decision or {}).get("trace") if isinstance(decision, dict) else None
    summary = ""
    if isinstance(decision, dict):
        summary = str(decision.get("summary") or (trace or {}).get("summary") or "")
    sent = deliveries.list_deliveries(uow, lead_id=lead_id, limit=500) \
        if user.is_manager else None  # deliveries are a manager's business, as in the API
    return render(request, "lead.html",
                  {"lead": detail, "deliveries": sent, "fields": fields, "values": values,
                   "raw": raw,
                   "decision": decision, "trace": trace if isinstance(trace, dict) else None,
                   "summary": summary, "outcomes": outcomes.OUTCOMES,
                   "market": board.lead_market(uow, lead_id) if user.is_manager else None},
                  user=user)


@router.post("/leads/{lead_id}/approve")
def approve_lead(lead_id: DbId, uow: WriterDep, core: CoreDep, user: ManagerDep) -> Response:
    """Approve a quarantined lead: it is routed now."""
    review.approve(uow, user.principal, lead_id, core.clock())
    core.wakeup.notify()
    return RedirectResponse(f"/console/leads/{lead_id}", status_code=303)


@router.post("/leads/{lead_id}/refuse")
def refuse_lead(lead_id: DbId, uow: WriterDep, core: CoreDep, user: ManagerDep,
                note: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Refuse a quarantined lead, with an optional note for the record."""
    review.refuse(uow, user.principal, lead_id, core.clock(), note.strip() or None)
    return RedirectResponse(f"/console/leads/{lead_id}", status_code=303)


@router.post("/leads/{lead_id}/outcome")
def record_outcome(lead_id: DbId, uow: WriterDep, core: CoreDep, user: StaffDep,
                   outcome: Annotated[str, Form(max_length=32)],
                   revenue: Annotated[str, Form(max_length=32)] = "",
                   reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Record what happened with a lead (the rep on their own lead, or a manager)."""
    amount: float | None = None
    if revenue.strip():
        try:
            amount = float(revenue.replace(",", "").strip())
        except ValueError:
            raise InvalidInput(f"revenue {revenue!r} is not a number",
                               code="invalid_outcome") from None
    outcomes.record_outcome(uow, user.principal, lead_id, outcome, core.clock(),
                            revenue=amount, reason=reason.strip() or None)
    return RedirectResponse(f"/console/leads/{lead_id}#timeline", status_code=303)
