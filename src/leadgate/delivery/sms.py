"""SMS through a Twilio-shaped HTTP API.

Request: ``POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json``,
form-encoded ``To``, ``From``, ``Body``, HTTP basic auth (account SID, auth
token). ``201 {"sid": "SM...", "status": "queued"}`` -> accepted (external id
the message sid); ``400 {"code": 21211, "message": ..., "status": 400}`` ->
rejected (bad number and the like); 401 -> permanent error; 429 and 5xx ->
retried. ``to`` is a lead key or template (default ``phone``); ``body`` a template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from leadgate.delivery.base import Exchange, Kind, Outcome, SendContext, register, text
from leadgate.delivery.http import exchange
from leadgate.delivery.render import check_template, map_fields, render
from leadgate.delivery.responses import default_outcome, parse_json
from leadgate.domain.errors import InvalidConfig


def classify(status: int, body: str) -> Outcome:
    doc = parse_json(body)
    doc = doc if isinstance(doc, dict) else {}
    if status in (200, 201):
        return Outcome("accepted", str(doc.get("status") or "queued"), False,
                       str(doc["sid"]) if doc.get("sid") else None)
    if status == 400:
        return Outcome("rejected", f"{doc.get('code', 400)}: {doc.get('message', body[:200])}")
    if status in (401, 403):
        return Outcome("error", f"{doc.get('code', status)}: {doc.get('message', '')}",
                       retryable=False)
    return default_outcome(status, body)


@register
class Sms(Kind):
    name = "sms"
    description = "SMS through a Twilio-shaped API (Messages.json)"

    def parse(self, data: Mapping[str, Any], path: str) -> dict[str, Any]:
        for k in data:
            if k not in ("base_url", "account_sid", "auth_token", "from", "to", "body"):
                raise InvalidConfig(f"unknown key {k!r}", path=f"{path}.{k}")
        base = text(data, "base_url", path, required=False,
                    default="https://api.twilio.com") or ""
        return {"base_url": base.rstrip("/"), "account_sid": text(data, "account_sid", path),
                "auth_token": text(data, "auth_token", path), "from": text(data, "from", path),
                "to": str(data.get("to", "phone")),
                "body": check_template(data.get("body", "New lead: {{ lead.first_name }} "
                                                "{{ lead.phone }}"), f"{path}.body")}

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        return [config["auth_token"]]

    def prepare(self, config: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        to = map_fields({"To": config["to"]}, lead).get("To", "")
        form = {"To": str(to), "From": config["from"], "Body": render(config["body"], lead)}
        url = f"{config['base_url']}/2010-04-01/Accounts/{config['account_sid']}/Messages.json"
        return {"method": "POST", "url": url,
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                "body": urlencode(form)}

    def wire(self, config: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"auth": {"type": "basic", "username": config["account_sid"],
                         "password": config["auth_token"]}}

    def send(self, config: Mapping[str, Any], lead: Mapping[str, Any],
             ctx: SendContext) -> tuple[Outcome, Exchange]:
        status, body, seen = exchange(self.wire(config), self.prepare(config, lead), lead, ctx)
        return classify(status, body), seen
