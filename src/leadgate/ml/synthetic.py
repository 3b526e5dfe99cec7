"""Synthetic outcome history for tests, benchmarks and the demo.

The demo campaign sells insurance; whether a lead is won depends on a few
fields in a known way (product, home ownership, company size, email kind,
country), plus noise, so a trained model has something real to find.
"""

from __future__ import annotations

import math
import random
from typing import Any

from leadgate.domain.campaigns import Campaign, parse_campaign

DEMO_CAMPAIGN: dict[str, Any] = {
    "key": "demo_insurance",
    "name": "Demo insurance",
    "default_region": "IN",
    "fields": {
        "first_name": {"type": "string", "required": True},
        "last_name": {"type": "string"},
        "email": {"type": "email"},
        "phone": {"type": "phone", "required": True},
        "country": {"type": "country"},
        "product": {"type": "enum", "values": ["health", "life", "motor"]},
        "homeowner": {"type": "boolean"},
        "company_size": {"type": "integer", "min": 0},
    },
    "scoring": {
        "rules": [
            {"name": "life cover", "when": {"field": "product", "eq": "life"}, "points": 40},
            {"name": "homeowner", "when": {"field": "homeowner", "eq": True}, "points": 30},
            {"name": "larger company", "when": {"field": "company_size", "gte": 50},
             "points": 20},
        ],
        "grades": {"A": 70, "B": 40, "C": 0},
        "model": "demo_insurance",
    },
}

_FIRST = ["Priya", "Rahul", "Ana", "John", "Maria", "Wei", "Fatima", "Lukas", "Sofia", "Arjun"]
_LAST = ["Shah", "Kumar", "Silva", "Smith", "Garcia", "Chen", "Khan", "Müller", "Rossi", "Iyer"]
_COUNTRIES = [("IN", "+9198", 0.0), ("US", "+1415", 0.3), ("GB", "+447911", 0.1)]


def demo_campaign() -> Campaign:
    """The campaign :func:`synthetic_history` generates leads for."""
    return parse_campaign(DEMO_CAMPAIGN)


def synthetic_history(n: int, seed: int = 0) -> list[tuple[dict[str, Any], bool]]:
    """``n`` normalised demo leads with a won/lost outcome, deterministic for ``seed``.

    The true log-odds of a win: -1.6, +1.3 for life cover, -0.5 for motor,
    +0.9 for homeowners, +0.45 per log of company size, -0.7 for a free email
    address, and a small country effect.
    """
    rng = random.Random(seed)
    rows: list[tuple[dict[str, Any], bool]] = []
    for i in range(n):
        country, prefix, country_effect = rng.choice(_COUNTRIES)
        product = rng.choices(["health", "life", "motor"], weights=[5, 3, 2])[0]
        homeowner = rng.random() < 0.45
        size = int(rng.lognormvariate(2.5, 1.5)) if rng.random() < 0.8 else None
        free = rng.random() < 0.6
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        domain = rng.choice(["gmail.com", "yahoo.com"]) if free else f"acme{i % 97}.com"
        values: dict[str, Any] = {
            "first_name": first, "last_name": last,
            "email": f"{first.lower()}.{i}@{domain}",
            "phone": f"{prefix}{rng.randrange(10**6, 10**7)}",
            "country": country, "product": product, "homeowner": homeowner,
        }
        if size is not None:
            values["company_size"] = size
        z = (-1.6 + 1.3 * (product == "life") - 0.5 * (product == "motor") + 0.9 * homeowner
             + 0.45 * math.log1p(size or 0) * (size is not None) - 0.7 * free + country_effect
             - 0.9)
        won = rng.random() < 1 / (1 + math.exp(-z))
        rows.append((values, won))
    return rows
