"""Rule scoring: points from conditions, grades by threshold, explanation; model scoring."""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from leadgate.domain.campaigns import parse_campaign
from leadgate.domain.qualify import qualify

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeCondition:
    """A tiny stand-in for leadgate.domain.conditions: eq / gte / in / all / not."""

    data: Mapping[str, Any]

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        d = self.data
        if "all" in d:
            return all(FakeCondition(x).evaluate(facts) for x in d["all"])
        if "not" in d:
            return not FakeCondition(d["not"]).evaluate(facts)
        value = facts.get(d["field"])
        if "eq" in d:
            return bool(value == d["eq"])
        if "in" in d:
            return value in d["in"]
        if "gte" in d:
            return value is not None and value >= d["gte"]
        raise AssertionError(d)


def fake_parse(data: Mapping[str, Any], *, path: str = "when", fields: Any = None) -> FakeCondition:
    return FakeCondition(data)


CONFIG: dict[str, Any] = {
    "key": "t",
    "fields": {"product": {"type": "enum", "values": ["health", "life"]},
               "company_size": "integer", "phone": "phone"},
    "scoring": {
        "rules": [
            {"name": "wants life cover", "when": {"field": "product", "eq": "life"}, "points": 40},
            {"when": {"field": "company_size", "gte": 50}, "points": 35},
            {"name": "reachable now", "when": {"field": "local_hour", "in": [9, 10, 11, 12, 13,
                                                                            14, 15, 16, 17]},
             "points": 10},
            {"name": "toll free", "when": {"field": "phone_type", "eq": "toll_free"},
             "points": -30},
        ],
        "grades": {"A": 70, "B": 40, "C": 0},
    },
}
CAMPAIGN = parse_campaign(CONFIG)


@pytest.mark.parametrize(("raw", "score", "grade", "rules"), [
    ({"product": "life", "company_size": 120, "phone": "+91 98123 45678"}, 85.0, "A",
     ["wants life cover", "rule 2", "reachable now"]),
    ({"product": "life", "phone": "+91 98123 45678"}, 50.0, "B",
     ["wants life cover", "reachable now"]),
    ({"product": "health", "company_size": 3}, 0.0, "C", []),
    ({"product": "health", "phone": "+1 800 555 0199"}, -30.0, "C", ["toll free"]),
])
def test_rule_points_sum_to_a_graded_score(raw: dict[str, Any], score: float, grade: str,
                                           rules: list[str]) -> None:
    q = qualify(raw, CAMPAIGN, now=NOW, parse=fake_parse)
    assert q.score == score
    assert q.grade == grade
    assert sorted(e["rule"] for e in q.score_explanation) == sorted(rules)
    assert all(e["source"] == "rule" and e["points"] for e in q.score_explanation)


def test_explanation_lists_biggest_points_first() -> None:
    q = qualify({"product": "life", "company_size": 120, "phone": "+91 98123 45678"}, CAMPAIGN,
                now=NOW, parse=fake_parse)
    assert [e["points"] for e in q.score_explanation] == [40, 35, 10]


def test_no_scoring_no_score() -> None:
    c = parse_campaign({"key": "t", "fields": {"x": "string"}})
    q = qualify({"x": "a"}, c, now=NOW)
    assert (q.score, q.grade, q.score_explanation) == (None, None, [])


def test_default_parser_is_imported_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("leadgate.domain.conditions")
    module.parse_condition = fake_parse  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "leadgate.domain.conditions", module)
    q = qualify({"product": "life"}, CAMPAIGN, now=NOW)
    assert q.score == 40.0


def test_a_failing_condition_does_not_lose_the_lead() -> None:
    class Boom:
        def evaluate(self, facts: Mapping[str, Any]) -> bool:
            raise RuntimeError("evaluator crashed")

    q = qualify({"product": "life"}, CAMPAIGN, now=NOW, parse=lambda data, **_: Boom())
    assert q.verdict == "accepted"
    assert q.score is None
    assert "score" in q.enrichment["errors"]


class FixedModel:
    def predict(self, values: Mapping[str, Any]) -> tuple[float, list[tuple[str, float]]]:
        assert values["product"] == "life" and values["timezone"] == "Asia/Kolkata"
        return 0.8234, [("product=life", 1.2), ("company_size", -0.4), ("x", 0.0)]


def test_model_probability_becomes_the_score() -> None:
    q = qualify({"product": "life", "phone": "+91 98123 45678"}, CAMPAIGN, now=NOW,
                model=FixedModel(), parse=fake_parse)
    assert q.score == 82.34
    assert q.grade == "A"
    assert q.score_explanation == [
        {"source": "model", "feature": "product=life", "points": 1.2},
        {"source": "model", "feature": "company_size", "points": -0.4},
    ]


@pytest.mark.parametrize(("grades", "score", "grade"), [
    ({"A": 70, "B": 40, "C": 0}, 70, "A"), ({"A": 70, "B": 40, "C": 0}, 69, "B"),
    ({"A": 70, "B": 40, "C": 0}, -5, "C"), ({"hot": 10, "cold": 50}, 20, "hot"),
])
def test_grade_is_best_threshold_reached(grades: dict[str, int], score: int, grade: str) -> None:
    c = parse_campaign({"key": "t", "fields": {"x": "string"}, "scoring": {"grades": grades}})
    assert c.scoring is not None
    assert c.scoring.grade_for(score) == grade
