"""qualify() gives the same answer whether its caches are cold or warm.

What is worked out once per campaign (the field plan) or once per repeated
value (a name's junk reason, a domain's disposable verdict, a place's region)
must never change a result: not across leads, not across campaigns, and not
when a campaign's configuration changes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadgate.domain.campaigns import Campaign, FieldSpec, parse_campaign
from leadgate.domain.qualify import (
    EnrichContext,
    EnrichmentStep,
    default_steps,
    qualify,
)
from leadgate.domain.qualify import validate as validate_module
from leadgate.domain.qualify.enrich import PhoneGeoStep, _region_from_place
from leadgate.domain.qualify.junk import is_disposable_domain, junk_name_reason
from leadgate.domain.qualify.validate import match_fields, plan_for, validate_fields

DATA = Path(__file__).resolve().parents[2] / "data"
NOW = datetime(2024, 3, 15, 12, tzinfo=UTC)


def clear_caches() -> None:
    validate_module._PLANS.clear()
    junk_name_reason.cache_clear()
    is_disposable_domain.cache_clear()
    _region_from_place.cache_clear()


def cold(raw: Mapping[str, Any], campaign: Campaign, **kw: Any) -> dict[str, Any]:
    clear_caches()
    return qualify(raw, campaign, now=NOW, **kw).to_dict()


def warm(raw: Mapping[str, Any], campaign: Campaign, **kw: Any) -> dict[str, Any]:
    return qualify(raw, campaign, now=NOW, **kw).to_dict()


@pytest.fixture(scope="module")
def messy() -> Campaign:
    return parse_campaign(yaml.safe_load((DATA / "messy_campaign.yaml").read_text()))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with (DATA / "messy_leads.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def website_campaign(**changes: Any) -> Campaign:
    spec: dict[str, Any] = {
        "key": "insurance", "default_region": "IN", "unknown_fields": "keep",
        "fields": {"first_name": {"type": "string", "required": True}, "last_name": "string",
                   "phone": {"type": "phone", "required": True}, "email": "email",
                   "city": "string", "country": "country",
                   "product": {"type": "enum", "values": ["health", "life"]}},
        "dedupe": {"keys": ["phone", "email"]},
    }
    spec.update(changes)
    return parse_campaign(spec)


def website_leads() -> Iterator[dict[str, Any]]:
    for i, name in enumerate(["Asha", "ravi", "TEST", "Meena", "asdf", "Karan"] * 4):
        digits = f"91000{i:05d}"
        yield {"first_name": name, "phone": f"+91 {digits}" if i % 3 else digits,
               "city": "Mumbai", "product": "health" if i % 2 else "LIFE",
               "email": f"lead{digits}@" + ("mailinator.com" if i % 5 == 0 else "example.com"),
               "utm_source": "fb"}


def test_messy_file_is_qualified_the_same_with_cold_and_warm_caches(
        messy: Campaign, rows: list[dict[str, str]]) -> None:
    cold_results = [cold(row, messy) for row in rows]
    warm_results = [warm(row, messy) for row in rows]
    assert warm_results == cold_results


def test_warm_caches_shared_by_two_campaigns_change_nothing(
        messy: Campaign, rows: list[dict[str, str]]) -> None:
    web = website_campaign()
    leads = list(website_leads())
    rows = rows[:len(leads)]
    expected = [(cold(row, messy), cold(lead, web)) for row, lead in zip(rows, leads, strict=True)]
    got = [(warm(row, messy), warm(lead, web)) for row, lead in zip(rows, leads, strict=True)]
    assert got == expected


@pytest.mark.parametrize("changes", [
    {"fields": {"first_name": "string", "phone": "phone", "email": "email"}},
    {"fields": {"name": {"type": "string", "required": True}, "mobile": "phone",
                "email": "email", "country": "country"}, "dedupe": {"keys": ["mobile"]}},
    {"default_region": "US"},
    {"unknown_fields": "reject"},
    {"checks": {"junk_name": "flag", "disposable_email": "quarantine"}},
    {"dedupe": {"keys": [["email", "city"]]}},
], ids=["fewer-fields", "renamed-fields", "region", "unknown-reject", "checks", "dedupe"])
def test_a_new_campaign_version_gets_its_own_answers(changes: dict[str, Any]) -> None:
    before, after = website_campaign(), website_campaign(**changes)
    for lead in website_leads():
        warm(lead, before)  # the old version's plan is warm when the new one arrives
        assert warm(lead, after) == cold(lead, after)
        assert warm(lead, before) == cold(lead, before)


def test_a_plan_follows_fields_edited_in_place() -> None:
    campaign = website_campaign(unknown_fields="drop")
    lead = {"first_name": "Asha", "phone": "+91 9100000001", "zip": "400001"}
    assert "zip" not in qualify(lead, campaign, now=NOW).values
    fields = campaign.fields
    assert isinstance(fields, dict)
    fields["zip"] = FieldSpec(name="zip", type="postal_code")
    assert "zip" in [f.name for f in plan_for(campaign).specs]
    assert qualify(lead, campaign, now=NOW).values["zip"] == "400001"
    assert warm(lead, campaign) == cold(lead, campaign)


def test_many_campaigns_overflow_the_plan_cache_without_changing_results() -> None:
    base = website_campaign()
    lead = next(website_leads())
    expected = cold(lead, base)
    for i in range(validate_module._PLANS_MAX + 10):
        other = replace(base, key=f"c{i}")
        assert warm(lead, other) == expected


def test_match_and_validate_fields_agree_with_qualify() -> None:
    campaign = website_campaign(unknown_fields="keep")
    raw = {"First Name": "asha", "PHONE": "9100000001", "Email": "A@Example.com",
           "utm_source": "fb", "consent_url": "https://cert.example/1"}
    declared, others = match_fields(raw, campaign)
    assert declared == {"first_name": "asha", "phone": "9100000001", "email": "A@Example.com"}
    assert others == {"utm_source": "fb", "consent_url": "https://cert.example/1"}
    validated = validate_fields(raw, campaign)
    q = qualify(raw, campaign, now=NOW)
    assert {**validated.values, **validated.extra} == q.values
    passed = [(c.code, c.field) for c in validated.checks]
    assert passed == [("required", "phone"), ("invalid_phone", "phone"),
                      ("required", "first_name"), ("invalid_type", "first_name"),
                      ("invalid_email", "email")]
    assert all(c.passed and c.message == "" for c in validated.checks)


class Keep(EnrichmentStep):
    """A custom inline step that keeps the context it was given."""

    name = "keep"
    isolated = False

    def __init__(self) -> None:
        self.contexts: list[EnrichContext] = []

    def run(self, values: Mapping[str, Any], context: EnrichContext) -> dict[str, Any]:
        self.contexts.append(context)
        return {"kept": True}


def test_a_custom_step_still_gets_a_snapshot_of_the_enrichment() -> None:
    keep = Keep()
    q = qualify({"first_name": "Asha", "phone": "+91 9100000001"}, website_campaign(), now=NOW,
                steps=[default_steps()[0], keep, *default_steps()[1:]])
    seen = keep.contexts[0].enrichment
    assert set(seen) == {"phone_country", "phone_type", "phone_location", "phone_timezone"}
    assert "timezone" in q.enrichment and "kept" in q.enrichment


class SubclassedGeo(PhoneGeoStep):
    """A subclass of a built-in step: it gets its own snapshot, with the same facts."""


def test_built_in_steps_give_the_same_enrichment_however_they_are_passed() -> None:
    campaign = website_campaign()
    for lead in website_leads():
        by_default = qualify(lead, campaign, now=NOW)
        passed = qualify(lead, campaign, now=NOW, steps=default_steps())
        subclassed = qualify(lead, campaign, now=NOW,
                             steps=[SubclassedGeo(), *default_steps()[1:]])
        assert by_default.enrichment == passed.enrichment == subclassed.enrichment



def test_remembered_clean_values_belong_to_their_field() -> None:
    campaign = parse_campaign({"key": "t", "fields": {
        "first_name": "string", "city": {"type": "string", "max_length": 5},
        "product": {"type": "enum", "values": ["Health", "life"]}, "country": "country"}})
    lead = {"first_name": "  mumbai ", "city": "  mumbai ", "product": "HEALTH", "country": "Inde"}
    for _ in range(3):  # the second and third leads read remembered values
        q = qualify(lead, campaign, now=NOW)
        assert q.values == {"first_name": "Mumbai", "product": "Health", "country": "IN"}
        assert [(r.code, r.field) for r in q.reasons] == [("invalid_value", "city")]
    assert warm(lead, campaign) == cold(lead, campaign)


def test_a_full_memo_starts_again_without_changing_results() -> None:
    campaign = parse_campaign({"key": "t", "fields": {"city": "string"}})
    expected = [cold({"city": f"city {i}"}, campaign)
                for i in range(validate_module.MEMO_MAX + 5)]
    got = [warm({"city": f"city {i}"}, campaign) for i in range(validate_module.MEMO_MAX + 5)]
    assert got == expected
    memo = plan_for(campaign).specs[0].memo
    assert memo is not None and 0 < len(memo) <= validate_module.MEMO_MAX
