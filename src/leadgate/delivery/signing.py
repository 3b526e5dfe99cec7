"""Standard Webhooks signatures (https://www.standardwebhooks.com), via the
reference ``standardwebhooks`` library.

Headers: ``webhook-id`` (the delivery's idempotency id), ``webhook-timestamp``
(Unix seconds) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">``. Secrets are ``whsec_`` + base64.

Rotation: a destination lists several secrets, newest first. Every listed
secret signs, newest first, space-separated in one header, so a receiver that
still holds the old secret and one that already has the new one both verify.
Add the new secret at the head of the list, let receivers switch, then drop
the old one.
"""

from __future__ import annotations

import base64
import secrets as _secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

from leadgate.domain.errors import InvalidConfig

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh 256-bit signing secret in the Standard Webhooks format."""
    return PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode()


def check_secret(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.startswith(PREFIX):
        raise InvalidConfig("a signing secret is 'whsec_' followed by base64", path=path)
    try:
        raw = base64.b64decode(value[len(PREFIX):], validate=True)
    except ValueError:
        raise InvalidConfig("a signing secret is 'whsec_' followed by base64",
                            path=path) from None
    if len(raw) < 16:
        raise InvalidConfig("a signing secret needs at least 16 bytes", path=path)
    return value


def sign_headers(secrets: Sequence[str], msg_id: str, at: datetime,
                 body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed by every secret."""
    sigs = [Webhook(s).sign(msg_id, at, body) for s in secrets]
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": " ".join(sigs)}
