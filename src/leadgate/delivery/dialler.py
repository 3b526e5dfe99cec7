"""A dialler: push the lead to a predictive/power dialler's HTTP API for a call.

An HTTP destination with dialler defaults: JSON ``{phone, name, lead_id,
campaign, priority}`` (override with ``fields``), the dialler's campaign or
list id in ``list``, and responses ``{"status": "queued"|"rejected", ...}``
understood out of the box (``rejected`` is a rejection with the ``reason``
given). Everything an ``http`` destination accepts works here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadgate.delivery import responses
from leadgate.delivery.base import Exchange, Kind, Outcome, SendContext, register
from leadgate.delivery.http import auth_secrets, build, exchange, parse_http

DEFAULT_FIELDS = {"phone": "phone",
                  "name": "{{ lead.first_name }} {{ lead.last_name | default('') }}",
                  "lead_id": "lead_id", "campaign": "campaign"}
DEFAULT_RULES = [
    {"json": "status", "equals": "rejected", "outcome": "rejected", "reason_json": "reason"},
    {"json": "status", "equals": "duplicate", "outcome": "duplicate", "reason_json": "reason"},
]


@register
class Dialler(Kind):
    name = "dialler"
    description = "a dialler's HTTP API: queue the lead for a call"

    def parse(self, data: Mapping[str, Any], path: str) -> dict[str, Any]:
        own = dict(data)
        lst = own.pop("list", None)
        priority = own.pop("priority", None)
        own.setdefault("fields", dict(DEFAULT_FIELDS))
        cfg = parse_http(own, path)
        extra = {}
        if lst is not None:
            extra["list"] = {"value": lst}
        if priority is not None:
            extra["priority"] = {"value": priority}
        cfg["fields"] = {**cfg["fields"], **extra}
        rules = list(cfg["response"].get("rules") or []) + DEFAULT_RULES
        cfg["response"] = {**cfg["response"], "rules": rules}
        return cfg

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        return auth_secrets(config)

    def prepare(self, config: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        return build(config, lead)

    def wire(self, config: Mapping[str, Any]) -> Mapping[str, Any]:
        return config

    def send(self, config: Mapping[str, Any], lead: Mapping[str, Any],
             ctx: SendContext) -> tuple[Outcome, Exchange]:
        status, body, seen = exchange(config, build(config, lead), lead, ctx)
        return responses.classify(status, body, config.get("response")), seen
