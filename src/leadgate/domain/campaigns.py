"""Campaigns: the fields a lead has, how they are checked, deduplicated and scored.

A campaign is configuration (YAML/JSON) parsed once by :func:`parse_campaign`
into frozen dataclasses. A bad campaign is refused with
:class:`~leadgate.domain.errors.InvalidCampaign` whose ``path`` points at the
culprit (``campaigns[0].fields.phone.type``). ``Campaign.to_dict()`` gives the
config back, omitting defaults, so ``parse_campaign(c.to_dict()) == c``.

Config example::

    key: health_in
    name: Health insurance India
    default_region: IN
    fields:
      first_name: {type: string, required: true}
      phone: {type: phone, required: true, line_types: [mobile]}
      product: {type: enum, values: [health, life]}
      company_size: {type: integer, min: 0}
    dedupe: {keys: [phone, [email, last_name]], window: 30d, on_duplicate: reject}
    checks: {junk_name: flag, disposable_email: quarantine}
    scoring:
      rules: [{when: {field: product, eq: life}, points: 30}]
      grades: {A: 70, B: 40, C: 0}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from leadgate.domain.errors import InvalidCampaign, InvalidConfig, as_mapping, path_join

FIELD_TYPES: frozenset[str] = frozenset({
    "string", "text", "email", "phone", "country", "region", "postal_code", "enum",
    "integer", "number", "boolean", "date", "datetime", "url",
})

ACTIONS: tuple[str, ...] = ("reject", "flag", "quarantine")

#: Every check the gatekeeper knows, with its default action. ``duplicate`` and
#: ``suppressed`` are applied by the ingest service (they need the database).
DEFAULT_CHECKS: Mapping[str, str] = {
    "required": "reject",
    "invalid_type": "reject",
    "invalid_value": "reject",
    "invalid_email": "reject",
    "invalid_phone": "reject",
    "phone_line_type": "reject",
    "invalid_country": "reject",
    "invalid_postal_code": "reject",
    "unknown_field": "reject",
    "junk_name": "reject",
    "disposable_email": "reject",
    "duplicate": "reject",
    "suppressed": "reject",
}

#: Phone line types a phone field may restrict itself to (``line_types``).
PHONE_LINE_TYPES: frozenset[str] = frozenset({
    "mobile", "fixed_line", "fixed_line_or_mobile", "toll_free", "premium_rate",
    "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail", "unknown",
})

#: Consent evidence fields: always kept with the lead, never "unknown".
CONSENT_FIELDS: tuple[str, ...] = (
    "consent_at", "consent_ip", "consent_user_agent", "consent_text", "consent_url",
)

UNKNOWN_FIELD_POLICIES: tuple[str, ...] = ("reject", "keep", "drop")
ON_DUPLICATE: tuple[str, ...] = ("reject", "merge")
DEFAULT_GRADES: Mapping[str, int] = {"A": 70, "B": 40, "C": 0}
DEFAULT_WINDOW = timedelta(days=30)

_KEY_RE = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([wdhms])\s*$")
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True)
class FieldSpec:
    """One declared lead field: its type and constraints."""

    name: str
    type: str
    required: bool = False
    label: str | None = None
    values: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    max_length: int | None = None
    line_types: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The config form of this field, omitting defaults."""
        d: dict[str, Any] = {"type": self.type}
        if self.required:
            d["required"] = True
        for name in ("label", "pattern", "max_length"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        for name in ("min", "max"):
            v = getattr(self, name)
            if v is not None:
                d[name] = int(v) if float(v).is_integer() else v
        if self.values is not None:
            d["values"] = list(self.values)
        if self.line_types is not None:
            d["line_types"] = list(self.line_types)
        return d


@dataclass(frozen=True)
class DedupeSpec:
    """Which field combinations identify a duplicate, within what window."""

    keys: tuple[tuple[str, ...], ...] = ()
    window: timedelta = DEFAULT_WINDOW
    on_duplicate: str = "reject"


@dataclass(frozen=True)
class ScoringRule:
    """``points`` are added when ``when`` (a condition over values + enrichment) holds."""

    when: Mapping[str, Any]
    points: int
    name: str | None = None
    condition: Any = field(default=None, compare=False, repr=False)

    def label(self, index: int) -> str:
        """A readable name for explanations."""
        return self.name or f"rule {index + 1}"


@dataclass(frozen=True)
class Scoring:
    """Rule points, grade thresholds and the optional trained model's name."""

    rules: tuple[ScoringRule, ...] = ()
    grades: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_GRADES))
    model: str | None = None

    def grade_for(self, score: float) -> str | None:
        """The best grade whose threshold ``score`` reaches (else the lowest grade)."""
        ordered = sorted(self.grades.items(), key=lambda kv: kv[1], reverse=True)
        for grade, threshold in ordered:
            if score >= threshold:
                return grade
        return ordered[-1][0] if ordered else None


@dataclass(frozen=True)
class Campaign:
    """A vertical / product line: its fields, checks, dedupe keys and scoring."""

    key: str
    name: str
    fields: Mapping[str, FieldSpec]
    dedupe: DedupeSpec = field(default_factory=DedupeSpec)
    scoring: Scoring | None = None
    checks: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CHECKS))
    default_region: str | None = None
    unknown_fields: str = "reject"
    flow: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The config form, omitting defaults; ``parse_campaign`` reads it back."""
        d: dict[str, Any] = {"key": self.key}
        if self.name != self.key:
            d["name"] = self.name
        d["fields"] = {n: f.to_dict() for n, f in self.fields.items()}
        dd: dict[str, Any] = {}
        if self.dedupe.keys != default_dedupe_keys(self.fields):
            dd["keys"] = [k[0] if len(k) == 1 else list(k) for k in self.dedupe.keys]
        if self.dedupe.window != DEFAULT_WINDOW:
            dd["window"] = format_duration(self.dedupe.window)
        if self.dedupe.on_duplicate != "reject":
            dd["on_duplicate"] = self.dedupe.on_duplicate
        if dd:
            d["dedupe"] = dd
        if self.scoring is not None:
            s: dict[str, Any] = {}
            if self.scoring.rules:
                s["rules"] = [_rule_to_dict(r) for r in self.scoring.rules]
            if dict(self.scoring.grades) != dict(DEFAULT_GRADES):
                s["grades"] = dict(self.scoring.grades)
            if self.scoring.model is not None:
                s["model"] = self.scoring.model
            d["scoring"] = s
        changed = {k: v for k, v in self.checks.items() if DEFAULT_CHECKS.get(k) != v}
        if changed:
            d["checks"] = changed
        if self.default_region is not None:
            d["default_region"] = self.default_region
        if self.unknown_fields != "reject":
            d["unknown_fields"] = self.unknown_fields
        if self.flow is not None:
            d["flow"] = self.flow
        return d


def _rule_to_dict(rule: ScoringRule) -> dict[str, Any]:
    d: dict[str, Any] = {"when": rule.when, "points": rule.points}
    if rule.name is not None:
        d["name"] = rule.name
    return d


def default_dedupe_keys(fields: Mapping[str, FieldSpec]) -> tuple[tuple[str, ...], ...]:
    """Without configuration a campaign dedupes on each phone and email field."""
    return tuple((n,) for n, f in fields.items() if f.type in ("phone", "email"))


def parse_duration(value: Any, path: str) -> timedelta:
    """Read ``"30d"``, ``"12h"``, ``"15m"``, ``"45s"``, ``"2w"`` (or whole seconds)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m:
            return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    raise InvalidCampaign(f"expected a duration such as '30d' or '12h', got {value!r}", path=path)


def format_duration(value: timedelta) -> str:
    """The shortest exact ``"<n><unit>"`` form of ``value``."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def _opt_str(data: Mapping[str, Any], key: str, path: str) -> str | None:
    v = data.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip():
        raise InvalidCampaign("expected a non-empty string", path=path_join(path, key))
    return v


def _opt_number(data: Mapping[str, Any], key: str, path: str) -> float | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise InvalidCampaign(f"expected a number, got {v!r}", path=path_join(path, key))
    return float(v)


def _str_tuple(value: Any, path: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise InvalidCampaign("expected a non-empty list", path=path)
    out: list[str] = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise InvalidCampaign(f"expected a string, got {v!r}", path=path_join(path, i))
        out.append(str(v))
    if len(set(out)) != len(out):
        raise InvalidCampaign("values must be unique", path=path)
    return tuple(out)


_FIELD_KEYS = frozenset({"type", "required", "label", "values", "min", "max", "pattern",
                         "max_length", "line_types"})


def parse_field(name: str, data: Any, path: str) -> FieldSpec:
    """Parse one field spec; a bare string is shorthand for ``{type: <string>}``."""
    if isinstance(data, str):
        data = {"type": data}
    d = as_mapping(data, path, InvalidCampaign)
    extra = sorted(set(d) - _FIELD_KEYS)
    if extra:
        raise InvalidCampaign(f"unknown key {extra[0]!r}", path=path_join(path, extra[0]))
    ftype = d.get("type", "string")
    if ftype not in FIELD_TYPES:
        raise InvalidCampaign(
            f"unknown field type {ftype!r}; expected one of {', '.join(sorted(FIELD_TYPES))}",
            path=path_join(path, "type"))
    required = d.get("required", False)
    if not isinstance(required, bool):
        raise InvalidCampaign("expected true or false", path=path_join(path, "required"))
    values = None
    if "values" in d:
        values = _str_tuple(d["values"], path_join(path, "values"))
    if ftype == "enum" and values is None:
        raise InvalidCampaign("an enum field needs a list of values",
                              path=path_join(path, "values"))
    if values is not None and ftype != "enum":
        raise InvalidCampaign("only enum fields take values", path=path_join(path, "values"))
    lo, hi = _opt_number(d, "min", path), _opt_number(d, "max", path)
    if lo is not None and hi is not None and lo > hi:
        raise InvalidCampaign("min is greater than max", path=path_join(path, "min"))
    pattern = _opt_str(d, "pattern", path)
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidCampaign(f"invalid regular expression: {exc}",
                                  path=path_join(path, "pattern")) from None
    max_length = d.get("max_length")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                   or max_length < 1):
        raise InvalidCampaign("expected a positive integer", path=path_join(path, "max_length"))
    line_types = None
    if "line_types" in d:
        lp = path_join(path, "line_types")
        if ftype != "phone":
            raise InvalidCampaign("only phone fields take line_types", path=lp)
        line_types = _str_tuple(d["line_types"], lp)
        bad = [t for t in line_types if t not in PHONE_LINE_TYPES]
        if bad:
            raise InvalidCampaign(f"unknown phone line type {bad[0]!r}", path=lp)
    return FieldSpec(name=name, type=ftype, required=required, label=_opt_str(d, "label", path),
                     values=values, min=lo, max=hi, pattern=pattern, max_length=max_length,
                     line_types=line_types)


def _parse_dedupe(data: Any, fields: Mapping[str, FieldSpec], path: str) -> DedupeSpec:
    if data is None:
        return DedupeSpec(keys=default_dedupe_keys(fields))
    d = as_mapping(data, path, InvalidCampaign)
    extra = sorted(set(d) - {"keys", "window", "on_duplicate"})
    if extra:
        raise InvalidCampaign(f"unknown key {extra[0]!r}", path=path_join(path, extra[0]))
    keys: tuple[tuple[str, ...], ...] = default_dedupe_keys(fields)
    if "keys" in d:
        kp = path_join(path, "keys")
        raw = d["keys"]
        if not isinstance(raw, list | tuple):
            raise InvalidCampaign("expected a list of keys", path=kp)
        parsed: list[tuple[str, ...]] = []
        for i, k in enumerate(raw):
            ip = path_join(kp, i)
            key = (k,) if isinstance(k, str) else _str_tuple(k, ip)
            for f in key:
                if f not in fields:
                    raise InvalidCampaign(f"dedupe key field {f!r} is not a campaign field",
                                          path=ip)
            parsed.append(key)
        keys = tuple(parsed)
    window = parse_duration(d.get("window", "30d"), path_join(path, "window"))
    on_dup = d.get("on_duplicate", "reject")
    if on_dup not in ON_DUPLICATE:
        raise InvalidCampaign(f"expected one of {', '.join(ON_DUPLICATE)}",
                              path=path_join(path, "on_duplicate"))
    return DedupeSpec(keys=keys, window=window, on_duplicate=on_dup)


def _parse_scoring(data: Any, fields: Mapping[str, FieldSpec], path: str) -> Scoring:
    d = as_mapping(data, path, InvalidCampaign)
    extra = sorted(set(d) - {"rules", "grades", "model"})
    if extra:
        raise InvalidCampaign(f"unknown key {extra[0]!r}", path=path_join(path, extra[0]))
    rules: list[ScoringRule] = []
    rp = path_join(path, "rules")
    raw_rules = d.get("rules", [])
    if not isinstance(raw_rules, list | tuple):
        raise InvalidCampaign("expected a list of rules", path=rp)
    parse = _condition_parser()
    for i, r in enumerate(raw_rules):
        ip = path_join(rp, i)
        rd = as_mapping(r, ip, InvalidCampaign)
        bad = sorted(set(rd) - {"when", "points", "name"})
        if bad:
            raise InvalidCampaign(f"unknown key {bad[0]!r}", path=path_join(ip, bad[0]))
        points = rd.get("points")
        if isinstance(points, bool) or not isinstance(points, int):
            raise InvalidCampaign("expected whole points (an integer)",
                                  path=path_join(ip, "points"))
        when = as_mapping(rd.get("when"), path_join(ip, "when"), InvalidCampaign)
        condition = None
        if parse is not None:
            try:
                condition = parse(when, path=path_join(ip, "when"), fields=None)
            except InvalidConfig as exc:
                raise InvalidCampaign(exc.reason, path=exc.path or path_join(ip, "when")) from None
        rules.append(ScoringRule(when=when, points=points, name=_opt_str(rd, "name", ip),
                                 condition=condition))
    grades: dict[str, int] = dict(DEFAULT_GRADES)
    if "grades" in d:
        gp = path_join(path, "grades")
        g = as_mapping(d["grades"], gp, InvalidCampaign)
        if not g:
            raise InvalidCampaign("expected at least one grade", path=gp)
        grades = {}
        for name, threshold in g.items():
            if isinstance(threshold, bool) or not isinstance(threshold, int | float):
                raise InvalidCampaign("expected a number", path=path_join(gp, str(name)))
            grades[str(name)] = int(threshold)
    model = _opt_str(d, "model", path)
    return Scoring(rules=tuple(rules), grades=grades, model=model)


def _condition_parser() -> Any:
    """The condition language, if it is installed (``leadgate.domain.conditions``)."""
    try:
        from leadgate.domain import conditions  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    return getattr(conditions, "parse_condition", None)


_CAMPAIGN_KEYS = frozenset({"key", "name", "fields", "dedupe", "scoring", "checks",
                            "default_region", "unknown_fields", "flow"})


def parse_campaign(data: Mapping[str, Any], *, path: str = "campaign") -> Campaign:
    """Parse and validate one campaign config; raise :class:`InvalidCampaign` naming the path."""
    d = as_mapping(data, path, InvalidCampaign)
    extra = sorted(set(d) - _CAMPAIGN_KEYS)
    if extra:
        raise InvalidCampaign(f"unknown key {extra[0]!r}", path=path_join(path, extra[0]))
    key = d.get("key")
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise InvalidCampaign("expected a key of lower-case letters, digits, '_' or '-'",
                              path=path_join(path, "key"))
    name = _opt_str(d, "name", path) or key
    fp = path_join(path, "fields")
    raw_fields = as_mapping(d.get("fields"), fp, InvalidCampaign)
    if not raw_fields:
        raise InvalidCampaign("a campaign needs at least one field", path=fp)
    fields: dict[str, FieldSpec] = {}
    for fname, fdata in raw_fields.items():
        if not isinstance(fname, str) or not _FIELD_RE.match(fname):
            raise InvalidCampaign("field names are letters, digits and '_'",
                                  path=path_join(fp, str(fname)))
        fields[fname] = parse_field(fname, fdata, path_join(fp, fname))
    dedupe = _parse_dedupe(d.get("dedupe"), fields, path_join(path, "dedupe"))
    scoring = None
    if d.get("scoring") is not None:
        scoring = _parse_scoring(d["scoring"], fields, path_join(path, "scoring"))
    checks = dict(DEFAULT_CHECKS)
    if d.get("checks") is not None:
        cp = path_join(path, "checks")
        for code, action in as_mapping(d["checks"], cp, InvalidCampaign).items():
            if code not in DEFAULT_CHECKS:
                raise InvalidCampaign(f"unknown check {code!r}; expected one of "
                                      f"{', '.join(DEFAULT_CHECKS)}", path=path_join(cp, str(code)))
            if action not in ACTIONS:
                raise InvalidCampaign(f"expected one of {', '.join(ACTIONS)}",
                                      path=path_join(cp, code))
            checks[code] = action
    region = _opt_str(d, "default_region", path)
    if region is not None:
        region = region.upper()
        if not _is_region(region):
            raise InvalidCampaign(f"unknown region {region!r}; expected an ISO 3166 alpha-2 code",
                                  path=path_join(path, "default_region"))
    unknown = d.get("unknown_fields", "reject")
    if unknown not in UNKNOWN_FIELD_POLICIES:
        raise InvalidCampaign(f"expected one of {', '.join(UNKNOWN_FIELD_POLICIES)}",
                              path=path_join(path, "unknown_fields"))
    return Campaign(key=key, name=name, fields=fields, dedupe=dedupe, scoring=scoring,
                    checks=checks, default_region=region, unknown_fields=unknown,
                    flow=_opt_str(d, "flow", path))


def _is_region(code: str) -> bool:
    import phonenumbers

    return code in phonenumbers.SUPPORTED_REGIONS
