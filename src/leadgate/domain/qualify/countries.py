"""Countries and their subdivisions, from what people actually type.

Names are matched case- and accent-insensitively against pycountry's ISO 3166
names (official, common), its alpha-2/alpha-3 codes, and its translations of
country names in several languages (so "Deutschland", "Brasil", "España",
"Inde" all resolve), plus a short list of colloquial aliases ("UK", "USA",
"Holland") that no standard carries.
"""

from __future__ import annotations

import gettext
import unicodedata
from functools import cache

import pycountry

#: Languages whose country-name translations are accepted as input.
NAME_LANGUAGES: tuple[str, ...] = (
    "de", "fr", "es", "pt", "pt_BR", "it", "nl", "sv", "da", "nb_NO", "pl", "tr", "id",
    "hi", "ru", "zh_CN", "ja", "ar",
)

#: Colloquial names with no ISO spelling (checked after the standard names).
ALIASES: dict[str, str] = {
    "uk": "GB", "u.k.": "GB", "u k": "GB", "great britain": "GB", "britain": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "united kingdom": "GB", "usa": "US", "u.s.a.": "US", "u.s.": "US", "us of a": "US",
    "united states": "US", "united states of america": "US", "america": "US",
    "holland": "NL", "the netherlands": "NL", "russia": "RU", "south korea": "KR",
    "korea": "KR", "north korea": "KP", "iran": "IR", "vietnam": "VN", "syria": "SY",
    "laos": "LA", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ", "moldova": "MD",
    "czech republic": "CZ", "ivory coast": "CI", "uae": "AE", "u.a.e.": "AE",
    "emirates": "AE", "bharat": "IN", "hindustan": "IN", "brasil": "BR",
    "deutschland": "DE", "espana": "ES", "turkey": "TR", "turkiye": "TR",
    "kingdom of saudi arabia": "SA", "ksa": "SA", "macedonia": "MK", "burma": "MM",
    "cape verde": "CV", "swaziland": "SZ", "vatican": "VA", "taiwan": "TW",
}


def fold(text: str) -> str:
    """Case-, accent- and space-insensitive form of ``text`` for matching."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.replace("_", " ").split())


@cache
def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    translations = []
    for lang in NAME_LANGUAGES:
        try:
            translations.append(gettext.translation("iso3166-1", pycountry.LOCALES_DIR,
                                                    languages=[lang]))
        except OSError:
            continue
    for c in pycountry.countries:
        code = c.alpha_2
        base = [n for n in (c.name, getattr(c, "official_name", None),
                            getattr(c, "common_name", None)) if n]
        names = list(base)
        for t in translations:
            names.extend(t.gettext(n) for n in base)
        for n in names:
            if n:
                index.setdefault(fold(n), code)
        # "Korea, Republic of" -> also "Republic of Korea"
        if "," in c.name:
            head, _, tail = c.name.partition(",")
            index.setdefault(fold(f"{tail} {head}"), code)
    for alias, code in ALIASES.items():
        index[fold(alias)] = code
    return index


@cache
def _alpha_codes() -> tuple[frozenset[str], dict[str, str]]:
    alpha2 = frozenset(c.alpha_2 for c in pycountry.countries)
    alpha3 = {c.alpha_3: c.alpha_2 for c in pycountry.countries}
    return alpha2, alpha3


def country_code(value: str) -> str | None:
    """ISO 3166-1 alpha-2 code for a code or name in many languages, else ``None``."""
    text = value.strip()
    if not text:
        return None
    alpha2, alpha3 = _alpha_codes()
    upper = text.upper()
    if upper == "UK":
        return "GB"
    if len(upper) == 2 and upper in alpha2:
        return upper
    if len(upper) == 3 and upper in alpha3:
        return alpha3[upper]
    return _country_index().get(fold(text))


@cache
def _subdivision_index(country: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for s in pycountry.subdivisions.get(country_code=country) or []:  # type: ignore[no-untyped-call]
        index[fold(s.code)] = s.code
        index.setdefault(fold(s.code.split("-", 1)[1]), s.code)
        index.setdefault(fold(s.name), s.code)
    return index


def subdivision_code(value: str, country: str | None) -> str | None:
    """ISO 3166-2 code (``IN-MH``) from a code, a bare suffix or a name, else ``None``."""
    text = value.strip()
    if not text:
        return None
    if "-" in text[:4]:
        prefix = text.split("-", 1)[0].upper()
        if len(prefix) == 2:
            return _subdivision_index(prefix).get(fold(text))
    if country is None:
        return None
    return _subdivision_index(country).get(fold(text))
