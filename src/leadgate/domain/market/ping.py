"""Supplier pre-ping ids: a signed, expiring quote for a partial lead.

A supplier pings with partial data; the service answers with a price and a ping id made
by :func:`sign_ping`. When the supplier posts the full lead with that id,
:func:`verify_ping` gives the quote back (campaign, price, hash of the partial lead), or
refuses the id with a stable code:

* ``ping_invalid`` - not a ping id, or its signature does not match (forged, altered,
  or signed with another secret);
* ``ping_expired`` - a genuine id whose time to live has passed (checked only once the
  signature is good, so a forger cannot learn anything from it);
* ``ping_lead_mismatch`` - a genuine id, but the posted lead's quoted fields differ from
  the ones that were priced.

The id is ``base64url(JSON payload) "." base64url(HMAC-SHA256(secret, payload))``, made
with the standard library's ``hmac`` and ``hashlib`` (not ``itsdangerous``, whose
timestamp signer reads the clock itself; here ``now`` is passed in, so this stays pure).
The payload is readable by the supplier (it is its own quote) but cannot be changed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from leadgate.domain.comparisons import jsonable
from leadgate.domain.errors import InvalidInput
from leadgate.domain.market.amounts import show

__all__ = ["PING_ERRORS", "PingRefused", "Quote", "VerifiedPing", "lead_hash", "sign_ping",
           "verify_ping"]

PING_ERRORS: dict[str, str] = {
    "ping_invalid": "not a ping id, or its signature does not match",
    "ping_expired": "the ping id's time to live has passed",
    "ping_lead_mismatch": "the posted lead differs from the partial lead that was priced",
}
_VERSION = 1


class PingRefused(InvalidInput):
    """A ping id was refused; ``code`` is one of :data:`PING_ERRORS`."""

    code = "ping_invalid"


def lead_hash(lead: Mapping[str, Any], fields: Sequence[str]) -> str:
    """SHA-256 (hex) of the given fields of a lead, in a canonical JSON form (sorted keys,
    missing fields as null), so the same values always hash the same."""
    picked = {f: jsonable(lead.get(f)) for f in sorted(set(fields))}
    text = json.dumps(picked, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Quote:
    """What a ping id carries: the campaign, the quoted price, the fields that were priced
    and the hash of their values."""

    campaign: str
    price: Decimal
    fields: tuple[str, ...]
    lead_hash: str

    @classmethod
    def for_lead(cls, campaign: str, price: Decimal, partial: Mapping[str, Any]) -> Quote:
        """A quote for a partial lead: every field it has is priced and hashed."""
        fields = tuple(sorted(partial))
        return cls(campaign, price, fields, lead_hash(partial, fields))


@dataclass(frozen=True)
class VerifiedPing:
    """A ping id that verified: its quote and when it was issued and expires."""

    quote: Quote
    issued_at: datetime
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("the ping secret must not be empty")
    return key


def _sign(payload: str, key: bytes) -> str:
    return _b64(hmac.new(key, b"leadgate-ping." + payload.encode(), hashlib.sha256).digest())


def sign_ping(quote: Quote, secret: str | bytes, now: datetime, ttl: timedelta) -> str:
    """The ping id for ``quote``, valid from ``now`` for ``ttl`` (> 0)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    issued = int(now.timestamp() * 1000)
    body = {"v": _VERSION, "c": quote.campaign, "p": show(quote.price),
            "f": list(quote.fields), "h": quote.lead_hash, "iat": issued,
            "exp": issued + int(ttl.total_seconds() * 1000)}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_sign(payload, _key(secret))}"


def verify_ping(token: str, secret: str | bytes, now: datetime, *,
                lead: Mapping[str, Any] | None = None) -> VerifiedPing:
    """The quote inside ``token`` if it is genuine and not expired at ``now``; with
    ``lead``, also check that the posted lead's quoted fields hash as priced. Raises
    :class:`PingRefused` with the code (see the module docstring)."""
    key = _key(secret)
    if not isinstance(token, str) or token.count(".") != 1:
        raise PingRefused("not a ping id", code="ping_invalid")
    payload, sig = token.split(".")
    if not hmac.compare_digest(sig.encode(), _sign(payload, key).encode()):
        raise PingRefused("the ping id's signature does not match", code="ping_invalid")
    try:
        body = json.loads(_unb64(payload))
        quote = Quote(str(body["c"]), Decimal(body["p"]), tuple(body["f"]), str(body["h"]))
        issued, expires = int(body["iat"]), int(body["exp"])
        ok = body["v"] == _VERSION
    except (ValueError, KeyError, TypeError, InvalidOperation):
        ok = False
    if not ok:  # a good signature over an unreadable payload: another version's id
        raise PingRefused("the ping id cannot be read", code="ping_invalid")
    now_ms = now.timestamp() * 1000
    if now_ms >= expires:
        raise PingRefused("the ping id has expired", code="ping_expired")
    if lead is not None and lead_hash(lead, quote.fields) != quote.lead_hash:
        raise PingRefused("the lead differs from the one quoted", code="ping_lead_mismatch")
    return VerifiedPing(quote, datetime.fromtimestamp(issued / 1000, UTC),
                        datetime.fromtimestamp(expires / 1000, UTC))
