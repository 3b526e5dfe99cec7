"""Notification preferences of reps and teams, as data (pure: no I/O).

An agent's ``notify:`` mapping (setup file, ``PUT /v1/agents/{key}/notifications``)::

    notify:
      email: true                  # on, to the agent's email (or their user's login)
      # email: ana@example.com     # on, to this address;  false / left out: off
      webhook: https://chat.example/hooks/ana     # or {url: ..., secret: whsec_...}
      events: [offered, assigned]  # the default; also: claimable (shotgun offers)

A team's ``notify:`` takes ``webhook`` and ``events`` (a chat channel for the desk).

Events:

* ``offered``: a push offer with a deadline (a new lead, or the next round of a bounce);
* ``claimable``: a shotgun offer (everyone offered, the first claim wins);
* ``assigned``: the lead is given outright (routing, an escalation, a manager).

:func:`parse_prefs` validates and normalises; the stored form is
``{"email": bool, "email_to": str | None, "webhook": {"url", "secret"} | None,
"events": [...]}``. A webhook without a secret gets one from the service (it is
shown to the rep, who needs it to verify signatures).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadgate.domain.errors import InvalidConfig

EVENTS = ("offered", "claimable", "assigned")
DEFAULT_EVENTS = ("offered", "assigned")
AGENT_KEYS = ("email", "webhook", "events")
TEAM_KEYS = ("webhook", "events")
SECRET_PREFIX = "whsec_"
#: what an exported or shown-to-others secret looks like (kept on apply)
HIDDEN = "***"


def parse_prefs(data: Any, path: str = "notify", *, team: bool = False
                ) -> dict[str, Any] | None:
    """Validate a ``notify:`` mapping; None (or an empty mapping) means no notifications."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise InvalidConfig("notify must be a mapping with " +
                            ", ".join(TEAM_KEYS if team else AGENT_KEYS), path=path)
    allowed = TEAM_KEYS if team else AGENT_KEYS
    for k in data:
        if k not in allowed:
            raise InvalidConfig(f"unknown key {k!r}; expected {', '.join(allowed)}",
                                path=f"{path}.{k}")
    out: dict[str, Any] = {"email": False, "email_to": None, "webhook": None,
                           "events": list(DEFAULT_EVENTS)}
    email = data.get("email")
    if email is None or email is False:
        pass
    elif email is True:
        out["email"] = True
    elif isinstance(email, str) and email.strip():
        out["email"], out["email_to"] = True, _address(email.strip(), f"{path}.email")
    else:
        raise InvalidConfig("email is true, false or an address", path=f"{path}.email")
    out["webhook"] = _webhook(data.get("webhook"), f"{path}.webhook")
    events = data.get("events")
    if events is not None:
        if isinstance(events, str):
            events = [events]
        if not isinstance(events, list | tuple):
            raise InvalidConfig(f"events is a list of {', '.join(EVENTS)}", path=f"{path}.events")
        for i, e in enumerate(events):
            if e not in EVENTS:
                raise InvalidConfig(f"unknown event {e!r}; expected {', '.join(EVENTS)}",
                                    path=f"{path}.events[{i}]")
        out["events"] = [e for e in EVENTS if e in events]
    if team:
        out.pop("email"), out.pop("email_to")
    return out


def _address(value: str, path: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise InvalidConfig(f"not an email address: {exc}", path=path) from None


def _webhook(value: Any, path: str) -> dict[str, Any] | None:
    if value is None or value is False:
        return None
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, Mapping):
        raise InvalidConfig("webhook is a URL or {url, secret}", path=path)
    for k in value:
        if k not in ("url", "secret"):
            raise InvalidConfig(f"unknown key {k!r}; expected url, secret", path=f"{path}.{k}")
    url = value.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidConfig("url must start with http:// or https://", path=f"{path}.url")
    secret = value.get("secret")
    if secret is not None and secret != HIDDEN:
        _check_secret(secret, f"{path}.secret")
    return {"url": url, "secret": secret}


def _check_secret(value: Any, path: str) -> None:
    """A Standard Webhooks secret: ``whsec_`` + base64 of at least 16 bytes."""
    import base64
    import binascii

    ok = isinstance(value, str) and value.startswith(SECRET_PREFIX)
    if ok:
        try:
            ok = len(base64.b64decode(value[len(SECRET_PREFIX):], validate=True)) >= 16
        except (binascii.Error, ValueError):
            ok = False
    if not ok:
        raise InvalidConfig("a signing secret is 'whsec_' followed by base64 of at least "
                            "16 bytes", path=path)


def wants(prefs: Mapping[str, Any] | None, event: str) -> bool:
    """True when ``prefs`` ask for ``event`` on at least one channel."""
    if not prefs or event not in (prefs.get("events") or ()):
        return False
    return bool(prefs.get("email") or prefs.get("webhook"))


def channels(prefs: Mapping[str, Any] | None, event: str) -> tuple[str, ...]:
    """The channels (``email``, ``webhook``) ``prefs`` use for ``event``."""
    if not wants(prefs, event):
        return ()
    assert prefs is not None
    return tuple(c for c in ("email", "webhook") if prefs.get(c))


def public(prefs: Mapping[str, Any] | None, *, show_secret: bool = False
           ) -> dict[str, Any] | None:
    """Preferences as shown or exported (the webhook secret as ``***`` unless asked)."""
    if prefs is None:
        return None
    out = {k: v for k, v in prefs.items() if k != "email_to"}
    if "email" in prefs:
        out["email"] = prefs.get("email_to") or bool(prefs.get("email"))
    hook = prefs.get("webhook")
    if hook:
        out["webhook"] = {"url": hook["url"],
                          "secret": hook.get("secret") if show_secret else HIDDEN}
    return out
