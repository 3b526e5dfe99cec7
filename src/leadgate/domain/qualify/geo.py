"""Offline geography: time zones of countries and subdivisions, regions of postal codes.

Country time zones come from the IANA ``zone.tab`` shipped by the ``tzdata``
package. Subdivision zones are listed here only where a whole subdivision keeps
one zone (Texas, Florida, Ontario... span two and are left out, so the phone's
zone or nothing is used). US ZIP prefixes and Canadian postal districts map to
their state/province.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

_E, _C, _M, _P = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"

_EASTERN = ("CT", "DE", "DC", "GA", "ME", "MD", "MA", "NH", "NJ", "NY", "NC", "OH", "PA", "RI",
            "SC", "VT", "VA", "WV")
_CENTRAL = ("AL", "AR", "IL", "IA", "LA", "MN", "MS", "MO", "OK", "WI")
_BR_SOUTHEAST = ("SP", "RJ", "MG", "ES", "PR", "SC", "RS", "GO", "DF")

SUBDIVISION_ZONES: dict[str, str] = {
    **{f"US-{s}": _E for s in _EASTERN},
    **{f"US-{s}": _C for s in _CENTRAL},
    **{f"US-{s}": _M for s in ("CO", "MT", "NM", "UT", "WY")},
    **{f"US-{s}": _P for s in ("CA", "WA")},
    "US-AZ": "America/Phoenix", "US-HI": "Pacific/Honolulu", "US-PR": "America/Puerto_Rico",
    "CA-AB": "America/Edmonton", "CA-SK": "America/Regina", "CA-MB": "America/Winnipeg",
    "CA-NS": "America/Halifax", "CA-NB": "America/Moncton", "CA-PE": "America/Halifax",
    "AU-VIC": "Australia/Melbourne", "AU-QLD": "Australia/Brisbane", "AU-SA": "Australia/Adelaide",
    "AU-WA": "Australia/Perth", "AU-TAS": "Australia/Hobart", "AU-ACT": "Australia/Sydney",
    "AU-NT": "Australia/Darwin",
    **{f"BR-{s}": "America/Sao_Paulo" for s in _BR_SOUTHEAST},
    "BR-BA": "America/Bahia", "BR-PE": "America/Recife", "BR-CE": "America/Fortaleza",
}

# First three ZIP digits (inclusive ranges) -> state.
_ZIP3: tuple[tuple[int, int, str], ...] = (
    (5, 5, "NY"), (6, 9, "PR"), (10, 27, "MA"), (28, 29, "RI"), (30, 38, "NH"), (39, 49, "ME"),
    (50, 59, "VT"), (60, 69, "CT"), (70, 89, "NJ"), (100, 149, "NY"), (150, 196, "PA"),
    (197, 199, "DE"), (200, 205, "DC"), (206, 219, "MD"), (220, 246, "VA"), (247, 268, "WV"),
    (270, 289, "NC"), (290, 299, "SC"), (300, 319, "GA"), (320, 349, "FL"), (350, 369, "AL"),
    (370, 385, "TN"), (386, 397, "MS"), (398, 399, "GA"), (400, 427, "KY"), (430, 459, "OH"),
    (460, 479, "IN"), (480, 499, "MI"), (500, 528, "IA"), (530, 549, "WI"), (550, 567, "MN"),
    (570, 577, "SD"), (580, 588, "ND"), (590, 599, "MT"), (600, 629, "IL"), (630, 658, "MO"),
    (660, 679, "KS"), (680, 693, "NE"), (700, 714, "LA"), (716, 729, "AR"), (730, 749, "OK"),
    (750, 799, "TX"), (800, 816, "CO"), (820, 831, "WY"), (832, 838, "ID"), (840, 847, "UT"),
    (850, 865, "AZ"), (870, 884, "NM"), (885, 885, "TX"), (889, 898, "NV"), (900, 961, "CA"),
    (967, 968, "HI"), (970, 979, "OR"), (980, 994, "WA"), (995, 999, "AK"),
)

_CA_DISTRICTS: dict[str, str] = {
    "A": "NL", "B": "NS", "C": "PE", "E": "NB", "G": "QC", "H": "QC", "J": "QC", "K": "ON",
    "L": "ON", "M": "ON", "N": "ON", "P": "ON", "R": "MB", "S": "SK", "T": "AB", "V": "BC",
    "Y": "YT",
}


def region_from_postal(postal: str, country: str | None) -> str | None:
    """ISO 3166-2 subdivision of a formatted postal code, where the code alone says it."""
    if country == "US" and postal[:5].isdigit():
        zip3 = int(postal[:3])
        for lo, hi, state in _ZIP3:
            if lo <= zip3 <= hi:
                return f"US-{state}" if state != "PR" else None
    if country == "CA" and postal[:1] in _CA_DISTRICTS:
        return f"CA-{_CA_DISTRICTS[postal[:1]]}"
    return None


@cache
def _country_zones() -> dict[str, tuple[str, ...]]:
    zones: dict[str, list[str]] = {}
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        zones.setdefault(parts[0], []).append(parts[2])
    return {k: tuple(v) for k, v in zones.items()}


def country_zones(country: str) -> tuple[str, ...]:
    """Every IANA zone of a country (``zone.tab``)."""
    return _country_zones().get(country, ())


def zone_for(country: str | None, region: str | None) -> str | None:
    """The one zone of a subdivision or a single-zone country, else ``None``."""
    if region and region in SUBDIVISION_ZONES:
        return SUBDIVISION_ZONES[region]
    if country:
        return _single_zone(country)
    return None


@cache
def _single_zone(country: str) -> str | None:
    """The country's first zone if all its zones keep the same clock (DE: Berlin, Busingen)."""
    zones = country_zones(country)
    if not zones:
        return None
    probes = [datetime(2024, 1, 15, 12, tzinfo=UTC),
              datetime(2024, 7, 15, 12, tzinfo=UTC)]
    offsets = {tuple(p.astimezone(ZoneInfo(z)).utcoffset() for p in probes) for z in zones}
    return zones[0] if len(offsets) == 1 else None
