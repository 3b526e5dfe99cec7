"""Do-not-contact lists: phones, emails and whole domains.

Entries are stored as normalised keys (``phone:+919812345678``,
``email:a@b.com``, ``domain:b.com``) — the same keys the gatekeeper computes
for every lead, so a lookup is one indexed ``IN`` query.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select

from leadgate.domain.errors import InvalidInput
from leadgate.services.principal import Principal
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

KINDS = ("phone", "email", "domain")


def normalise_entry(value: str, kind: str | None = None, default_region: str | None = None
                    ) -> str:
    """``"+91 98123 45678"`` -> ``"phone:+919812345678"``; guesses the kind if not given."""
    raw = value.strip()
    if kind is None:
        if ":" in raw and raw.split(":", 1)[0] in KINDS:
            kind, raw = raw.split(":", 1)
        elif "@" in raw:
            kind = "email"
        elif any(c.isalpha() for c in raw) and "." in raw:
            kind = "domain"
        else:
            kind = "phone"
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", code="invalid_value")
    if kind == "phone":
        try:
            num = phonenumbers.parse(raw, default_region)
        except phonenumbers.NumberParseException:
            num = None
        if num is None or not phonenumbers.is_possible_number(num):
            raise InvalidInput(f"{value!r} is not a phone number (use +country code)",
                               code="invalid_phone")
        return "phone:" + phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    if kind == "email":
        try:
            email = validate_email(raw, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise InvalidInput(f"{value!r} is not an email address: {exc}",
                               code="invalid_email") from None
        return "email:" + email.lower()
    domain = raw.lower().lstrip("@").strip(".")
    if "." not in domain or " " in domain:
        raise InvalidInput(f"{value!r} is not a domain", code="invalid_value")
    return "domain:" + domain


def add(uow: UnitOfWork, principal: Principal, values: Iterable[str], now: datetime, *,
        kind: str | None = None, reason: str | None = None,
        default_region: str | None = None) -> dict[str, Any]:
    """Add entries (skipping those already listed); all or nothing on bad input."""
    principal.require_manager()
    keys = []
    errors = []
    for i, v in enumerate(values):
        if not str(v).strip():
            continue
        try:
            keys.append(normalise_entry(str(v), kind, default_region))
        except InvalidInput as exc:
            errors.append(f"entry {i + 1}: {exc.message}")
    if errors:
        raise InvalidInput("; ".join(errors[:20]), code="invalid_suppression")
    existing = set(uow.session.scalars(select(m.Suppression.key).where(
        m.Suppression.key.in_(keys)))) if keys else set()
    added = 0
    for key in dict.fromkeys(keys):
        if key not in existing:
            uow.session.add(m.Suppression(key=key, reason=reason, created_at=now))
            added += 1
    uow.commit()
    return {"added": added, "already_listed": len(set(keys)) - added}


def remove(uow: UnitOfWork, principal: Principal, value: str) -> bool:
    principal.require_manager()
    key = normalise_entry(value)
    gone = uow.session.execute(delete(m.Suppression).where(m.Suppression.key == key)).rowcount
    uow.commit()
    return bool(gone)


def list_entries(uow: UnitOfWork, principal: Principal, *, limit: int = 100,
                 offset: int = 0) -> dict[str, Any]:
    principal.require_manager()
    total = uow.session.scalar(select(func.count()).select_from(m.Suppression)) or 0
    rows = uow.session.scalars(select(m.Suppression).order_by(m.Suppression.id.desc())
                               .limit(limit).offset(offset))
    return {"items": [{"kind": r.key.split(":", 1)[0], "value": r.key.split(":", 1)[1],
                       "reason": r.reason, "created_at": r.created_at.isoformat()}
                      for r in rows], "total": total}
