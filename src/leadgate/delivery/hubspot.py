"""HubSpot: create a contact through the CRM v3 objects API.

Request: ``POST {base_url}/crm/v3/objects/contacts`` with a private-app token
(``Authorization: Bearer``) and ``{"properties": {...}}``. Answers, as HubSpot
documents them: ``201 {"id": ..., "properties": ...}`` -> accepted with the
contact id; ``409`` category ``CONFLICT`` / ``OBJECT_ALREADY_EXISTS``, message
"Contact already exists. Existing ID: 123" -> duplicate (external id 123);
``400 VALIDATION_ERROR`` -> rejected with HubSpot's message; ``401
INVALID_AUTHENTICATION`` and ``403`` -> permanent error (a person must fix the
token); ``429 RATE_LIMITS`` and 5xx -> retried.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from leadgate.delivery.base import Exchange, Kind, Outcome, SendContext, register, text
from leadgate.delivery.http import exchange
from leadgate.delivery.render import check_mapping, map_fields
from leadgate.delivery.responses import default_outcome, parse_json
from leadgate.domain.errors import InvalidConfig

PATH = "/crm/v3/objects/contacts"
_EXISTING = re.compile(r"Existing ID:\s*(\d+)")


def classify(status: int, body: str) -> Outcome:
    doc = parse_json(body)
    doc = doc if isinstance(doc, dict) else {}
    message = str(doc.get("message") or "")
    category = str(doc.get("category") or "")
    if status in (200, 201):
        return Outcome("accepted", "contact created", False,
                       str(doc["id"]) if doc.get("id") is not None else None)
    if status == 409:
        m = _EXISTING.search(message)
        return Outcome("duplicate", message or "contact already exists", False,
                       m.group(1) if m else None)
    if status == 400:
        detail = "; ".join(str(e.get("message")) for e in doc.get("errors") or []
                           if isinstance(e, dict) and e.get("message"))
        return Outcome("rejected", f"{category or 'HTTP 400'}: {detail or message}".strip())
    if status in (401, 403):
        return Outcome("error", f"{category or status}: {message}", retryable=False)
    out = default_outcome(status, body)
    return Outcome(out.status, f"{category}: {message}" if category else out.reason,
                   out.retryable)


@register
class HubSpot(Kind):
    name = "hubspot"
    description = "HubSpot CRM: create a contact (crm/v3/objects/contacts)"

    def parse(self, data: Mapping[str, Any], path: str) -> dict[str, Any]:
        for k in data:
            if k not in ("base_url", "token", "properties"):
                raise InvalidConfig(f"unknown key {k!r}; hubspot has base_url, token, "
                                    "properties", path=f"{path}.{k}")
        base = text(data, "base_url", path, required=False,
                    default="https://api.hubapi.com") or ""
        return {"base_url": base.rstrip("/"), "token": text(data, "token", path),
                "properties": check_mapping(data.get("properties") or {
                    "email": "email", "firstname": "first_name", "lastname": "last_name",
                    "phone": "phone"}, f"{path}.properties")}

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        return [config["token"]]

    def prepare(self, config: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps({"properties": map_fields(config["properties"], lead)}, default=str)
        return {"method": "POST", "url": config["base_url"] + PATH,
                "headers": {"Content-Type": "application/json"}, "body": body}

    def wire(self, config: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"auth": {"type": "bearer", "token": config["token"]}}

    def send(self, config: Mapping[str, Any], lead: Mapping[str, Any],
             ctx: SendContext) -> tuple[Outcome, Exchange]:
        status, body, seen = exchange(self.wire(config), self.prepare(config, lead), lead, ctx)
        return classify(status, body), seen
