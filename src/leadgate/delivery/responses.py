"""Response parsing: turn what a receiver answered into an :class:`Outcome`.

Rules are tried in order; the first that matches decides::

    response:
      rules:
        - {status: 409, outcome: duplicate}
        - {json: result, equals: rejected, outcome: rejected, reason_json: message}
        - {regex: "^ERR (?P<reason>.*)", outcome: rejected}
        - {contains: "OK", outcome: accepted}
      external_id: {json: data.id}       # or {regex: "id=(\\d+)"}
      price: {json: price}

A rule tests any of ``status`` (a code, a list, or ``"2xx"``), ``json`` (a dotted
path such as ``data.items[0].status``, compared with ``equals``, ``in`` or
``exists``), ``regex`` and ``contains`` on the body; all given tests must pass.
The reason is ``reason`` (text), ``reason_json`` (a path) or a regex group named
``reason``. With no rule matching: 2xx is accepted; 408, 425, 429 and 5xx are
retryable errors; any other status is a rejection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from leadgate.delivery.base import OUTCOMES, Outcome
from leadgate.domain.errors import InvalidConfig

RETRYABLE_STATUS = frozenset({408, 425, 429})
_PATH = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_MISSING = object()


def json_path(doc: Any, path: str) -> Any:
    """``a.b[0].c`` into a parsed JSON document; a missing step gives ``_MISSING``."""
    cur = doc
    for name, index in _PATH.findall(path):
        if index:
            if not isinstance(cur, list) or int(index) >= len(cur):
                return _MISSING
            cur = cur[int(index)]
        else:
            if not isinstance(cur, Mapping) or name not in cur:
                return _MISSING
            cur = cur[name]
    return cur


def _status_matches(spec: Any, status: int) -> bool:
    if isinstance(spec, list | tuple):
        return any(_status_matches(s, status) for s in spec)
    if isinstance(spec, str) and re.fullmatch(r"[1-5]xx", spec):
        return status // 100 == int(spec[0])
    return bool(spec == status)


def check_rules(data: Any, path: str) -> dict[str, Any]:
    """Validate a ``response:`` mapping (compiles the regexes)."""
    if data is None:
        return {"rules": []}
    if not isinstance(data, Mapping):
        raise InvalidConfig("response must be a mapping with rules", path=path)
    for k in data:
        if k not in ("rules", "external_id", "price"):
            raise InvalidConfig(f"unknown key {k!r}; response has rules, external_id, price",
                                path=f"{path}.{k}")
    rules = data.get("rules") or []
    if not isinstance(rules, list):
        raise InvalidConfig("rules must be a list", path=f"{path}.rules")
    allowed = {"status", "json", "equals", "in", "exists", "regex", "contains", "outcome",
               "reason", "reason_json", "retry"}
    for i, r in enumerate(rules):
        rp = f"{path}.rules[{i}]"
        if not isinstance(r, Mapping):
            raise InvalidConfig("a rule is a mapping", path=rp)
        for k in r:
            if k not in allowed:
                raise InvalidConfig(f"unknown key {k!r}", path=f"{rp}.{k}")
        if r.get("outcome") not in OUTCOMES:
            raise InvalidConfig(f"outcome must be one of {', '.join(OUTCOMES)}",
                                path=f"{rp}.outcome")
        if not any(k in r for k in ("status", "json", "regex", "contains")):
            raise InvalidConfig("a rule needs a test: status, json, regex or contains", path=rp)
        if "regex" in r:
            _regex(r["regex"], f"{rp}.regex")
    for k in ("external_id", "price"):
        if data.get(k) is not None:
            x = data[k]
            if not isinstance(x, Mapping) or len(x) != 1 or next(iter(x)) not in ("json",
                                                                                   "regex"):
                raise InvalidConfig("expected {json: path} or {regex: pattern}",
                                    path=f"{path}.{k}")
            if "regex" in x:
                _regex(x["regex"], f"{path}.{k}.regex")
    return dict(data)


def _regex(p: Any, path: str) -> re.Pattern[str]:
    try:
        return re.compile(str(p))
    except re.error as exc:
        raise InvalidConfig(f"bad regular expression: {exc}", path=path) from None


def _extract(spec: Mapping[str, Any] | None, body: str, doc: Any) -> Any:
    if not spec:
        return None
    if "json" in spec:
        v = json_path(doc, spec["json"])
        return None if v is _MISSING else v
    m = re.search(spec["regex"], body)
    if not m:
        return None
    return m.group(1) if m.groups() else m.group(0)


def parse_json(body: str) -> Any:
    try:
        return json.loads(body) if body.strip() else _MISSING
    except ValueError:
        return _MISSING


def classify(status: int, body: str, config: Mapping[str, Any] | None) -> Outcome:
    """The outcome of one HTTP answer under the destination's response rules."""
    config = config or {}
    doc = parse_json(body)
    external = _extract(config.get("external_id"), body, doc)
    price_v = _extract(config.get("price"), body, doc)
    try:
        price = float(price_v) if price_v is not None else None
    except (TypeError, ValueError):
        price = None
    ext = str(external) if external is not None else None
    for rule in config.get("rules") or ():
        hit = _match(rule, status, body, doc)
        if hit is None:
            continue
        outcome = rule["outcome"]
        reason = rule.get("reason") or ""
        if rule.get("reason_json"):
            v = json_path(doc, rule["reason_json"])
            reason = "" if v is _MISSING else str(v)
        if not reason and hit.get("reason"):
            reason = hit["reason"]
        retry = outcome == "error" and rule.get("retry", True)
        return Outcome(outcome, reason or f"HTTP {status}", bool(retry), ext, price)
    return default_outcome(status, body, ext, price)


def _match(rule: Mapping[str, Any], status: int, body: str,
           doc: Any) -> dict[str, str] | None:
    if "status" in rule and not _status_matches(rule["status"], status):
        return None
    if "json" in rule:
        v = json_path(doc, rule["json"])
        if "exists" in rule:
            if (v is not _MISSING) != bool(rule["exists"]):
                return None
        elif "equals" in rule:
            if v is _MISSING or v != rule["equals"]:
                return None
        elif "in" in rule:
            if v is _MISSING or v not in rule["in"]:
                return None
        elif v is _MISSING:
            return None
    groups: dict[str, str] = {}
    if "regex" in rule:
        m = re.search(rule["regex"], body)
        if not m:
            return None
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
    if "contains" in rule and str(rule["contains"]) not in body:
        return None
    return groups


def default_outcome(status: int, body: str = "", external_id: str | None = None,
                    price: float | None = None) -> Outcome:
    if 200 <= status < 300:
        return Outcome("accepted", f"HTTP {status}", False, external_id, price)
    short = body.strip().replace("\n", " ")[:200]
    reason = f"HTTP {status}" + (f": {short}" if short else "")
    if status in RETRYABLE_STATUS or status >= 500:
        return Outcome("error", reason, True)
    return Outcome("rejected", reason, False)


def first(items: Sequence[Any]) -> Any:
    return items[0] if items else None
