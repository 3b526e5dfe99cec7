"""Accept links in notification emails: a signed, expiring token for one offer and one rep.

The token is ``itsdangerous``'s URL-safe serializer (HMAC-SHA1 keyed by a key
derived from the app's secret key and a salt used for nothing else) over
``{"o": offer id, "a": agent id, "x": expiry}``; the expiry is the offer's
deadline. Opening the link shows a confirmation page (GET never accepts: mail
scanners prefetch links); its form POSTs the token back and the offer is accepted
through :func:`leadgate.services.offers.accept`, exactly as ``POST
/v1/offers/{id}/accept`` does, acting as the rep the token was made for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from leadgate.domain.errors import Conflict, LeadgateError
from leadgate.services.principal import Principal
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

PATH = "/console/offer-link"
SALT = "leadgate.offer-accept-link"


class BadLink(LeadgateError):
    """The link is forged, damaged or expired (``code`` says which)."""

    status = 400
    code = "bad_link"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def make(secret_key: str, offer_id: int, agent_id: int, expires: datetime) -> str:
    return str(_serializer(secret_key).dumps(
        {"o": offer_id, "a": agent_id, "x": int(expires.timestamp())}))


def read(secret_key: str, token: str, now: datetime) -> tuple[int, int]:
    """(offer id, agent id) of a valid token; :class:`BadLink` otherwise."""
    try:
        data: Any = _serializer(secret_key).loads(token)
        offer_id, agent_id, expires = int(data["o"]), int(data["a"]), int(data["x"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise BadLink("this link is not valid: it was changed or is incomplete. Open the "
                      "offer from the console instead.", code="link_invalid") from None
    if now.timestamp() >= expires:
        at = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise BadLink(f"this link expired with the offer at {at}.", code="offer_expired")
    return offer_id, agent_id


def _principal(uow: UnitOfWork, agent: m.Agent) -> Principal:
    """The rep the link was made for (their linked user's login as the actor)."""
    user = uow.session.scalar(select(m.User).where(m.User.agent_id == agent.id)
                              .order_by(m.User.id).limit(1))
    return Principal(kind="user", name=f"{user.email if user else agent.key} (email link)",
                     role="agent", user_id=user.id if user else None, agent_id=agent.id)


def describe(uow: UnitOfWork, secret_key: str, token: str, now: datetime) -> dict[str, Any]:
    """What the confirmation page shows (no change): the offer, its lead's summary, and
    whether it can still be accepted."""
    from leadgate.services.offers import offer_dict

    offer_id, agent_id = read(secret_key, token, now)
    offer = uow.session.get(m.Offer, offer_id)
    if offer is None or offer.agent_id != agent_id:
        raise BadLink("this link is not valid.", code="link_invalid")
    lead = uow.session.get(m.Lead, offer.lead_id)
    assert lead is not None
    state = "open"
    if offer.status == "accepted":
        state = "accepted"
    elif offer.status == "lost":
        state = "taken"
    elif offer.status != "offered":
        state = offer.status
    elif offer.deadline <= now:
        state = "expired"
    return {"offer": offer_dict(offer), "state": state,
            "lead": {"id": lead.id, "campaign": lead.campaign.key,
                     "score": lead.score, "grade": lead.grade},
            "agent": {"key": offer.agent.key, "name": offer.agent.name}}


def accept(uow: UnitOfWork, secret_key: str, token: str, now: datetime) -> m.Offer:
    """Accept the offer of a valid token (commits). Refusals are :class:`Conflict`
    (``already_claimed``, ``offer_closed``, ``offer_expired``) or :class:`BadLink`."""
    from leadgate.services import offers

    offer_id, agent_id = read(secret_key, token, now)
    agent = uow.session.get(m.Agent, agent_id)
    if agent is None:
        raise BadLink("this link is not valid.", code="link_invalid")
    offer = offers.accept(uow, _principal(uow, agent), offer_id, now)
    uow.commit()
    return offer


def refusal(exc: Exception) -> str:
    """A plain sentence for a refused acceptance."""
    if isinstance(exc, Conflict):
        return {"already_claimed": "Too late: this lead was already taken by someone else.",
                "offer_expired": "Too late: the offer expired.",
                }.get(exc.code, f"This offer can no longer be accepted ({exc.message}).")
    if isinstance(exc, LeadgateError):
        return exc.message
    return str(exc)
