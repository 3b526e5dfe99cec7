"""Enrichment: phone geo, location, time zone, local time, size band; pluggable steps."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from leadgate.domain.campaigns import parse_campaign
from leadgate.domain.qualify import EnrichContext, EnrichmentStep, default_steps, qualify

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)  # a Wednesday
CAMPAIGN = parse_campaign({"key": "t", "unknown_fields": "drop", "fields": {
    "phone": "phone", "country": "country", "region": "region", "postal_code": "postal_code",
    "company_size": "integer"}})


def enrich_of(raw: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return qualify(raw, CAMPAIGN, now=NOW, **kw).enrichment


@pytest.mark.parametrize(("raw", "expected"), [
    ({"phone": "+91 98123 45678"}, {"country": "IN", "timezone": "Asia/Kolkata",
                                     "local_hour": 15, "local_weekday": "wed",
                                     "phone_type": "mobile", "phone_country": "IN"}),
    ({"phone": "+1 212 555 0123"}, {"country": "US", "region": "US-NY",
                                     "timezone": "America/New_York", "local_hour": 6,
                                     "phone_country": "US"}),
    ({"phone": "+1 415 555 2671"}, {"region": "US-CA", "timezone": "America/Los_Angeles",
                                     "local_hour": 3}),
    ({"phone": "+55 11 98765 4321"}, {"country": "BR", "region": "BR-SP",
                                       "timezone": "America/Sao_Paulo", "local_hour": 7}),
    ({"phone": "+44 20 7946 0000"}, {"country": "GB", "timezone": "Europe/London",
                                      "phone_type": "fixed_line", "local_hour": 11}),
    ({"country": "US", "postal_code": "10001"}, {"region": "US-NY",
                                                 "timezone": "America/New_York"}),
    ({"country": "US", "postal_code": "60601"}, {"region": "US-IL", "timezone": "America/Chicago"}),
    ({"country": "US", "postal_code": "75201"}, {"region": "US-TX", "timezone": None}),
    ({"country": "CA", "postal_code": "T2P 1J9"}, {"region": "CA-AB",
                                                   "timezone": "America/Edmonton"}),
    ({"country": "DE"}, {"country": "DE", "timezone": "Europe/Berlin", "local_hour": 12}),
    ({"country": "US", "region": "Arizona"}, {"region": "US-AZ", "timezone": "America/Phoenix"}),
    ({"company_size": "42"}, {"company_size_band": "11-50"}),
    ({"company_size": "12000"}, {"company_size_band": "5001+"}),
])
def test_enrichment_offline(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    e = enrich_of(raw)
    assert {k: e.get(k) for k in expected} == expected
    assert "errors" not in e


def test_address_time_zone_wins_over_phone() -> None:
    e = enrich_of({"phone": "+1 212 555 0123", "country": "US", "postal_code": "94105"})
    assert e["region"] == "US-CA"
    assert e["timezone"] == "America/Los_Angeles"


def test_local_time_is_iso_at_now() -> None:
    e = enrich_of({"phone": "+91 98123 45678"})
    assert e["local_time"] == "2024-05-01T15:30:00+05:30"


class Boom(EnrichmentStep):
    name = "boom"

    def run(self, values: Mapping[str, Any], context: EnrichContext) -> dict[str, Any]:
        raise RuntimeError("credit bureau down")


class Slow(EnrichmentStep):
    name = "slow"
    timeout = 0.05

    def __init__(self) -> None:
        self.release = threading.Event()

    def run(self, values: Mapping[str, Any], context: EnrichContext) -> dict[str, Any]:
        self.release.wait(2)
        return {"slow": True}


class Seen(EnrichmentStep):
    name = "seen"
    isolated = False

    def run(self, values: Mapping[str, Any], context: EnrichContext) -> dict[str, Any]:
        return {"saw_timezone": context.enrichment.get("timezone"), "v": dict(values)}


def test_failing_step_is_recorded_and_lead_goes_on() -> None:
    q = qualify({"phone": "+91 98123 45678"}, CAMPAIGN, now=NOW,
                steps=[*default_steps(), Boom()])
    assert q.verdict == "accepted"
    assert q.enrichment["errors"] == {"boom": "RuntimeError: credit bureau down"}
    assert q.enrichment["timezone"] == "Asia/Kolkata"


def test_step_past_its_timeout_is_abandoned() -> None:
    slow = Slow()
    started = time.perf_counter()
    q = qualify({"phone": "+91 98123 45678"}, CAMPAIGN, now=NOW, steps=[slow, *default_steps()])
    slow.release.set()
    assert time.perf_counter() - started < 1.0
    assert q.verdict == "accepted"
    assert q.enrichment["errors"] == {"slow": "timed out after 0.05s"}
    assert "slow" not in q.enrichment
    assert q.enrichment["timezone"] == "Asia/Kolkata"


def test_custom_steps_see_earlier_results() -> None:
    q = qualify({"phone": "+91 98123 45678"}, CAMPAIGN, now=NOW, steps=[*default_steps(), Seen()])
    assert q.enrichment["saw_timezone"] == "Asia/Kolkata"
    assert q.enrichment["v"] == {"phone": "+919812345678"}


def test_no_steps_no_enrichment() -> None:
    assert enrich_of({"phone": "+91 98123 45678"}, steps=[]) == {}
