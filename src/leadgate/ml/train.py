"""Training a lead-scoring model on a campaign's own outcome history (scikit-learn).

``train(rows, campaign)`` splits the outcomes (stratified, seeded), fits a
logistic regression, and measures it on the held-out part: ROC AUC, the AUC of
the campaign's rule score on the same rows (to show whether the model beats
the rules), the Brier score, and a calibration table.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leadgate.domain.campaigns import Campaign
from leadgate.ml.model import (
    InsufficientData,
    NumericFeature,
    ScoringModel,
    categorical_value,
    content_version,
    email_kind,
    numeric_value,
)

MIN_OUTCOMES = 50
MIN_PER_CLASS = 5
MIN_CATEGORY_COUNT = 3
#: Enrichment facts used as categories when the rows carry them.
ENRICHMENT_CATEGORIES: tuple[str, ...] = ("phone_type", "local_weekday")


@dataclass(frozen=True)
class TrainResult:
    """A trained model and how well it did on held-out outcomes."""

    model: ScoringModel
    auc: float
    rule_auc: float | None
    brier: float
    calibration: list[dict[str, Any]]
    n_train: int
    n_test: int
    version: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Encoder:
    categorical: dict[str, list[str]]
    numeric: dict[str, tuple[float, float, bool]]
    email_fields: tuple[str, ...]

    def columns(self) -> list[str]:
        cols = [f"{k}={v}" for k, vs in self.categorical.items() for v in vs]
        for k in self.numeric:
            cols += [k, f"{k} missing"]
        return cols

    def row(self, values: Mapping[str, Any]) -> list[float]:
        out: list[float] = []
        for name, vocab in self.categorical.items():
            raw = _category_input(name, values, self.email_fields)
            cat = categorical_value(raw)
            out.extend(1.0 if cat == v else 0.0 for v in vocab)
        for name, (mean, std, log) in self.numeric.items():
            x = numeric_value(values.get(name), log)
            out += [0.0, 1.0] if x is None else [(x - mean) / std, 0.0]
        return out


def _category_input(name: str, values: Mapping[str, Any], email_fields: Sequence[str]) -> Any:
    if name == "email_kind" and values.get("email_kind") is None:
        return next((email_kind(values.get(f)) for f in email_fields if values.get(f)), None)
    return values.get(name)


def _fit_encoder(rows: Sequence[Mapping[str, Any]], campaign: Campaign) -> _Encoder:
    cat_names = [n for n, s in campaign.fields.items()
                 if s.type in ("enum", "country", "region", "boolean")]
    email_fields = tuple(n for n, s in campaign.fields.items() if s.type == "email")
    if email_fields:
        cat_names.append("email_kind")
    cat_names += [n for n in ENRICHMENT_CATEGORIES if n not in cat_names]
    categorical: dict[str, list[str]] = {}
    for name in cat_names:
        counts = Counter(categorical_value(_category_input(name, r, email_fields)) for r in rows)
        vocab = sorted(str(v) for v, c in counts.items() if v is not None
                       and c >= MIN_CATEGORY_COUNT)
        if vocab:
            categorical[name] = vocab
    numeric: dict[str, tuple[float, float, bool]] = {}
    for name, spec in campaign.fields.items():
        if spec.type not in ("integer", "number"):
            continue
        raw = [r.get(name) for r in rows]
        plain = [x for x in (numeric_value(v, False) for v in raw) if x is not None]
        if len(plain) < MIN_CATEGORY_COUNT:
            continue
        log = min(plain) >= 0
        xs = [x for x in (numeric_value(v, log) for v in raw) if x is not None]
        mean = sum(xs) / len(xs)
        std = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs)) or 1.0
        numeric[name] = (mean, std, log)
    return _Encoder(categorical, numeric, email_fields)


def _calibration(y: Sequence[int], p: Sequence[float], bins: int = 10) -> list[dict[str, Any]]:
    table: list[dict[str, Any]] = []
    for i in range(bins):
        lo, hi = i / bins, (i + 1) / bins
        idx = [j for j, pj in enumerate(p) if lo <= pj < hi or (i == bins - 1 and pj == 1.0)]
        if idx:
            table.append({"low": lo, "high": hi, "count": len(idx),
                          "predicted": round(sum(p[j] for j in idx) / len(idx), 4),
                          "observed": round(sum(y[j] for j in idx) / len(idx), 4)})
    return table


def _rule_scores(rows: Sequence[Mapping[str, Any]], campaign: Campaign,
                 parse: Callable[..., Any] | None) -> list[float] | None:
    scoring = campaign.scoring
    if scoring is None or not scoring.rules:
        return None
    from leadgate.domain.qualify.score import rule_points

    try:
        return [float(rule_points(r, scoring, parse)[0]) for r in rows]
    except ImportError:  # the condition language is not installed
        return None


def train(rows: Sequence[tuple[Mapping[str, Any], bool]], campaign: Campaign, *,
          test_size: float = 0.25, seed: int = 0,
          parse: Callable[..., Any] | None = None) -> TrainResult:
    """Fit a model on ``(values, won)`` outcomes and measure it on a held-out split.

    Raises :class:`InsufficientData` below :data:`MIN_OUTCOMES` outcomes or
    with fewer than :data:`MIN_PER_CLASS` wins or losses.
    """
    wins = sum(1 for _, won in rows if won)
    losses = len(rows) - wins
    if len(rows) < MIN_OUTCOMES or min(wins, losses) < MIN_PER_CLASS:
        raise InsufficientData(
            f"need at least {MIN_OUTCOMES} outcomes with {MIN_PER_CLASS} wins and "
            f"{MIN_PER_CLASS} losses to train; have {len(rows)} ({wins} won, {losses} lost)")
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.metrics import brier_score_loss, roc_auc_score  # type: ignore[import-untyped]
    from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

    values = [dict(v) for v, _ in rows]
    y = [1 if won else 0 for _, won in rows]
    train_idx, test_idx = train_test_split(list(range(len(rows))), test_size=test_size,
                                           random_state=seed, stratify=y)
    encoder = _fit_encoder([values[i] for i in train_idx], campaign)
    columns = encoder.columns()
    if not columns:
        raise InsufficientData("no usable features: the campaign has no enum, country, region, "
                               "boolean or numeric fields with enough data")
    x_train = [encoder.row(values[i]) for i in train_idx]
    clf = LogisticRegression(C=1.0, max_iter=2000)
    clf.fit(x_train, [y[i] for i in train_idx])
    weights = dict(zip(columns, (float(w) for w in clf.coef_[0]), strict=True))
    body_cat = {name: {v: weights[f"{name}={v}"] for v in vocab}
                for name, vocab in encoder.categorical.items()}
    body_num = {name: NumericFeature(mean, std, log, weights[name], weights[f"{name} missing"])
                for name, (mean, std, log) in encoder.numeric.items()}
    intercept = float(clf.intercept_[0])
    provisional = ScoringModel(campaign.key, "", intercept, body_cat, body_num,
                               encoder.email_fields)
    version = content_version(campaign.key, provisional.to_dict())

    test_values = [values[i] for i in test_idx]
    y_test = [y[i] for i in test_idx]
    p_test = [provisional.predict(v)[0] for v in test_values]
    auc = float(roc_auc_score(y_test, p_test))
    brier = float(brier_score_loss(y_test, p_test))
    rule = _rule_scores(test_values, campaign, parse)
    rule_auc = float(roc_auc_score(y_test, rule)) if rule is not None else None
    metrics = {"auc": round(auc, 4), "brier": round(brier, 4),
               "rule_auc": None if rule_auc is None else round(rule_auc, 4),
               "n_train": len(train_idx), "n_test": len(test_idx), "seed": seed}
    model = ScoringModel(campaign.key, version, intercept, body_cat, body_num,
                         encoder.email_fields, metrics)
    return TrainResult(model=model, auc=auc, rule_auc=rule_auc, brier=brier,
                       calibration=_calibration(y_test, p_test), n_train=len(train_idx),
                       n_test=len(test_idx), version=version)
