"""Console pages of the work loop: the rep's inbox and the manager's offers in flight.

``/console/inbox`` (a user linked to an agent): offers to accept or decline with a
live countdown, shotgun leads to claim, my open leads with outcome buttons, the
pull queues (blind: *Pull next*; selective: a preview with *Take*) and my status.
Each section is a partial that HTMX fetches again when a notice for me arrives on
``/console/events`` (console.js), or when one of my actions succeeds
(``HX-Trigger: leadgate:changed``). ``/console/offers`` (managers): offers in
flight, SLA breaches and *Reassign*.

Actions call the same services as ``/v1/offers``, ``/v1/pull`` and
``/v1/leads/{id}/claim|reassign``; ``services/inbox.py`` then tells the other
people concerned over the live notices.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from leadgate.api.params import DbId
from leadgate.domain.errors import Conflict, InvalidInput, NotFound
from leadgate.services import agents, inbox, offers, outcomes, pull, reassign
from leadgate.web.auth import (
    ConsoleUser,
    CoreDep,
    ManagerDep,
    ReaderDep,
    StaffDep,
    WriterDep,
    check_csrf,
)
from leadgate.web.render import ConsoleRoute, is_htmx, render

router = APIRouter(prefix="/console", route_class=ConsoleRoute,
                   dependencies=[Depends(check_csrf)], include_in_schema=False)

CHANGED = "leadgate:changed"
#: the message a rep sees when another rep's claim won the race
CLAIMED_BY_SOMEONE_ELSE = "Someone else claimed this lead."
SECTIONS = ("offers", "shotgun", "mine", "queues", "status")


def _section(uow: Any, user: ConsoleUser, name: str, now: Any) -> dict[str, Any]:
    p = user.principal
    if name == "offers":
        return {"offers": inbox.push_offers(uow, p, now)}
    if name == "shotgun":
        return {"shotgun": inbox.shotgun_offers(uow, p, now)}
    if name == "mine":
        return {"mine": inbox.my_open_leads(uow, p), "outcomes": outcomes.OUTCOMES}
    if name == "queues":
        return {"queues": inbox.my_queues(uow, p, now)}
    return {"me": agents.agent_view(agents.get_agent(uow, user.agent_key or "")),
            "statuses": agents.STATUSES}


@router.get("/inbox")
def inbox_page(request: Request, uow: ReaderDep, core: CoreDep, user: StaffDep) -> Response:
    """The rep's inbox (a manager without an agent sees how to get one)."""
    ctx: dict[str, Any] = {"has_agent": user.principal.agent_id is not None}
    if ctx["has_agent"]:
        now = core.clock()
        for name in SECTIONS:
            ctx.update(_section(uow, user, name, now))
    return render(request, "inbox.html", ctx, user=user)


@router.get("/inbox/{section}")
def inbox_section(request: Request, section: str, uow: ReaderDep, core: CoreDep,
                  user: StaffDep) -> Response:
    """One section of the inbox (fetched again by HTMX when something changed)."""
    if section not in SECTIONS:
        raise NotFound("There is no such section of the inbox.")
    inbox.require_agent(user.principal)
    return render(request, f"_inbox_{section}.html",
                  _section(uow, user, section, core.clock()), user=user)


def _done(request: Request, notice: str | None = None) -> Response:
    """An action succeeded: HTMX refreshes every section; a plain form goes back."""
    if is_htmx(request):
        headers = {"HX-Trigger": CHANGED}
        if notice:
            headers["X-Console-Notice"] = quote(notice)
        return Response("", media_type="text/html", headers=headers)
    return RedirectResponse("/console/inbox", status_code=303)


@router.post("/inbox/offers/{offer_id}/accept")
def accept(request: Request, offer_id: DbId, uow: WriterDep, core: CoreDep,
           user: StaffDep) -> Response:
    """Accept a push offer (a shotgun offer is claimed instead)."""
    now = core.clock()
    offer = offers.accept(uow, user.principal, offer_id, now)
    inbox.announce(uow, offer.lead_id, now, kind="accepted")
    uow.commit()
    return _done(request, f"Lead {offer.lead_id} is yours.")


@router.post("/inbox/offers/{offer_id}/decline")
def decline(request: Request, offer_id: DbId, uow: WriterDep, core: CoreDep, user: StaffDep,
            reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Decline an offer: a push offer goes at once to the next rep (or escalates)."""
    now = core.clock()
    offer = offers.decline(uow, user.principal, offer_id, now, reason=reason.strip() or None)
    inbox.announce(uow, offer.lead_id, now, kind="declined", previous=offer.agent_id)
    uow.commit()
    core.wakeup.notify()
    return _done(request, f"Lead {offer.lead_id} declined.")


@router.post("/inbox/leads/{lead_id}/claim")
def claim(request: Request, lead_id: DbId, uow: WriterDep, core: CoreDep,
          user: StaffDep) -> Response:
    """Claim a shotgun lead: the first claim wins; a later one answers 409 with
    "Someone else claimed this lead." (never an error page of ours)."""
    now = core.clock()
    try:
        offers.claim(uow, user.principal, lead_id, now)
    except Conflict as exc:
        if exc.code == "already_claimed":
            raise Conflict(CLAIMED_BY_SOMEONE_ELSE, code="already_claimed") from None
        raise
    inbox.announce(uow, lead_id, now, kind="claimed")
    uow.commit()
    return _done(request, f"Lead {lead_id} is yours.")


@router.post("/inbox/leads/{lead_id}/take")
def take(request: Request, lead_id: DbId, uow: WriterDep, core: CoreDep,
         user: StaffDep) -> Response:
    """Take one lead from a selective queue's preview."""
    now = core.clock()
    pull.claim_queued(uow, user.principal, lead_id, now)
    inbox.announce(uow, lead_id, now, kind="taken")
    uow.commit()
    return _done(request, f"Lead {lead_id} is yours.")


@router.post("/inbox/pull")
def pull_next(request: Request, uow: WriterDep, core: CoreDep, user: StaffDep,
              queue: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Blind pull: the next best lead of one queue (or of every queue I may pull from)."""
    now = core.clock()
    lead = pull.pull(uow, user.principal, now, queue=queue or None)
    if lead is None:
        return _done(request, f"Nothing is waiting in {queue or 'your queues'}.")
    inbox.announce(uow, lead.id, now, kind="pulled")
    uow.commit()
    return _done(request, f"Lead {lead.id} is yours.")


@router.post("/inbox/leads/{lead_id}/outcome")
def record_outcome(request: Request, lead_id: DbId, uow: WriterDep, core: CoreDep,
                   user: StaffDep, outcome: Annotated[str, Form(max_length=32)],
                   revenue: Annotated[str, Form(max_length=32)] = "",
                   reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Contacted, qualified, won (with revenue) or lost (with a reason)."""
    amount: float | None = None
    if outcome == "won" and revenue.strip():
        try:
            amount = float(revenue.replace(",", "").strip())
        except ValueError:
            raise InvalidInput(f"revenue {revenue!r} is not a number",
                               code="invalid_outcome") from None
    outcomes.record_outcome(uow, user.principal, lead_id, outcome, core.clock(),
                            revenue=amount,
                            reason=(reason.strip() or None) if outcome == "lost" else None)
    return _done(request, f"Lead {lead_id}: {outcome}.")


@router.post("/inbox/status")
def set_status(request: Request, uow: WriterDep, core: CoreDep, user: StaffDep,
               status: Annotated[str, Form(max_length=16)]) -> Response:
    """My own availability (available, away, offline)."""
    inbox.require_agent(user.principal)
    agents.set_status(uow, user.principal, user.agent_key or "", status, core.clock())
    if is_htmx(request):
        return render(request, "_inbox_status.html", _section(uow, user, "status", None),
                      user=user, headers={"HX-Trigger": CHANGED})
    return RedirectResponse("/console/inbox", status_code=303)


# -- managers ------------------------------------------------------------------------------

def _offers_context(uow: Any, user: ConsoleUser, now: Any) -> dict[str, Any]:
    return {"in_flight": inbox.in_flight(uow, user.principal, now),
            "breaches": inbox.breaches(uow, user.principal, now),
            "choices": inbox.reassign_choices(uow), "final": reassign.FINAL}


@router.get("/offers")
def offers_page(request: Request, uow: ReaderDep, core: CoreDep, user: ManagerDep) -> Response:
    """Offers in flight, SLA breaches, and Reassign per lead."""
    return render(request, "offers.html", _offers_context(uow, user, core.clock()), user=user)


@router.get("/offers/tables")
def offers_tables(request: Request, uow: ReaderDep, core: CoreDep,
                  user: ManagerDep) -> Response:
    """The two tables alone (fetched again when a notice arrives)."""
    return render(request, "_offers_tables.html", _offers_context(uow, user, core.clock()),
                  user=user)


@router.post("/offers/{lead_id}/reassign")
def reassign_lead(request: Request, lead_id: DbId, uow: WriterDep, core: CoreDep,
                  user: ManagerDep, to: Annotated[str, Form(max_length=300)],
                  reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    """To an agent (``agent:KEY``, assigned at once) or a queue (``queue:NAME``), with a
    reason; audited, and the old and new holder are told."""
    kind, _, value = to.partition(":")
    if kind not in ("agent", "queue") or not value:
        raise InvalidInput("choose an agent or a queue", code="invalid_body")
    now = core.clock()
    lead = offers.lock_lead(uow, lead_id)
    previous = lead.assignee_id if lead is not None else None
    reassign.reassign(uow, user.principal, lead_id, now,
                      agent=value if kind == "agent" else None,
                      queue=value if kind == "queue" else None, reason=reason.strip())
    inbox.announce(uow, lead_id, now, kind="reassigned", previous=previous)
    uow.commit()
    core.wakeup.notify()
    if is_htmx(request):
        return Response("", media_type="text/html",
                        headers={"HX-Trigger": CHANGED,
                                 "X-Console-Notice": quote(f"Lead {lead_id} reassigned.")})
    return RedirectResponse("/console/offers", status_code=303)
