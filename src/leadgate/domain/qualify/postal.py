"""Postal codes: validated and formatted per country.

No maintained offline library formats postal codes for the countries we need
(the ones that exist call web services), so the formats are written here: each
is a pattern over the code with spaces and hyphens removed, and a formatter.
Countries without a rule are trimmed and upper-cased, and accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PostalFormat:
    """How one country writes its postal codes."""

    pattern: re.Pattern[str]
    format: Callable[[str], str]
    example: str


def _us(c: str) -> str:
    return c if len(c) == 5 else f"{c[:5]}-{c[5:]}"


_GB = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")

FORMATS: dict[str, PostalFormat] = {
    "US": PostalFormat(re.compile(r"^\d{5}(\d{4})?$"), _us, "94105 or 94105-1420"),
    "GB": PostalFormat(_GB, lambda c: f"{c[:-3]} {c[-3:]}", "SW1A 1AA"),
    "CA": PostalFormat(re.compile(r"^[ABCEGHJ-NPRSTVXY]\d[A-Z]\d[A-Z]\d$"),
                       lambda c: f"{c[:3]} {c[3:]}", "K1A 0B1"),
    "IN": PostalFormat(re.compile(r"^[1-9]\d{5}$"), lambda c: c, "400001"),
    "BR": PostalFormat(re.compile(r"^\d{8}$"), lambda c: f"{c[:5]}-{c[5:]}", "01310-100"),
    "DE": PostalFormat(re.compile(r"^\d{5}$"), lambda c: c, "10115"),
    "NL": PostalFormat(re.compile(r"^[1-9]\d{3}(?!SA|SD|SS)[A-Z]{2}$"),
                       lambda c: f"{c[:4]} {c[4:]}", "1012 AB"),
    "FR": PostalFormat(re.compile(r"^\d{5}$"), lambda c: c, "75001"),
    "ES": PostalFormat(re.compile(r"^(0[1-9]|[1-4]\d|5[0-2])\d{3}$"), lambda c: c, "28001"),
    "AU": PostalFormat(re.compile(r"^\d{4}$"), lambda c: c, "2000"),
}

_SEPARATORS = re.compile(r"[\s\-\.]+")


def format_postal_code(value: str, country: str | None) -> str | None:
    """The country's written form of ``value``; ``None`` if it is not valid there."""
    cleaned = " ".join(value.strip().upper().split())
    if not cleaned:
        return None
    rule = FORMATS.get(country or "")
    if rule is None:
        return cleaned
    compact = _SEPARATORS.sub("", cleaned)
    if not rule.pattern.match(compact):
        return None
    return rule.format(compact)
