"""A trained lead-scoring model: logistic regression stored as plain JSON.

Prediction is a dot product over a handful of features, written here in plain
Python: it needs neither scikit-learn nor numpy (only training does) and takes
a few microseconds. The saved form is versioned JSON, never pickle, so a model
file can be read, diffed and loaded safely.

Features (built from the campaign's fields at training time):

* categorical: enum, country, region and boolean fields, the email kind
  (``free`` mailbox or ``corporate``) and, when present in the rows, the
  enrichment facts ``phone_type`` and ``local_weekday``; one weight per value
  seen often enough in training, unseen values weigh nothing;
* numeric: integer and number fields, ``log1p``-scaled when never negative,
  standardised with the training mean and deviation, plus a weight for
  "missing".
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from leadgate.domain.errors import LeadgateError

FORMAT = "leadgate.logistic"
FORMAT_VERSION = 1

#: Free mailbox providers: an email at one of these is ``email_kind=free``.
FREE_MAIL: frozenset[str] = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.in", "yahoo.co.uk", "hotmail.com",
    "outlook.com", "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "gmx.de", "gmx.net",
    "web.de", "proton.me", "protonmail.com", "mail.com", "rediffmail.com", "yandex.ru",
    "uol.com.br", "bol.com.br", "ziggo.nl", "hotmail.co.uk", "zoho.com",
})


class InsufficientData(LeadgateError):
    """Too few outcomes (or only one kind) to train a model."""

    code = "insufficient_outcomes"
    status = 422


class ModelFormatError(LeadgateError):
    """A saved model cannot be read (wrong format or version)."""

    code = "invalid_model"
    status = 422


def email_kind(email: Any) -> str | None:
    """``free`` for a free mailbox provider, ``corporate`` otherwise, ``None`` if no email."""
    if not isinstance(email, str) or "@" not in email:
        return None
    return "free" if email.rsplit("@", 1)[1].lower() in FREE_MAIL else "corporate"


def categorical_value(value: Any) -> str | None:
    """The category string of a value (booleans as ``true``/``false``)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def numeric_value(value: Any, log: bool) -> float | None:
    """A float for a numeric feature, ``log1p``-scaled if asked; ``None`` if missing."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    x = float(value)
    if not math.isfinite(x):
        return None
    return math.log1p(max(x, 0.0)) if log else x


@dataclass(frozen=True)
class NumericFeature:
    """Scaling and weights of one numeric input."""

    mean: float
    std: float
    log: bool
    weight: float
    missing_weight: float


@dataclass(frozen=True)
class ScoringModel:
    """Logistic regression over one-hot categories and standardised numbers."""

    campaign: str
    version: str
    intercept: float
    categorical: Mapping[str, Mapping[str, float]]
    numeric: Mapping[str, NumericFeature]
    email_fields: tuple[str, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def inputs(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The raw inputs the model reads from a lead (derived ones included)."""
        out = {name: values.get(name) for name in self.categorical}
        for f in self.email_fields:
            if "email_kind" in self.categorical and out.get("email_kind") is None:
                out["email_kind"] = email_kind(values.get(f))
        return out

    def contributions(self, values: Mapping[str, Any]) -> list[tuple[str, float]]:
        """Every feature's contribution (log-odds) to this lead's score."""
        found: list[tuple[str, float]] = []
        inputs = self.inputs(values)
        for name, weights in self.categorical.items():
            cat = categorical_value(inputs.get(name))
            if cat is not None and cat in weights:
                found.append((f"{name}={cat}", weights[cat]))
        for name, num in self.numeric.items():
            x = numeric_value(values.get(name), num.log)
            if x is None:
                found.append((f"{name} missing", num.missing_weight))
            else:
                found.append((name, num.weight * (x - num.mean) / num.std))
        return found

    def predict(self, values: Mapping[str, Any]) -> tuple[float, list[tuple[str, float]]]:
        """Probability of a win, and the top five contributions by size."""
        parts = self.contributions(values)
        z = self.intercept + sum(c for _, c in parts)
        probability = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
        parts.sort(key=lambda p: -abs(p[1]))
        return probability, [(n, round(c, 4)) for n, c in parts[:5] if c]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``format``, ``format_version`` and every weight)."""
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "campaign": self.campaign,
            "version": self.version, "intercept": self.intercept,
            "categorical": {k: dict(v) for k, v in self.categorical.items()},
            "numeric": {k: {"mean": n.mean, "std": n.std, "log": n.log, "weight": n.weight,
                            "missing_weight": n.missing_weight}
                        for k, n in self.numeric.items()},
            "email_fields": list(self.email_fields), "metrics": dict(self.metrics),
        }

    def dumps(self) -> bytes:
        """Serialise to versioned JSON bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1).encode()

    @classmethod
    def loads(cls, data: bytes | str) -> ScoringModel:
        """Read a model written by :meth:`dumps`; refuse other formats or versions."""
        try:
            d = json.loads(data)
        except ValueError as exc:
            raise ModelFormatError(f"not a model file: {exc}") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ModelFormatError("not a leadgate model file")
        if d.get("format_version") != FORMAT_VERSION:
            raise ModelFormatError(f"unsupported model format version {d.get('format_version')!r}")
        try:
            return cls(
                campaign=str(d["campaign"]), version=str(d["version"]),
                intercept=float(d["intercept"]),
                categorical={k: {c: float(w) for c, w in v.items()}
                             for k, v in d["categorical"].items()},
                numeric={k: NumericFeature(float(n["mean"]), float(n["std"]), bool(n["log"]),
                                           float(n["weight"]), float(n["missing_weight"]))
                         for k, n in d["numeric"].items()},
                email_fields=tuple(d.get("email_fields", ())), metrics=d.get("metrics", {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFormatError(f"model file is damaged: {exc!r}") from None


def content_version(campaign: str, body: Mapping[str, Any]) -> str:
    """A version string naming the campaign and a hash of the weights."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return f"{campaign}-{digest[:12]}"
