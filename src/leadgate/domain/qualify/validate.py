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
_MISSING = object()


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


#: Field types whose clean value depends on the field and the text alone (not on the
#: lead's country), and whose values repeat across leads (a city, a product, a first name).
MEMO_TYPES: frozenset[str] = frozenset({"string", "enum", "country", "boolean"})
#: Most clean values remembered per field; the memo starts again when it is full.
MEMO_MAX = 2048


class FieldPlan:
    """What validation needs of one declared field, worked out once per campaign."""

    __slots__ = ("label", "memo", "name", "spec", "type", "validity_code")

    def __init__(self, spec: FieldSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.type = spec.type
        self.label = spec.label or spec.name.replace("_", " ").capitalize()
        self.validity_code = _validity_code(spec)
        #: text -> clean value, for texts that passed (a refused text is checked again)
        self.memo: dict[str, Any] | None = {} if spec.type in MEMO_TYPES else None

    def normalise(self, value: Any, ctx: Context) -> Any:
        """The field type's normaliser on ``value`` (raises :class:`FieldProblem`)."""
        memo = self.memo
        if memo is None or type(value) is not str:
            return NORMALISERS[self.type](self.spec, value, ctx)
        clean = memo.get(value, _MISSING)
        if clean is _MISSING:
            clean = NORMALISERS[self.type](self.spec, value, ctx)
            if len(memo) >= MEMO_MAX:
                memo.clear()
            memo[value] = clean
        return clean


class CampaignPlan:
    """The per-field work that depends only on the campaign, done once per campaign.

    Campaigns are frozen and replaced (not edited) when their configuration
    changes, so a plan is kept per campaign object (see :func:`plan_for`).
    """

    __slots__ = ("by_type", "campaign", "email_fields", "fields", "items", "loose",
                 "name_like", "order", "phone_or_email", "specs")

    def __init__(self, campaign: Campaign) -> None:
        fields = campaign.fields
        self.campaign = campaign
        self.fields = fields
        self.items = tuple(fields.items())
        self.loose = {field_key(n): n for n in fields}
        # dependency order: country, then phones, then region/postal code, then the rest
        self.specs = tuple(FieldPlan(s) for s in sorted(
            fields.values(), key=lambda s: _TYPE_ORDER.get(s.type, 3)))
        self.order = {name: i for i, name in enumerate(fields)}
        self.name_like = tuple(n for n in fields if "name" in n.lower())
        self.email_fields = tuple(n for n, s in fields.items() if s.type == "email")
        self.phone_or_email = tuple((n, s.type) for n, s in fields.items()
                                    if s.type in ("phone", "email"))
        by_type: dict[str, list[str]] = {}
        for n, s in fields.items():
            by_type.setdefault(s.type, []).append(n)
        #: field names of each type, in the campaign's order
        self.by_type = {t: tuple(names) for t, names in by_type.items()}

    def current(self, campaign: Campaign) -> bool:
        """True while this plan still describes ``campaign`` (same object, same fields)."""
        return (self.campaign is campaign and self.fields is campaign.fields
                and self.items == tuple(campaign.fields.items()))

    def match(self, raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """:func:`match_fields` with the campaign's loose keys worked out already."""
        fields = self.fields
        loose = self.loose
        declared: dict[str, Any] = {}
        others: dict[str, Any] = {}
        for key, value in raw.items():
            name = str(key)
            if name in fields:
                declared[name] = value
                continue
            target = loose.get(field_key(name))
            if target is not None and target not in raw:
                declared[target] = value
            else:
                others[name] = value
        return declared, others


_PLANS: dict[int, CampaignPlan] = {}
_PLANS_MAX = 256


def plan_for(campaign: Campaign) -> CampaignPlan:
    """The campaign's :class:`CampaignPlan`, built on first use and kept while the
    campaign object (and its fields) stay the same."""
    plan = _PLANS.get(id(campaign))
    if plan is not None and plan.current(campaign):
        return plan
    plan = CampaignPlan(campaign)
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[id(campaign)] = plan
    return plan


def match_fields(raw: Mapping[str, Any],
                 campaign: Campaign) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split raw input into (declared field -> value, undeclared key -> value)."""
    return plan_for(campaign).match(raw)


def _validity_code(spec: FieldSpec) -> str:
    if spec.type in CHECK_CODE:
        return CHECK_CODE[spec.type]
    constrained = (spec.values, spec.min, spec.max, spec.pattern, spec.max_length)
    return "invalid_value" if any(c is not None for c in constrained) else "invalid_type"


#: A check as validation records it: (code, field, passed, message); see :class:`Check`.
CheckRow = tuple[str, str | None, bool, str]


def validate_fields(raw: Mapping[str, Any], campaign: Campaign,
                    default_region: str | None = None) -> Validated:
    """Normalise every declared field and record required/type/value checks."""
    plan = plan_for(campaign)
    declared, others = plan.match(raw)
    out, rows = validate_matched(declared, others, campaign, plan, default_region)
    out.checks = [Check(*row) for row in rows]
    return out


def validate_matched(declared: Mapping[str, Any], others: Mapping[str, Any],
                     campaign: Campaign, plan: CampaignPlan,
                     default_region: str | None = None) -> tuple[Validated, list[CheckRow]]:
    """:func:`validate_fields` over already matched input; the checks come apart, as
    :data:`CheckRow` tuples (``Check(*row)`` makes one a :class:`Check`)."""
    out = Validated()
    checks: list[CheckRow] = []
    values = out.values
    campaign_region = campaign.default_region
    country: str | None = None
    ctx: Context | None = None
    for fp in plan.specs:
        spec = fp.spec
        name = fp.name
        value = declared.get(name)
        if value is None or is_blank(value):
            if spec.required:
                checks.append(("required", name, False, f"{fp.label} is required."))
            continue
        if spec.required:
            checks.append(("required", name, True, ""))
        if fp.type == "postal_code" and country is None:
            fctx = Context(country=_phone_country(out) or campaign_region)
        else:
            if ctx is None:
                regions = [r for r in (default_region, country, campaign_region) if r]
                ctx = Context(country=country or campaign_region,
                              phone_regions=list(dict.fromkeys(regions)))
            fctx = ctx
        try:
            clean = fp.normalise(value, fctx)
        except FieldProblem as problem:
            checks.append((problem.code, name, False, problem.message))
            continue
        if isinstance(clean, PhoneInfo):
            out.phones[name] = clean
            clean = clean.e164
            if spec.line_types is not None:
                checks.append(("phone_line_type", name, True, ""))
        checks.append((fp.validity_code, name, True, ""))
        values[name] = clean
        if fp.type == "country" and country is None:
            country = clean
            ctx = None  # the lead's country now comes before the campaign's region
    if others:
        policy = campaign.unknown_fields
        for name, value in others.items():
            if name in CONSENT_FIELDS or is_blank(value):  # an empty CSV column is no data
                continue
            if policy == "keep":
                out.extra[name] = value
            elif policy == "reject":
                checks.append(("unknown_field", name, False,
                               f"{name!r} is not a field of campaign {campaign.key!r}."))
    # keep the declared field order in values
    if len(values) > 1:
        out.values = {n: values[n] for n in plan.fields if n in values}
    return out, checks


def _phone_country(out: Validated) -> str | None:
    for info in out.phones.values():
        return info.region
    return None
