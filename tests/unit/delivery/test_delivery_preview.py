"""Dry-run previews: the request as the worker would send it, with the headers the
sender adds (authentication, signature) present and their values hidden."""

from __future__ import annotations

from typing import Any

import leadgate.delivery  # noqa: F401  (registers the kinds)
from leadgate.delivery.base import parse_spec

LEAD: dict[str, Any] = {"first_name": "Asha", "phone": "+919812345678", "lead_id": 7,
                        "idempotency_key": "k" * 32}


def preview(spec: dict[str, Any]) -> dict[str, Any]:
    s = parse_spec(spec)
    return s.impl.preview(s.config, LEAD)


def test_http_preview_shows_auth_and_signature_headers_as_stars() -> None:
    req = preview({"key": "h", "kind": "http", "url": "https://partner.example/leads",
                   "auth": {"type": "bearer", "token": "tok_secret_123"},
                   "sign": {"secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]},
                   "fields": {"name": "first_name"}})
    assert (req["method"], req["url"]) == ("POST", "https://partner.example/leads")
    h = req["headers"]
    assert h["Authorization"] == "***" and h["webhook-signature"] == "***"
    assert h["webhook-id"] == "k" * 32 and h["Idempotency-Key"] == "k" * 32
    assert req["body"] == '{"name":"Asha"}'
    assert "tok_secret_123" not in str(req)


def test_custom_header_auth_is_hidden_too() -> None:
    req = preview({"key": "h", "kind": "http", "url": "https://p.example/",
                   "auth": {"type": "header", "name": "X-Api-Key", "value": "k-123456"}})
    assert req["headers"]["X-Api-Key"] == "***"


def test_crm_and_sms_previews_show_their_authorization_as_stars() -> None:
    hub = preview({"key": "hs", "kind": "hubspot", "token": "pat-na1-secret"})
    sms = preview({"key": "s", "kind": "sms", "account_sid": "AC123", "auth_token": "t0ken99",
                   "from": "+15005550006"})
    for req in (hub, sms):
        assert req["headers"]["Authorization"] == "***"
    assert "pat-na1-secret" not in str(hub) and "t0ken99" not in str(sms)


def test_kinds_without_http_preview_what_they_prepare() -> None:
    req = preview({"key": "db", "kind": "database", "url": "sqlite:///x.db", "table": "leads",
                   "columns": {"phone": "phone"}})
    assert req == {"table": "leads", "row": {"phone": "+919812345678"}}
