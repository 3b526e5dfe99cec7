"""The page behind the accept link of a notification email (no login: the signed
token is the credential, for one offer and one rep, until the offer's deadline).

``GET`` only shows the offer and an Accept button (mail scanners prefetch links:
a GET must change nothing); the button's ``POST`` accepts through the same
service as ``POST /v1/offers/{id}/accept``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from leadgate.domain.errors import LeadgateError
from leadgate.services import offer_links
from leadgate.web.auth import CoreDep, ReaderDep, WriterDep, check_csrf
from leadgate.web.render import ConsoleRoute, render

router = APIRouter(route_class=ConsoleRoute, dependencies=[Depends(check_csrf)],
                   include_in_schema=False)
TEMPLATE = "offer_link.html"
MAX_TOKEN = 1000
#: the page must not be cached or handed to other sites (the token is in its URL)
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@router.get(offer_links.PATH)
def confirm_page(request: Request, uow: ReaderDep, core: CoreDep,
                 t: str = "") -> Response:
    try:
        info = offer_links.describe(uow, core.settings.secret_key, t[:MAX_TOKEN], core.clock())
    except LeadgateError as exc:
        return render(request, TEMPLATE, {"error": offer_links.refusal(exc)},
                      status_code=400, headers=HEADERS)
    return render(request, TEMPLATE, {**info, "token": t}, headers=HEADERS)


@router.post(offer_links.PATH)
def accept(request: Request, uow: WriterDep, core: CoreDep,
           t: Annotated[str, Form(max_length=MAX_TOKEN)] = "") -> Response:
    try:
        offer = offer_links.accept(uow, core.settings.secret_key, t, core.clock())
    except LeadgateError as exc:
        status = 409 if exc.status == 409 else 400
        return render(request, TEMPLATE, {"error": offer_links.refusal(exc)},
                      status_code=status, headers=HEADERS)
    core.wakeup.notify()
    return render(request, TEMPLATE, {"accepted": True, "lead_id": offer.lead_id},
                  headers=HEADERS)
