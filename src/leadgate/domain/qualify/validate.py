"""Validate a raw lead against its campaign's fields, producing normalised values.

Fields are read in dependency order: the country first (it is the region for
national phone numbers and picks the postal code format), then phones, then
everything else. Every check run is recorded, passed or not.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from leadgate.domain.campaigns import CONSENT_FIELDS, Campaign, FieldSpec
from leadgate.domain.qualify.normalise import (
    CHECK_CODE,
    NORMALISERS,
    Context,
    FieldProblem,
    PhoneInfo,
    is_blank,
)

_TYPE_ORDER = {"country": 0, "phone": 1, "region": 2, "postal_code": 2}
_KEY_CLEAN = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Check:
    """One check run on a lead: its reason code, field, outcome and sentence."""

    code: str
    field: str | None
    passed: bool
    message: str = ""


@dataclass
class Validated:
    """The outcome of validation: clean values, checks, and parsed phones."""

    values: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    phones: dict[str, PhoneInfo] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@functools.lru_cache(maxsize=1024)
def field_key(name: str) -> str:
    """Loose form of an input key: ``"First Name"`` and ``first-name`` find ``first_name``."""
    return _KEY_CLEAN.sub("_", name.strip().lower()).strip("_")


def match_fields(raw: Mapping[str, Any],
                 campaign: Campaign) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split raw input into (declared field -> value, undeclared key -> value)."""
    loose = {field_key(n): n for n in campaign.fields}
    declared: dict[str, Any] = {}
    others: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key)
        if name in campaign.fields:
            declared[name] = value
        elif field_key(name) in loose and loose[field_key(name)] not in raw:
            declared[loose[field_key(name)]] = value
        else:
            others[name] = value
    return declared, others


def _validity_code(spec: FieldSpec) -> str:
    if spec.type in CHECK_CODE:
        return CHECK_CODE[spec.type]
    constrained = (spec.values, spec.min, spec.max, spec.pattern, spec.max_length)
    return "invalid_value" if any(c is not None for c in constrained) else "invalid_type"


def validate_fields(raw: Mapping[str, Any], campaign: Campaign,
                    default_region: str | None = None) -> Validated:
    """Normalise every declared field and record required/type/value checks."""
    out = Validated()
    declared, others = match_fields(raw, campaign)
    specs = sorted(campaign.fields.values(), key=lambda s: _TYPE_ORDER.get(s.type, 3))
    country: str | None = None
    for spec in specs:
        value = declared.get(spec.name)
        if is_blank(value):
            if spec.required:
                label = spec.label or spec.name.replace("_", " ").capitalize()
                out.checks.append(Check("required", spec.name, False, f"{label} is required."))
            continue
        if spec.required:
            out.checks.append(Check("required", spec.name, True))
        regions = [r for r in (default_region, country, campaign.default_region) if r]
        ctx = Context(country=country or campaign.default_region,
                      phone_regions=list(dict.fromkeys(regions)))
        if spec.type == "postal_code" and country is None:
            ctx = Context(country=_phone_country(out) or campaign.default_region)
        try:
            clean = NORMALISERS[spec.type](spec, value, ctx)
        except FieldProblem as problem:
            out.checks.append(Check(problem.code, spec.name, False, problem.message))
            continue
        if isinstance(clean, PhoneInfo):
            out.phones[spec.name] = clean
            clean = clean.e164
            if spec.line_types is not None:
                out.checks.append(Check("phone_line_type", spec.name, True))
        out.checks.append(Check(_validity_code(spec), spec.name, True))
        out.values[spec.name] = clean
        if spec.type == "country" and country is None:
            country = clean
    for name, value in others.items():
        if name in CONSENT_FIELDS or is_blank(value):  # an empty CSV column is no data
            continue
        if campaign.unknown_fields == "keep":
            out.extra[name] = value
        elif campaign.unknown_fields == "reject":
            out.checks.append(Check("unknown_field", name, False,
                                    f"{name!r} is not a field of campaign {campaign.key!r}."))
    # keep the declared field order in values
    out.values = {n: out.values[n] for n in campaign.fields if n in out.values}
    return out


def _phone_country(out: Validated) -> str | None:
    for info in out.phones.values():
        return info.region
    return None
