"""HTTP destinations: a webhook or any receiving API.

::

    - key: partner-hook
      kind: http
      url: https://partner.example/leads
      method: POST                 # POST (default), PUT or PATCH
      format: json                 # json (default) | form | xml
      fields: {name: "{{ lead.first_name }} {{ lead.last_name }}", phone: phone}
      body: '{"n": "{{ lead.first_name }}"}'   # a template instead of fields
      content_type: application/json          # with body
      headers: {X-Campaign: "{{ lead.campaign }}"}
      auth: {type: bearer, token: "..."}      # basic {username, password} | header {name, value}
      sign: {secrets: [whsec_new..., whsec_old...]}   # Standard Webhooks, newest first
      idempotency_header: Idempotency-Key     # sent with the delivery's id (default)
      response: {rules: [...], external_id: {json: id}, price: {json: price}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import httpx

from leadgate.delivery import responses, signing
from leadgate.delivery.base import (
    REDACTED,
    DeliveryError,
    Exchange,
    Kind,
    Outcome,
    SendContext,
    elapsed_ms,
    register,
    text,
    truncate,
    unknown_keys,
)
from leadgate.delivery.render import check_mapping, check_template, map_fields, render
from leadgate.domain.errors import InvalidConfig

FORMATS = {"json": "application/json", "form": "application/x-www-form-urlencoded",
           "xml": "application/xml"}
KEYS = {"url", "method", "format", "fields", "body", "content_type", "headers", "auth", "sign",
        "idempotency_header", "response", "xml_root"}


def parse_http(data: Mapping[str, Any], path: str, *, extra: set[str] | None = None,
               url_required: bool = True) -> dict[str, Any]:
    """Validate the keys of an HTTP-shaped destination."""
    unknown_keys(data, KEYS | (extra or set()), path)
    url = text(data, "url", path, required=url_required)
    if url is not None and not url.startswith(("http://", "https://")):
        raise InvalidConfig("url must start with http:// or https://", path=f"{path}.url")
    method = str(data.get("method", "POST")).upper()
    if method not in ("POST", "PUT", "PATCH"):
        raise InvalidConfig("method must be POST, PUT or PATCH", path=f"{path}.method")
    fmt = data.get("format", "json")
    if fmt not in FORMATS:
        raise InvalidConfig(f"format must be one of {', '.join(FORMATS)}", path=f"{path}.format")
    cfg: dict[str, Any] = {"url": url, "method": method, "format": fmt,
                           "xml_root": str(data.get("xml_root", "lead"))}
    if data.get("fields") is not None:
        cfg["fields"] = check_mapping(data["fields"], f"{path}.fields")
    if data.get("body") is not None:
        cfg["body"] = check_template(data["body"], f"{path}.body")
        cfg["content_type"] = str(data.get("content_type", FORMATS[fmt]))
    headers = data.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise InvalidConfig("headers must be a mapping", path=f"{path}.headers")
    cfg["headers"] = {str(k): check_template(v, f"{path}.headers.{k}")
                      for k, v in headers.items()}
    cfg["auth"] = _auth(data.get("auth"), f"{path}.auth")
    sign = data.get("sign")
    if sign is not None:
        if not isinstance(sign, Mapping) or not isinstance(sign.get("secrets"), list) \
                or not sign["secrets"]:
            raise InvalidConfig("sign needs secrets: a list of whsec_ secrets, newest first",
                                path=f"{path}.sign")
        cfg["sign"] = [signing.check_secret(s, f"{path}.sign.secrets[{i}]")
                       for i, s in enumerate(sign["secrets"])]
    cfg["idempotency_header"] = str(data.get("idempotency_header", "Idempotency-Key"))
    cfg["response"] = responses.check_rules(data.get("response"), f"{path}.response")
    return cfg


def _auth(data: Any, path: str) -> dict[str, Any] | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise InvalidConfig("auth must be a mapping with a type", path=path)
    kind = data.get("type")
    need = {"basic": ("username", "password"), "bearer": ("token",),
            "header": ("name", "value")}
    if kind not in need:
        raise InvalidConfig("auth type must be basic, bearer or header", path=f"{path}.type")
    out = {"type": kind}
    for k in need[kind]:
        out[k] = text(data, k, path) or ""
    return out


def auth_secrets(cfg: Mapping[str, Any]) -> list[str]:
    auth = cfg.get("auth") or {}
    out = [auth.get(k) for k in ("password", "token", "value")]
    out += list(cfg.get("sign") or [])
    return [s for s in out if s]


def build(cfg: Mapping[str, Any], lead: Mapping[str, Any],
          url: str | None = None) -> dict[str, Any]:
    """The request for ``lead``: method, url, headers (auth and signature excluded), body."""
    headers = {k: render(v, lead) for k, v in cfg["headers"].items()}
    if cfg.get("body") is not None:
        body = render(cfg["body"], lead)
        ctype = cfg["content_type"]
    else:
        values = map_fields(cfg.get("fields"), lead)
        ctype = FORMATS[cfg["format"]]
        if cfg["format"] == "json":
            body = json.dumps(values, default=str, separators=(",", ":"))
        elif cfg["format"] == "form":
            body = urlencode({k: "" if v is None else str(v) for k, v in values.items()})
        else:
            root = ET.Element(cfg["xml_root"])
            for k, v in values.items():
                ET.SubElement(root, k).text = "" if v is None else str(v)
            body = ET.tostring(root, encoding="unicode")
    headers.setdefault("Content-Type", ctype)
    if lead.get("idempotency_key"):
        headers[cfg["idempotency_header"]] = str(lead["idempotency_key"])
    return {"method": cfg["method"], "url": url or cfg["url"], "headers": headers,
            "body": body}


def auth_headers(cfg: Mapping[str, Any]) -> dict[str, str]:
    auth = cfg.get("auth")
    if not auth:
        return {}
    if auth["type"] == "bearer":
        return {"Authorization": f"Bearer {auth['token']}"}
    if auth["type"] == "header":
        return {auth["name"]: auth["value"]}
    basic = httpx.BasicAuth(auth["username"], auth["password"])
    req = httpx.Request("GET", "http://x/")
    return {"Authorization": next(basic.auth_flow(req)).headers["Authorization"]}


def preview_headers(cfg: Mapping[str, Any], headers: Mapping[str, str],
                    lead: Mapping[str, Any]) -> dict[str, str]:
    """``headers`` plus the ones :func:`exchange` adds, secrets and signatures as ``***``."""
    out = dict(headers)
    for name in auth_headers(cfg):
        out[name] = REDACTED
    if cfg.get("sign"):
        out["webhook-id"] = str(lead.get("idempotency_key") or "")
        out["webhook-timestamp"] = "(the time of sending)"
        out["webhook-signature"] = REDACTED
    return out


def exchange(cfg: Mapping[str, Any], request: Mapping[str, Any], lead: Mapping[str, Any],
             ctx: SendContext) -> tuple[int, str, Exchange]:
    """Send a built request (adding auth and signature); returns status, body, exchange."""
    headers = dict(request["headers"])
    headers.update(auth_headers(cfg))
    if cfg.get("sign"):
        msg_id = str(lead.get("idempotency_key") or lead.get("delivery_id") or "")
        headers.update(signing.sign_headers(cfg["sign"], msg_id, ctx.wall(),
                                            request["body"]))
    seen = Exchange(request={"method": request["method"], "url": request["url"],
                             "headers": {k: v for k, v in headers.items()},
                             "body": truncate(request["body"])})
    start = ctx.clock()
    try:
        resp = ctx.http.request(request["method"], request["url"], headers=headers,
                                content=request["body"].encode(), timeout=ctx.timeout)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timed out after {ctx.timeout:g}s ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    body = resp.text
    seen.response = {"status": resp.status_code, "ms": elapsed_ms(start, ctx.clock),
                     "headers": {k: v for k, v in resp.headers.items()
                                 if k.lower() in ("content-type", "location", "retry-after")},
                     "body": truncate(body)}
    return resp.status_code, body, seen


@register
class Http(Kind):
    name = "http"
    description = "HTTP POST of JSON, form or XML (webhook), signed, with response rules"

    def parse(self, data: Mapping[str, Any], path: str) -> dict[str, Any]:
        return parse_http(data, path)

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
