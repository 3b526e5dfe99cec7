"""Enrichment: pluggable steps that add facts about a lead, all offline.

A step is a small object with a ``name``, a ``timeout`` in seconds and
``run(values, context) -> dict``. Steps run in order; each sees what earlier
steps found in ``context.enrichment``. A step that raises, or runs past its
timeout, is recorded under ``enrichment["errors"][name]`` and the lead goes on.

Steps with ``isolated = True`` (the default for custom steps, which may do
slow work) run in a worker thread and are abandoned when their timeout passes.
The built-in steps are pure and take microseconds once phonenumbers' data is
loaded; they run inline (a generous 1 s timeout covers the first, cold load)
and their result is discarded if they were slower than their timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as phone_tz

from leadgate.domain.campaigns import Campaign
from leadgate.domain.qualify.countries import subdivision_code
from leadgate.domain.qualify.geo import region_from_postal, zone_for
from leadgate.domain.qualify.normalise import PhoneInfo
from leadgate.domain.qualify.validate import plan_for

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Headcount field names, in order of preference, for the company size band.
HEADCOUNT_FIELDS: tuple[str, ...] = ("company_size", "employees", "employee_count",
                                     "headcount", "company_employees")
SIZE_BANDS: tuple[tuple[int, str], ...] = (
    (10, "1-10"), (50, "11-50"), (200, "51-200"), (500, "201-500"), (1000, "501-1000"),
    (5000, "1001-5000"),
)


@dataclass(frozen=True)
class EnrichContext:
    """What a step may read besides the lead's values."""

    now: datetime
    campaign: Campaign
    enrichment: Mapping[str, Any]
    phones: Mapping[str, PhoneInfo] = field(default_factory=dict)
    default_region: str | None = None


class EnrichmentStep:
    """Base class of enrichment steps: override ``run``; set ``name`` and ``timeout``."""

    name: str = "step"
    timeout: float = 0.5
    isolated: bool = True

    def run(self, values: Mapping[str, Any], context: EnrichContext) -> dict[str, Any]:
        """Return the facts this step adds (JSON-able)."""
        raise NotImplementedError


def _first_of_type(by_type: Mapping[str, Sequence[str]], values: Mapping[str, Any],
                   ftype: str) -> Any:
    for name in by_type.get(ftype, ()):
        if values.get(name) is not None:
            return values[name]
    return None


class PhoneGeoStep(EnrichmentStep):
    """Country, region, place and time zone of the lead's phone (phonenumbers' offline data)."""

    name = "phone_geo"
    timeout = 1.0
    isolated = False

    def run(self, values: Mapping[str, Any], context: EnrichContext) -> dict[str, Any]:
        info = next(iter(context.phones.values()), None)
        if info is None:
            return {}
        out: dict[str, Any] = {"phone_country": info.region, "phone_type": info.line_type}
        # what description_for_number / time_zones_for_number do, with the number
        # type computed once at parsing (it is the costly part of both)
        number = info.number
        ntype = info.ntype if info.ntype >= 0 else phonenumbers.number_type(number)
        all_zones: Sequence[str] = ()
        if ntype == phonenumbers.PhoneNumberType.UNKNOWN:
            place = ""
        elif phonenumbers.is_number_type_geographical(ntype, number.country_code or 0):
            place = geocoder.description_for_valid_number(number, "en")
            all_zones = phone_tz.time_zones_for_geographical_number(number)
        else:
            place = geocoder.country_name_for_number(number, "en")
            # time_zones_for_number() for a valid non-geographical type, without
            # computing the type a third time
            all_zones = _country_zones(number)
        if place:
            out["phone_location"] = place
            region = _region_from_place(place, info.region)
            if region:
                out["phone_region"] = region
        zones = [z for z in all_zones if z != phone_tz.UNKNOWN_TIMEZONE]
        if len(zones) == 1:
            out["phone_timezone"] = zones[0]
        return out


_country_zones: Callable[[Any], Sequence[str]] = getattr(
    phone_tz, "_country_level_time_zones_for_number", phone_tz.time_zones_for_number)


# Few places and countries repeat across all leads; the answer depends on them alone.
@lru_cache(maxsize=4096)
def _region_from_place(place: str, country: str | None) -> str | None:
    if country in ("US", "CA") and ", " in place:
        return subdivision_code(place.rsplit(", ", 1)[1], country)
    return subdivision_code(place, country) if country else None


class LocationStep(EnrichmentStep):
    """Country, ISO 3166-2 region and time zone from the address, then the phone."""

    name = "location"
    timeout = 1.0
    isolated = False

    def run(self, values: Mapping[str, Any], context: EnrichContext) -> dict[str, Any]:
        e = context.enrichment
        campaign = context.campaign
        by_type = plan_for(campaign).by_type
        country = _first_of_type(by_type, values, "country") or e.get("phone_country")
        region = _first_of_type(by_type, values, "region")
        postal = _first_of_type(by_type, values, "postal_code")
        if region is None and postal is not None:
            region = region_from_postal(postal, country)
        if region is None and e.get("phone_country") == country:
            region = e.get("phone_region")
        tz = zone_for(country, region)
        if tz is None and (country is None or e.get("phone_country") == country):
            tz = e.get("phone_timezone")
        if country is None:
            country = context.default_region or campaign.default_region
            tz = tz or zone_for(country, None)
        return {"country": country, "region": region, "timezone": tz}


class LocalTimeStep(EnrichmentStep):
    """The lead's local time, hour and weekday at ``now``."""

    name = "local_time"
    timeout = 1.0
    isolated = False

    def run(self, values: Mapping[str, Any], context: EnrichContext) -> dict[str, Any]:
        tz = context.enrichment.get("timezone")
        if not tz:
            return {}
        local = context.now.astimezone(ZoneInfo(tz))
        return {"local_time": local.isoformat(), "local_hour": local.hour,
                "local_weekday": WEEKDAYS[local.weekday()]}


class CompanySizeStep(EnrichmentStep):
    """A size band ("11-50") from a headcount field."""

    name = "company_size"
    timeout = 1.0
    isolated = False

    def run(self, values: Mapping[str, Any], context: EnrichContext) -> dict[str, Any]:
        for name in HEADCOUNT_FIELDS:
            count = values.get(name)
            if isinstance(count, int | float) and not isinstance(count, bool):
                return {"company_size_band": size_band(count)}
        return {}


def size_band(count: float) -> str:
    """The band a headcount falls in ("1-10" ... "5001+")."""
    for upper, band in SIZE_BANDS:
        if count <= upper:
            return band
    return "5001+"


def default_steps() -> list[EnrichmentStep]:
    """The built-in steps, in order: phone geo, location, local time, company size."""
    return [PhoneGeoStep(), LocationStep(), LocalTimeStep(), CompanySizeStep()]


#: The built-in step classes: they keep no state, and read ``context`` only while they run.
_BUILT_IN: frozenset[type[EnrichmentStep]] = frozenset(
    {PhoneGeoStep, LocationStep, LocalTimeStep, CompanySizeStep})
_DEFAULT_STEPS: tuple[EnrichmentStep, ...] = tuple(default_steps())

_EXECUTOR: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="leadgate-enrich")
    return _EXECUTOR


def enrich(values: Mapping[str, Any], *, campaign: Campaign, now: datetime,
           phones: Mapping[str, PhoneInfo] | None = None, default_region: str | None = None,
           steps: Sequence[EnrichmentStep] | None = None) -> dict[str, Any]:
    """Run the steps in order and merge what they find; failures go to ``errors``."""
    enrichment: dict[str, Any] = {}
    errors: dict[str, str] = {}
    phones = phones or {}
    # A built-in step run inline sees the enrichment so far through one shared context
    # (it reads it only while it runs); any other step gets a snapshot of its own.
    live: EnrichContext | None = None
    for step in _DEFAULT_STEPS if steps is None else steps:
        if type(step) in _BUILT_IN and not step.isolated:
            if live is None:
                live = EnrichContext(now=now, campaign=campaign, enrichment=enrichment,
                                     phones=phones, default_region=default_region)
            context = live
        else:
            context = EnrichContext(now=now, campaign=campaign, enrichment=dict(enrichment),
                                    phones=phones, default_region=default_region)
        started = time.perf_counter()
        try:
            if step.isolated:
                future = _executor().submit(step.run, values, context)
                try:
                    found = future.result(timeout=step.timeout)
                except FutureTimeout:
                    future.cancel()
                    errors[step.name] = f"timed out after {step.timeout:g}s"
                    continue
            else:
                found = step.run(values, context)
        except Exception as exc:  # a broken step must never fail the lead
            errors[step.name] = f"{type(exc).__name__}: {exc}"
            continue
        if time.perf_counter() - started > step.timeout:
            errors[step.name] = f"timed out after {step.timeout:g}s"
            continue
        enrichment.update(found)
    if errors:
        enrichment["errors"] = errors
    return enrichment
