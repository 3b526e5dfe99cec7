"""Scoring: declarative rule points mapped to grades, or a trained model.

Rules are conditions (``leadgate.domain.conditions``) over the lead's *facts*:
its enrichment overlaid with its normalised values (a value wins over an
enrichment fact of the same name). Each rule that holds adds its points (which
may be negative); the sum is the score and the campaign's grade thresholds map
it to a grade. With a model, the score is the model's probability x 100 and
the explanation lists the features that pushed it up or down.

The condition parser is injectable (``parse=``) so scoring can be tested and
used without the condition module; by default it is imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from leadgate.domain.campaigns import Scoring, ScoringRule
from leadgate.domain.errors import path_join

Parse = Callable[..., Any]


class Predictor(Protocol):
    """What qualify needs of a trained model (``leadgate.ml.ScoringModel``)."""

    def predict(self, values: Mapping[str, Any]) -> tuple[float, list[tuple[str, float]]]:
        """Probability of a win and the top (feature, contribution) pairs."""
        ...


_CACHE: dict[tuple[int, int], tuple[ScoringRule, Parse, Any]] = {}
_CACHE_MAX = 4096


def default_parse() -> Parse:
    """The real condition parser, imported when first needed."""
    from leadgate.domain import conditions  # type: ignore[attr-defined,unused-ignore]

    parse: Parse = conditions.parse_condition
    return parse


def compiled(rule: ScoringRule, index: int, parse: Parse | None) -> Any:
    """The rule's condition, parsed once per (rule, parser)."""
    if parse is None and rule.condition is not None:
        return rule.condition
    fn = parse or default_parse()
    key = (id(rule), id(fn))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is rule and hit[1] is fn:
        return hit[2]
    condition = fn(rule.when, path=path_join(path_join("scoring.rules", index), "when"),
                   fields=None)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = (rule, fn, condition)
    return condition


def facts_of(values: Mapping[str, Any], enrichment: Mapping[str, Any]) -> dict[str, Any]:
    """What rules and models see: enrichment (less its errors) overlaid with values."""
    facts = {k: v for k, v in enrichment.items() if k != "errors"}
    facts.update(values)
    return facts


def rule_points(facts: Mapping[str, Any], scoring: Scoring,
                parse: Parse | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Sum of points of the rules that hold, and one explanation entry per such rule."""
    total = 0
    explanation: list[dict[str, Any]] = []
    for i, rule in enumerate(scoring.rules):
        if compiled(rule, i, parse).evaluate(facts):
            total += rule.points
            if rule.points:
                explanation.append({"source": "rule", "rule": rule.label(i),
                                    "points": rule.points, "when": dict(rule.when)})
    return total, explanation


def score_lead(facts: Mapping[str, Any], scoring: Scoring | None, *,
               model: Predictor | None = None, parse: Parse | None = None,
               top: int = 5) -> tuple[float | None, str | None, list[dict[str, Any]]]:
    """Score, grade and explanation of one lead; ``(None, None, [])`` without scoring."""
    if model is not None:
        probability, features = model.predict(facts)
        score = round(probability * 100, 2)
        explanation = [
            {"source": "model", "feature": name, "points": round(contribution, 4)}
            for name, contribution in features[:top] if contribution
        ]
        grade = scoring.grade_for(score) if scoring is not None else None
        return score, grade, explanation
    if scoring is None:
        return None, None, []
    total, explanation = rule_points(facts, scoring, parse)
    explanation.sort(key=_weight)
    return float(total), scoring.grade_for(total), explanation


def _weight(entry: dict[str, Any]) -> float:
    return -abs(float(entry["points"]))
