"""leadgate.ml: training on outcomes, held-out metrics, safe versioned saving, fast predict."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from leadgate.domain.errors import LeadgateError
from leadgate.domain.qualify import qualify
from leadgate.ml import (
    InsufficientData,
    ModelFormatError,
    ScoringModel,
    TrainResult,
    demo_campaign,
    load_model,
    synthetic_history,
    train,
)

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Cond:
    d: Mapping[str, Any]

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        v = facts.get(self.d["field"])
        if "eq" in self.d:
            return bool(v == self.d["eq"])
        return v is not None and v >= self.d["gte"]


def parse(data: Mapping[str, Any], *, path: str = "when", fields: Any = None) -> Cond:
    return Cond(data)


@pytest.fixture(scope="module")
def result() -> TrainResult:
    return train(synthetic_history(2000, seed=1), demo_campaign(), seed=0, parse=parse)


def test_model_beats_chance_and_reports_held_out_metrics(result: TrainResult) -> None:
    assert result.n_train == 1500 and result.n_test == 500
    assert result.auc > 0.7
    assert result.rule_auc is not None and 0.5 < result.rule_auc < 1
    assert 0 < result.brier < 0.25
    assert sum(b["count"] for b in result.calibration) == 500
    assert result.version.startswith("demo_insurance-")
    assert result.model.version == result.version


def test_model_learns_the_true_direction_of_effects(result: TrainResult) -> None:
    cat = result.model.categorical
    assert cat["product"]["life"] > cat["product"]["health"] > cat["product"]["motor"]
    assert cat["homeowner"]["true"] > cat["homeowner"]["false"]
    assert cat["email_kind"]["corporate"] > cat["email_kind"]["free"]


def test_training_is_deterministic_for_a_seed() -> None:
    rows = synthetic_history(300, seed=3)
    a = train(rows, demo_campaign(), seed=7)
    b = train(rows, demo_campaign(), seed=7)
    assert a.model.dumps() == b.model.dumps()


@pytest.mark.parametrize("rows", [
    synthetic_history(49, seed=0),
    [(v, False) for v, _ in synthetic_history(200, seed=0)],
    [(v, i < 3) for i, (v, _) in enumerate(synthetic_history(200, seed=0))],
])
def test_too_few_outcomes_is_insufficient_data(rows: list[tuple[dict[str, Any], bool]]) -> None:
    with pytest.raises(InsufficientData) as err:
        train(rows, demo_campaign())
    assert isinstance(err.value, LeadgateError)
    assert err.value.code == "insufficient_outcomes"


def test_model_round_trips_through_json(result: TrainResult) -> None:
    blob = result.model.dumps()
    assert blob.startswith(b"{")
    again = ScoringModel.loads(blob)
    assert again == result.model
    values = synthetic_history(1, seed=9)[0][0]
    assert again.predict(values) == result.model.predict(values)


@pytest.mark.parametrize("blob", [
    b"\x80\x04K\x01.", b"[]", b'{"format": "other"}',
    b'{"format": "leadgate.logistic", "format_version": 99}',
    b'{"format": "leadgate.logistic", "format_version": 1}',
])
def test_unreadable_model_files_are_refused(blob: bytes) -> None:
    with pytest.raises(ModelFormatError):
        ScoringModel.loads(blob)


def test_predict_is_well_under_a_millisecond(result: TrainResult) -> None:
    leads = [v for v, _ in synthetic_history(2000, seed=5)]
    started = time.perf_counter()
    for v in leads:
        result.model.predict(v)
    per_lead = (time.perf_counter() - started) / len(leads)
    assert per_lead < 0.0005


def test_predict_explains_with_top_features(result: TrainResult) -> None:
    p, top = result.model.predict({"product": "life", "homeowner": True,
                                   "email": "a@acme.com", "company_size": 500})
    assert 0.5 < p < 1
    assert 0 < len(top) <= 5
    assert top[0] == max(top, key=lambda t: abs(t[1]))
    assert "product=life" in dict(top)


def test_qualify_with_model_scores_probability_times_100(result: TrainResult) -> None:
    raw = {"first_name": "Priya", "phone": "98123 45678", "product": "life", "homeowner": "yes",
           "email": "priya@acme.com", "company_size": "500"}
    q = qualify(raw, demo_campaign(), now=NOW, model=result.model, parse=parse)
    p, _ = result.model.predict({**q.enrichment, **q.values})
    assert q.score == round(p * 100, 2)
    assert q.grade in ("A", "B", "C")
    assert q.score_explanation and all(e["source"] == "model" for e in q.score_explanation)


def test_bundled_demo_model_loads_and_predicts() -> None:
    model = load_model("demo_insurance")
    assert model.campaign == "demo_insurance"
    p, _ = model.predict({"product": "life", "homeowner": True})
    assert 0 < p < 1
    with pytest.raises(ModelFormatError):
        load_model("../etc/passwd")
