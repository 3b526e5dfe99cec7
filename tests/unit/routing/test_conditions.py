from __future__ import annotations

import json
from typing import Any

import pytest

from leadgate.domain.conditions import parse_condition
from leadgate.domain.errors import InvalidCondition

LEAD: dict[str, Any] = {
    "city": "Mumbai", "amount": "5000", "size": 1200, "tags": ["vip", "Health"],
    "postal_code": "94107", "email": "a@example.com", "empty": "", "none": None,
    "opted": True, "grade": "A",
}

CASES = [
    # (leaf, expected)
    ({"field": "city", "eq": "mumbai"}, True),
    ({"field": "city", "eq": "Delhi"}, False),
    ({"field": "amount", "eq": 5000}, True),
    ({"field": "size", "eq": "1200"}, True),
    ({"field": "opted", "eq": True}, True),
    ({"field": "city", "ne": "delhi"}, True),
    ({"field": "city", "ne": "MUMBAI"}, False),
    ({"field": "missing", "ne": "x"}, True),
    ({"field": "city", "in": ["Delhi", "MUMBAI"]}, True),
    ({"field": "city", "in": []}, False),
    ({"field": "city", "not_in": ["Delhi"]}, True),
    ({"field": "city", "not_in": ["mumbai"]}, False),
    ({"field": "missing", "not_in": ["x"]}, False),
    ({"field": "amount", "gte": 1000}, True),
    ({"field": "amount", "gt": 5000}, False),
    ({"field": "amount", "lt": 5000.5}, True),
    ({"field": "size", "lte": 1200}, True),
    ({"field": "city", "gt": 3}, False),
    ({"field": "grade", "lt": "B"}, True),
    ({"field": "size", "between": [1000, 1200]}, True),
    ({"field": "size", "between": [1201, 2000]}, False),
    ({"field": "city", "contains": "umb"}, True),
    ({"field": "tags", "contains": "health"}, True),
    ({"field": "tags", "contains": "life"}, False),
    ({"field": "postal_code", "starts_with": "941"}, True),
    ({"field": "postal_code", "starts_with": ["100", "941"]}, True),
    ({"field": "postal_code", "starts_with": ["100"]}, False),
    ({"field": "email", "regex": r"@example\.com$"}, True),
    ({"field": "email", "regex": r"^b"}, False),
    ({"field": "city", "exists": True}, True),
    ({"field": "empty", "exists": True}, False),
    ({"field": "none", "exists": False}, True),
    ({"field": "missing", "exists": False}, True),
    ({"field": "missing", "eq": "x"}, False),
    ({"field": "missing", "gte": 0}, False),
    ({"field": "missing", "contains": "x"}, False),
    ({"field": "missing", "regex": ".*"}, False),
]


@pytest.mark.parametrize(("data", "expected"), CASES, ids=[json.dumps(c[0]) for c in CASES])
def test_every_operator_evaluates_as_documented(data: dict[str, Any], expected: bool) -> None:
    cond = parse_condition(data)
    assert cond.evaluate(LEAD) is expected
    assert cond.explain(LEAD)["matched"] is expected


def test_missing_field_is_false_for_every_operator_but_ne_and_exists_false() -> None:
    operands = {"eq": "x", "ne": "x", "in": ["x"], "not_in": ["x"], "gt": 1, "gte": 1,
                "lt": 1, "lte": 1, "between": [1, 2], "contains": "x", "starts_with": "x",
                "regex": "x", "exists": True}
    for op, operand in operands.items():
        assert parse_condition({"field": "nope", op: operand}).evaluate({}) is (op == "ne")
    assert parse_condition({"field": "nope", "exists": False}).evaluate({}) is True


def test_composites_all_any_not_and_true() -> None:
    c = parse_condition({"all": [{"field": "city", "eq": "Mumbai"},
                                 {"any": [{"field": "size", "gt": 5000},
                                          {"not": {"field": "grade", "eq": "C"}}]}]})
    assert c.evaluate(LEAD)
    assert parse_condition(True).evaluate({})
    assert parse_condition(None).evaluate({})
    assert parse_condition({}).evaluate({})


def test_explain_names_the_failing_operand() -> None:
    c = parse_condition({"all": [{"field": "city", "eq": "Mumbai"},
                                 {"field": "size", "gte": 5000}]})
    ex = c.explain(LEAD)
    assert ex["matched"] is False
    assert ex["failed"] == [1]
    assert ex["all"][1] == {"field": "size", "op": "gte", "expected": 5000, "actual": 1200,
                            "matched": False}
    json.dumps(ex)


def test_explain_marks_missing_fields() -> None:
    ex = parse_condition({"field": "x", "eq": 1}).explain({})
    assert ex["missing"] is True and ex["actual"] is None


@pytest.mark.parametrize("data", [
    {"all": [{"field": "a", "eq": 1}, {"not": {"field": "b", "in": [1, "x"]}}]},
    {"field": "a", "between": [1, 2]},
    {"field": "a", "starts_with": ["9", "8"]},
    {"any": [{"field": "a", "regex": "^x"}, {"field": "b", "exists": False}]},
    True,
])
def test_to_dict_round_trips(data: Any) -> None:
    c = parse_condition(data)
    assert c.to_dict() == data
    assert parse_condition(c.to_dict()) == c


@pytest.mark.parametrize(("data", "path", "words"), [
    ({"field": "a", "like": 1}, "when.like", "unknown operator 'like'"),
    ({"field": "a", "in": "x"}, "when.in", "needs a list"),
    ({"field": "a", "between": [1]}, "when.between", "[low, high]"),
    ({"field": "a", "between": [5, 1]}, "when.between", "above high"),
    ({"field": "a", "regex": "("}, "when.regex", "invalid regular expression"),
    ({"field": "a", "exists": "yes"}, "when.exists", "true or false"),
    ({"field": "a", "eq": [1]}, "when.eq", "text, number or boolean"),
    ({"field": "a", "gt": None}, "when.gt", "number or a text"),
    ({"field": "a", "starts_with": []}, "when.starts_with", "prefix"),
    ({"field": "a"}, "when", "missing operator"),
    ({"field": "a", "eq": 1, "ne": 2}, "when", "exactly one operator"),
    ({"field": "", "eq": 1}, "when.field", "non-empty"),
    ({"all": []}, "when.all", "non-empty list"),
    ({"all": [{"field": "a", "eq": 1}, {"field": "b", "bad": 1}]}, "when.all[1].bad",
     "unknown operator"),
    ({"not": {"any": [{"field": "a", "eq": {}}]}}, "when.not.any[0].eq", "eq needs"),
    ({"foo": 1}, "when.foo", "unknown key"),
    ("x", "when", "expected a condition"),
])
def test_bad_condition_is_refused_with_path(data: Any, path: str, words: str) -> None:
    with pytest.raises(InvalidCondition) as err:
        parse_condition(data)
    assert err.value.path == path
    assert words in err.value.reason


def test_unknown_field_is_refused_when_fields_are_given() -> None:
    with pytest.raises(InvalidCondition) as err:
        parse_condition({"any": [{"field": "city", "eq": 1}, {"field": "ctiy", "eq": 1}]},
                        path="rules[2].when", fields={"city"})
    assert err.value.path == "rules[2].when.any[1].field"
    assert "'ctiy'" in err.value.message


def test_fields_lists_every_field_read() -> None:
    c = parse_condition({"all": [{"field": "a", "eq": 1}, {"not": {"field": "b", "eq": 1}}]})
    assert c.fields() == {"a", "b"}
