"""Salesforce: create a Lead through the REST API.

Request: ``POST {instance_url}/services/data/{version}/sobjects/Lead/`` with an
OAuth access token (``Authorization: Bearer``) and the Lead's fields as JSON.
Answers, as Salesforce documents them: ``201 {"id": "00Q...", "success": true,
"errors": []}`` -> accepted; errors are a JSON array of ``{message, errorCode,
fields}``: ``DUPLICATES_DETECTED`` -> duplicate; ``REQUIRED_FIELD_MISSING``,
``INVALID_FIELD``, ``FIELD_CUSTOM_VALIDATION_EXCEPTION``, ``STRING_TOO_LONG``,
``INVALID_EMAIL_ADDRESS`` and other 400s -> rejected; ``401 INVALID_SESSION_ID``
-> permanent error; ``REQUEST_LIMIT_EXCEEDED``, ``UNABLE_TO_LOCK_ROW``,
``SERVER_UNAVAILABLE`` and 5xx -> retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from leadgate.delivery.base import Exchange, Kind, Outcome, SendContext, register, text
from leadgate.delivery.http import exchange
from leadgate.delivery.render import check_mapping, map_fields
from leadgate.delivery.responses import default_outcome, parse_json
from leadgate.domain.errors import InvalidConfig

RETRY_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})


def classify(status: int, body: str) -> Outcome:
    doc = parse_json(body)
    if status in (200, 201) and isinstance(doc, dict) and doc.get("success", True):
        return Outcome("accepted", "lead created", False,
                       str(doc["id"]) if doc.get("id") else None)
    errors = [e for e in (doc if isinstance(doc, list) else []) if isinstance(e, dict)]
    codes = [str(e.get("errorCode") or e.get("statusCode") or "") for e in errors]
    text_ = "; ".join(f"{c}: {e.get('message', '')}" + (
        f" ({', '.join(e['fields'])})" if e.get("fields") else "")
        for c, e in zip(codes, errors, strict=True))
    if "DUPLICATES_DETECTED" in codes:
        return Outcome("duplicate", text_)
    if any(c in RETRY_CODES for c in codes):
        return Outcome("error", text_, retryable=True)
    if status == 401 or "INVALID_SESSION_ID" in codes:
        return Outcome("error", text_ or "HTTP 401", retryable=False)
    if 400 <= status < 500 and errors:
        return Outcome("rejected", text_)
    return default_outcome(status, body)


@register
class Salesforce(Kind):
    name = "salesforce"
    description = "Salesforce: create a Lead (REST sobjects/Lead)"

    def parse(self, data: Mapping[str, Any], path: str) -> dict[str, Any]:
        for k in data:
            if k not in ("instance_url", "token", "api_version", "fields"):
                raise InvalidConfig(f"unknown key {k!r}; salesforce has instance_url, token, "
                                    "api_version, fields", path=f"{path}.{k}")
        url = text(data, "instance_url", path) or ""
        return {"instance_url": url.rstrip("/"), "token": text(data, "token", path),
                "api_version": str(data.get("api_version", "v60.0")),
                "fields": check_mapping(data.get("fields") or {
                    "FirstName": "first_name", "LastName": "last_name", "Email": "email",
                    "Phone": "phone", "Company": {"value": "[not provided]"}},
                    f"{path}.fields")}

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        return [config["token"]]

    def prepare(self, config: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        url = (f"{config['instance_url']}/services/data/{config['api_version']}"
               "/sobjects/Lead/")
        return {"method": "POST", "url": url, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(map_fields(config["fields"], lead), default=str)}

    def wire(self, config: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"auth": {"type": "bearer", "token": config["token"]}}

    def send(self, config: Mapping[str, Any], lead: Mapping[str, Any],
             ctx: SendContext) -> tuple[Outcome, Exchange]:
        status, body, seen = exchange(self.wire(config), self.prepare(config, lead), lead, ctx)
        return classify(status, body), seen
