"""Response rules: status, JSON path, regex and contains tests; the first rule that
matches decides; the defaults when none does; external id and price extraction."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadgate.delivery.responses import check_rules, classify, json_path
from leadgate.domain.errors import InvalidConfig

RULES = check_rules({
    "rules": [
        {"status": 409, "outcome": "duplicate"},
        {"json": "result", "equals": "rejected", "outcome": "rejected", "reason_json": "message"},
        {"json": "data.items[0].state", "in": ["dupe", "exists"], "outcome": "duplicate"},
        {"regex": "^ERR (?P<reason>.*)", "outcome": "rejected"},
        {"contains": "QUEUED", "outcome": "accepted"},
        {"status": 200, "json": "error", "exists": True, "outcome": "error", "retry": False},
        {"status": "4xx", "contains": "slow down", "outcome": "error"},
    ],
    "external_id": {"json": "data.id"},
    "price": {"json": "price"},
}, "response")


def j(doc: Any) -> str:
    return json.dumps(doc)


@pytest.mark.parametrize(("status", "body", "outcome", "retryable", "reason"), [
    (409, "exists", "duplicate", False, "HTTP 409"),
    (200, j({"result": "rejected", "message": "bad zip"}), "rejected", False, "bad zip"),
    (200, j({"data": {"items": [{"state": "exists"}]}}), "duplicate", False, "HTTP 200"),
    (200, "ERR phone blacklisted", "rejected", False, "phone blacklisted"),
    (202, "status=QUEUED", "accepted", False, "HTTP 202"),
    (200, j({"error": None}), "error", False, "HTTP 200"),  # exists, even if null
    (429, "please slow down", "error", True, "HTTP 429"),
    (400, "please slow down", "error", True, "HTTP 400"),  # rule: retry by default
    # no rule matches: the defaults
    (200, j({"ok": True}), "accepted", False, "HTTP 200"),
    (204, "", "accepted", False, "HTTP 204"),
    (500, "oops", "error", True, "HTTP 500: oops"),
    (503, "", "error", True, "HTTP 503"),
    (408, "", "error", True, "HTTP 408"),
    (425, "", "error", True, "HTTP 425"),
    (429, "", "error", True, "HTTP 429"),
    (400, "bad", "rejected", False, "HTTP 400: bad"),
    (404, "", "rejected", False, "HTTP 404"),
    (200, "not json at all", "accepted", False, "HTTP 200"),
])
def test_first_matching_rule_decides_else_the_defaults(status: int, body: str, outcome: str,
                                                       retryable: bool, reason: str) -> None:
    got = classify(status, body, RULES)
    assert (got.status, got.retryable, got.reason) == (outcome, retryable, reason)


def test_rule_order_matters() -> None:
    # 409 with a body that would match a later rule: the first rule wins
    assert classify(409, "ERR nope", RULES).status == "duplicate"


@pytest.mark.parametrize(("spec", "status", "hit"), [
    ({"status": [200, 201]}, 201, True),
    ({"status": [200, 201]}, 202, False),
    ({"status": "2xx"}, 299, True),
    ({"status": "2xx"}, 300, False),
    ({"status": 200, "contains": "OK"}, 200, True),
    ({"status": 200, "contains": "OK"}, 201, False),  # every test must pass
])
def test_status_tests(spec: dict[str, Any], status: int, hit: bool) -> None:
    cfg = check_rules({"rules": [{**spec, "outcome": "rejected", "reason": "matched"}]}, "r")
    assert (classify(status, "OK", cfg).reason == "matched") is hit


@pytest.mark.parametrize(("rule", "doc", "hit"), [
    ({"json": "a.b", "exists": True}, {"a": {"b": 0}}, True),
    ({"json": "a.b", "exists": True}, {"a": {}}, False),
    ({"json": "a.b", "exists": False}, {"a": {}}, True),
    ({"json": "a.b", "equals": 0}, {"a": {"b": 0}}, True),
    ({"json": "a.b", "equals": "0"}, {"a": {"b": 0}}, False),  # no type coercion
    ({"json": "list[1]", "equals": "y"}, {"list": ["x", "y"]}, True),
    ({"json": "list[5]", "exists": True}, {"list": ["x"]}, False),
    ({"json": "a"}, {"a": None}, True),  # bare json: the path exists
    ({"json": "a"}, ["not", "a", "mapping"], False),
])
def test_json_path_tests(rule: dict[str, Any], doc: Any, hit: bool) -> None:
    cfg = check_rules({"rules": [{**rule, "outcome": "rejected", "reason": "matched"}]}, "r")
    assert (classify(200, j(doc), cfg).reason == "matched") is hit


def test_json_path_walks_mappings_and_lists() -> None:
    doc = {"data": {"items": [{"id": 1}, {"id": 2, "tags": ["a", "b"]}]}}
    assert json_path(doc, "data.items[1].tags[0]") == "a"
    assert json_path(doc, "data.items[0].id") == 1


def test_external_id_and_price_are_extracted() -> None:
    got = classify(201, j({"data": {"id": 991}, "price": "12.50"}), RULES)
    assert (got.status, got.external_id, got.price) == ("accepted", "991", 12.5)
    cfg = check_rules({"external_id": {"regex": r"id=(\d+)"},
                       "price": {"regex": r"price=[\d.]+"}}, "r")
    got = classify(200, "ok id=77 price=3", cfg)
    assert got.external_id == "77" and got.price is None  # no group: the whole match
    assert classify(200, j({"price": "n/a"}), RULES).price is None


@pytest.mark.parametrize(("data", "message"), [
    ({"rules": [{"status": 200}]}, "outcome must be one of"),
    ({"rules": [{"outcome": "accepted"}]}, "a rule needs a test"),
    ({"rules": [{"regex": "(", "outcome": "accepted"}]}, "bad regular expression"),
    ({"rules": [{"status": 200, "outcome": "accepted", "colour": 1}]}, "unknown key 'colour'"),
    ({"external_id": {"xpath": "/a"}}, "expected {json: path} or {regex: pattern}"),
    ({"retries": 3}, "unknown key 'retries'"),
])
def test_bad_rules_are_refused_when_the_file_is_applied(data: Any, message: str) -> None:
    with pytest.raises(InvalidConfig, match=message.replace("{", r"\{").replace("}", r"\}")
                       .replace("(", r"\(")):
        check_rules(data, "response")
