"""Multi-step HTML forms: a signed token lets the next step of a form update the lead
its first step created.

After a form post is accepted, the browser is redirected to the source's thank-you
URL with ``lead=<id>&step=<token>``. A second-step form on that page posts to the same
``/f/{form_key}`` with the token in a hidden ``_step`` field; its fields are merged
into the lead exactly as ``PATCH /v1/leads/{id}`` does (re-qualified, and held
deliveries whose condition now holds are released).

The token is ``itsdangerous``'s URL-safe serializer (HMAC keyed by the app's secret
key and a salt used for nothing else) over the lead id, the form key and an expiry
(:data:`MAX_AGE` after the first step, by the app's clock), so it cannot be moved to
another lead or form, nor used later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from leadgate.domain.errors import LeadgateError

SALT = "leadgate.form-step"
#: how long the next step of a form may update the lead (seconds)
MAX_AGE = 24 * 3600


class BadStep(LeadgateError):
    """The step token is forged, for another form, or expired."""

    status = 422
    code = "invalid_step"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def make(secret_key: str, form_key: str, lead_id: int, now: datetime) -> str:
    return str(_serializer(secret_key).dumps(
        {"l": lead_id, "f": form_key, "x": int(now.timestamp()) + MAX_AGE}))


def read(secret_key: str, form_key: str, token: str, now: datetime) -> int:
    """The lead id of a valid token for this form; :class:`BadStep` otherwise."""
    try:
        data: Any = _serializer(secret_key).loads(token)
        lead_id, form, expires = int(data["l"]), str(data["f"]), int(data["x"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise BadStep("this form step is not valid", code="invalid_step") from None
    if form != form_key:
        raise BadStep("this form step belongs to another form", code="invalid_step")
    if now.timestamp() >= expires:
        raise BadStep("this form step expired; please fill in the form again",
                      code="step_expired")
    return lead_id
