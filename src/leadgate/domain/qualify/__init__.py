"""The gatekeeper: normalise, validate, detect junk, enrich and score one lead.

:func:`qualify` is pure: it reads the raw lead, the campaign and ``now`` and
returns a :class:`Qualification`. It never touches a database; dedupe and
suppression are looked up by the ingest service using the ``dedupe_keys`` and
``suppression_keys`` computed here (reason codes ``duplicate`` and
``suppressed``).

Every check that fails takes the action the campaign gives its code
(``checks:``): ``reject`` (the lead is refused), ``quarantine`` (held for a
person to look at) or ``flag`` (accepted, with the flag recorded).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadgate.domain.campaigns import CONSENT_FIELDS, Campaign
from leadgate.domain.errors import Reason
from leadgate.domain.qualify.enrich import EnrichContext, EnrichmentStep, default_steps, enrich
from leadgate.domain.qualify.junk import is_disposable_domain, junk_names
from leadgate.domain.qualify.normalise import is_blank
from leadgate.domain.qualify.score import Parse, Predictor, facts_of, score_lead
from leadgate.domain.qualify.validate import CampaignPlan, CheckRow, plan_for, validate_matched

__all__ = [
    "EnrichContext",
    "EnrichmentStep",
    "Predictor",
    "Qualification",
    "dedupe_keys",
    "default_steps",
    "pack_checks",
    "qualify",
    "suppression_keys",
    "unpack_checks",
]


@dataclass(frozen=True)
class Qualification:
    """Everything the gatekeeper decided about one lead, JSON-able (see ``to_dict``)."""

    values: dict[str, Any]
    raw: dict[str, Any]
    verdict: str
    reasons: list[Reason] = field(default_factory=list)
    flags: list[Reason] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    enrichment: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    grade: str | None = None
    score_explanation: list[dict[str, Any]] = field(default_factory=list)
    dedupe_keys: list[str] = field(default_factory=list)
    suppression_keys: list[str] = field(default_factory=list)
    consent: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """True when the verdict is ``accepted``."""
        return self.verdict == "accepted"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every member."""
        return {
            "values": self.values, "raw": self.raw, "verdict": self.verdict,
            "reasons": [r.to_dict() for r in self.reasons],
            "flags": [r.to_dict() for r in self.flags], "checks": self.checks,
            "enrichment": self.enrichment, "score": self.score, "grade": self.grade,
            "score_explanation": self.score_explanation, "dedupe_keys": self.dedupe_keys,
            "suppression_keys": self.suppression_keys, "consent": self.consent,
        }


def dedupe_keys(values: Mapping[str, Any], campaign: Campaign) -> list[str]:
    """One key string per configured dedupe key whose fields are all present."""
    keys: list[str] = []
    for key in campaign.dedupe.keys:
        texts: list[str] = []
        for f in key:
            part = values.get(f)
            if is_blank(part):
                break
            texts.append(f"{f}={_key_text(part)}")
        else:
            keys.append("|".join(texts))
    return keys


def _key_text(value: Any) -> str:
    return value.casefold() if isinstance(value, str) else str(value)


def suppression_keys(values: Mapping[str, Any], campaign: Campaign) -> list[str]:
    """Do-not-contact lookup keys: ``phone:+91...``, ``email:a@b.com``, ``domain:b.com``."""
    return _suppression_keys(values, plan_for(campaign))


def _suppression_keys(values: Mapping[str, Any], plan: CampaignPlan) -> list[str]:
    keys: list[str] = []
    for name, ftype in plan.phone_or_email:
        value = values.get(name)
        if not isinstance(value, str) or not value:
            continue
        if ftype == "phone":
            keys.append(f"phone:{value}")
        else:
            keys.append(f"email:{value}")
            keys.append(f"domain:{value.rsplit('@', 1)[-1]}")
    return list(dict.fromkeys(keys))


def _consent(declared: Mapping[str, Any], others: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in CONSENT_FIELDS:
        value = declared.get(name, others.get(name))
        if value is not None and not is_blank(value):
            found[name] = value.strip() if isinstance(value, str) else value
    return found


def _junk_checks(values: Mapping[str, Any], plan: CampaignPlan) -> list[CheckRow]:
    checks: list[CheckRow] = []
    junk = junk_names(values)
    if junk:
        for name in plan.fields:
            if name in junk:
                checks.append(("junk_name", name, False, junk[name]))
    elif any(n in values for n in plan.name_like):
        checks.append(("junk_name", None, True, ""))
    for name in plan.email_fields:
        email = values.get(name)
        if isinstance(email, str):
            domain = email.rsplit("@", 1)[-1]
            if is_disposable_domain(domain):
                checks.append(("disposable_email", name, False,
                               f"{domain} is a disposable (throw-away) email domain."))
            else:
                checks.append(("disposable_email", name, True, ""))
    return checks


def pack_checks(checks: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The checks as a lead stores them: each an array, not an object, so the keys are
    not repeated in every row of every lead (less than half the bytes, written and
    parsed on the hot path): ``[code, field, action]`` for a check passed and
    ``[code, field, action, message]`` for one failed. :func:`unpack_checks` reverses it."""
    return [[c["code"], c["field"], c["action"]] if c["passed"] else
            [c["code"], c["field"], c["action"], c["message"]] for c in checks]


def unpack_checks(stored: Any) -> list[dict[str, Any]]:
    """A stored lead's checks as objects (``code``, ``field``, ``passed``, ``action``,
    ``message``), from :func:`pack_checks`'s arrays; rows stored as objects (leads
    stored before the arrays) come back as they are."""
    out: list[dict[str, Any]] = []
    for row in stored or ():
        if isinstance(row, Mapping):
            out.append(dict(row))
            continue
        code, name, action, *failed = row
        out.append({"code": code, "field": name, "passed": not failed, "action": action,
                    "message": failed[0] if failed else ""})
    return out


def qualify(raw: Mapping[str, Any], campaign: Campaign, *, now: datetime,
            default_region: str | None = None, model: Predictor | None = None,
            steps: Sequence[EnrichmentStep] | None = None,
            parse: Parse | None = None) -> Qualification:
    """Qualify one raw lead for ``campaign`` at ``now`` (timezone-aware).

    ``default_region`` overrides the campaign's region for national phone
    numbers; ``model`` replaces rule points with a trained model's probability;
    ``steps`` replaces the built-in enrichment steps; ``parse`` injects the
    condition parser used by scoring rules.
    """
    plan = plan_for(campaign)
    declared, others = plan.match(raw)
    validated, rows = validate_matched(declared, others, campaign, plan, default_region)
    values = validated.values
    if validated.extra:
        values = {**values, **validated.extra}
    # every check in the campaign's field order (a stable sort: within a field, in the
    # order run), then those of no declared field
    order = plan.order
    last = len(order)
    checks = sorted(rows + _junk_checks(values, plan),
                    key=lambda c: order.get(c[1] or "", last))

    reasons: list[Reason] = []
    flags: list[Reason] = []
    records: list[dict[str, Any]] = []
    actions = campaign.checks
    verdict = "accepted"
    for code, name, passed, message in checks:
        action = actions.get(code, "reject")
        records.append({"code": code, "field": name, "passed": passed,
                        "action": action, "message": message})
        if passed:
            continue
        reason = Reason(code, message, name)
        if action == "flag":
            flags.append(reason)
        else:
            reasons.append(reason)
            if action == "reject":
                verdict = "rejected"
            elif action == "quarantine" and verdict == "accepted":
                verdict = "quarantined"

    enrichment = enrich(values, campaign=campaign, now=now, phones=validated.phones,
                        default_region=default_region, steps=steps)
    score: float | None = None
    grade: str | None = None
    explanation: list[dict[str, Any]] = []
    if campaign.scoring is not None or model is not None:
        try:
            score, grade, explanation = score_lead(facts_of(values, enrichment),
                                                   campaign.scoring, model=model, parse=parse)
        except Exception as exc:  # scoring must never lose a lead
            enrichment.setdefault("errors", {})["score"] = f"{type(exc).__name__}: {exc}"
    return Qualification(
        values=values, raw=dict(raw), verdict=verdict, reasons=reasons, flags=flags,
        checks=records, enrichment=enrichment, score=score, grade=grade,
        score_explanation=explanation, dedupe_keys=dedupe_keys(values, campaign),
        suppression_keys=_suppression_keys(values, plan), consent=_consent(declared, others),
    )
