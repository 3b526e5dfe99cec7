"""Normalise one raw field value to its canonical, JSON-able form.

Each normaliser returns the clean value or raises :class:`FieldProblem` with a
stable reason code. Libraries do the hard parts: phonenumbers (E.164, validity,
line type), email-validator (syntax, no network), pycountry (countries and
subdivisions).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator import rfc_constants as email_rfc

from leadgate.domain.campaigns import FieldSpec
from leadgate.domain.qualify.countries import country_code, subdivision_code
from leadgate.domain.qualify.postal import FORMATS, format_postal_code

#: Field names treated as person names: trimmed, cased and junk-checked.
NAME_FIELDS: frozenset[str] = frozenset({
    "first_name", "last_name", "middle_name", "name", "full_name", "firstname", "lastname",
    "contact_name", "given_name", "family_name", "surname",
})

_LINE_TYPES: dict[int, str] = {
    phonenumbers.PhoneNumberType.FIXED_LINE: "fixed_line",
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium_rate",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared_cost",
    phonenumbers.PhoneNumberType.VOIP: "voip",
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    phonenumbers.PhoneNumberType.PAGER: "pager",
    phonenumbers.PhoneNumberType.UAN: "uan",
    phonenumbers.PhoneNumberType.VOICEMAIL: "voicemail",
}

_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_NON_DIGITS = re.compile(r"\D")
_NAME_PARTS = re.compile(r"([\s\-'])")


class FieldProblem(Exception):
    """A field value that cannot be accepted: a reason code and a sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PhoneInfo:
    """A parsed, valid phone number."""

    e164: str
    region: str | None
    line_type: str
    number: phonenumbers.PhoneNumber
    #: phonenumbers' PhoneNumberType, computed once (enrichment reuses it)
    ntype: int = -1


@dataclass(frozen=True)
class Context:
    """What a normaliser may need beyond the value: the lead's country and regions."""

    country: str | None = None
    phone_regions: Sequence[str] = ()


def is_blank(value: Any) -> bool:
    """A missing value: ``None``, an empty or whitespace-only string, an empty list."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | dict) and not value


def _text(spec: FieldSpec, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldProblem("invalid_type", f"{_label(spec)} must be text.")
    return str(value)


def _label(spec: FieldSpec) -> str:
    return spec.label or spec.name.replace("_", " ").capitalize()


def case_name(text: str) -> str:
    """Title-case a name typed all in lower or upper case; keep deliberate casing."""
    if text != text.lower() and text != text.upper():
        return text
    parts = _NAME_PARTS.split(text.lower())
    return "".join(p[:1].upper() + p[1:] for p in parts)


def _check_text_limits(spec: FieldSpec, text: str) -> str:
    if spec.max_length is not None and len(text) > spec.max_length:
        raise FieldProblem("invalid_value",
                           f"{_label(spec)} is longer than {spec.max_length} characters.")
    if spec.pattern is not None and not re.fullmatch(spec.pattern, text):
        raise FieldProblem("invalid_value", f"{_label(spec)} does not have the expected form.")
    return text


def norm_string(spec: FieldSpec, value: Any, ctx: Context) -> str:
    text = " ".join(_text(spec, value).split())
    if spec.name.lower() in NAME_FIELDS:
        text = case_name(text)
    return _check_text_limits(spec, text)


def norm_text(spec: FieldSpec, value: Any, ctx: Context) -> str:
    return _check_text_limits(spec, _text(spec, value).strip())


@functools.lru_cache(maxsize=4096)
def _email_domain(domain: str) -> tuple[str, int] | None:
    """The normalised domain of an address at ``domain`` and the longest of its
    three forms (as typed, normalised, IDNA ASCII) in UTF-8 bytes, or ``None`` if
    ``domain`` is refused (the full check then says why)."""
    try:
        result = validate_email("a@" + domain, check_deliverability=False)
    except EmailNotValidError:
        return None
    longest = max(len(d.encode()) for d in (domain, result.domain, result.ascii_domain))
    return str(result.domain), longest


def _simple_email(text: str) -> str | None:
    """``validate_email(text).normalized`` for the common address: a plain ASCII
    dot-atom before the @ and a domain already checked once (cached per domain,
    the costly half); ``None`` for anything else, which takes the full check."""
    local, at, domain = text.rpartition("@")
    if not at or len(local) > email_rfc.LOCAL_PART_MAX_LENGTH or \
            not email_rfc.DOT_ATOM_TEXT.match(local):
        return None
    found = _email_domain(domain)
    if found is None or len(local) + 1 + found[1] > email_rfc.EMAIL_MAX_LENGTH:
        return None
    return local + "@" + found[0]


def norm_email(spec: FieldSpec, value: Any, ctx: Context) -> str:
    if not isinstance(value, str):
        raise FieldProblem("invalid_email", f"{_label(spec)} is not an email address.")
    simple = _simple_email(value.strip())
    if simple is not None:
        return simple.lower()
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldProblem("invalid_email",
                           f"{_label(spec)} is not a valid email address: {exc}") from None
    return str(result.normalized).lower()


def parse_phone(text: str, regions: Sequence[str]) -> PhoneInfo | None:
    """Parse ``text``; national numbers are tried in each region in turn. ``None`` if invalid."""
    attempts: list[tuple[str, str | None]] = []
    if text.lstrip().startswith("+"):
        attempts.append((text, None))
    else:
        attempts.extend((text, r) for r in regions)
        digits = _NON_DIGITS.sub("", text)
        if len(digits) >= 10:  # a country code typed without its '+'
            attempts.append(("+" + digits, None))
    for candidate, region in attempts:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        # is_valid_number(n) is number_type(n) != UNKNOWN (both look up the number's
        # region and match its national number against the type patterns): once
        ntype = phonenumbers.number_type(number)
        if ntype != phonenumbers.PhoneNumberType.UNKNOWN:
            return PhoneInfo(
                e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                region=phonenumbers.region_code_for_number(number),
                line_type=_LINE_TYPES.get(ntype, "unknown"),
                number=number,
                ntype=ntype,
            )
    return None


def norm_phone(spec: FieldSpec, value: Any, ctx: Context) -> PhoneInfo:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FieldProblem("invalid_phone", f"{_label(spec)} is not a phone number.")
    info = parse_phone(str(value), ctx.phone_regions)
    if info is None:
        raise FieldProblem("invalid_phone", f"{_label(spec)} is not a valid phone number.")
    if spec.line_types is not None and info.line_type not in spec.line_types:
        raise FieldProblem("phone_line_type",
                           f"{_label(spec)} is a {info.line_type.replace('_', ' ')} number; "
                           f"expected {' or '.join(spec.line_types)}.")
    return info


def norm_country(spec: FieldSpec, value: Any, ctx: Context) -> str:
    code = country_code(value) if isinstance(value, str) else None
    if code is None:
        raise FieldProblem("invalid_country", f"{_label(spec)} is not a known country.")
    return code


def norm_region(spec: FieldSpec, value: Any, ctx: Context) -> str:
    code = subdivision_code(value, ctx.country) if isinstance(value, str) else None
    if code is None:
        raise FieldProblem("invalid_value",
                           f"{_label(spec)} is not a known state, province or region"
                           + (f" of {ctx.country}." if ctx.country else "."))
    return code


def norm_postal_code(spec: FieldSpec, value: Any, ctx: Context) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise FieldProblem("invalid_type", f"{_label(spec)} must be text.")
    formatted = format_postal_code(value, ctx.country)
    if formatted is None:
        example = FORMATS[ctx.country].example if ctx.country in FORMATS else ""
        raise FieldProblem("invalid_postal_code",
                           f"{_label(spec)} is not a valid postal code for {ctx.country}"
                           + (f" (e.g. {example})." if example else "."))
    return formatted


def norm_enum(spec: FieldSpec, value: Any, ctx: Context) -> str:
    wanted = " ".join(str(value).split()).casefold()
    for allowed in spec.values or ():
        if allowed.casefold() == wanted:
            return allowed
    raise FieldProblem("invalid_value",
                       f"{_label(spec)} must be one of: {', '.join(spec.values or ())}.")


def _read_number(spec: FieldSpec, value: Any) -> float | int:
    if isinstance(value, bool):
        raise FieldProblem("invalid_type", f"{_label(spec)} must be a number.")
    if isinstance(value, int | float):
        number: float | int = value
    elif isinstance(value, str):
        text = value.strip().replace("_", "")
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise FieldProblem("invalid_type", f"{_label(spec)} must be a number.") from None
    else:
        raise FieldProblem("invalid_type", f"{_label(spec)} must be a number.")
    if isinstance(number, float) and not math.isfinite(number):
        raise FieldProblem("invalid_type", f"{_label(spec)} must be a finite number.")
    return number


def _check_range(spec: FieldSpec, number: float | int) -> None:
    if spec.min is not None and number < spec.min:
        raise FieldProblem("invalid_value", f"{_label(spec)} must be at least {spec.min:g}.")
    if spec.max is not None and number > spec.max:
        raise FieldProblem("invalid_value", f"{_label(spec)} must be at most {spec.max:g}.")


def norm_integer(spec: FieldSpec, value: Any, ctx: Context) -> int:
    number = _read_number(spec, value)
    if isinstance(number, float):
        if not number.is_integer():
            raise FieldProblem("invalid_type", f"{_label(spec)} must be a whole number.")
        number = int(number)
    _check_range(spec, number)
    return number


def norm_number(spec: FieldSpec, value: Any, ctx: Context) -> float | int:
    number = _read_number(spec, value)
    _check_range(spec, number)
    return number


def norm_boolean(spec: FieldSpec, value: Any, ctx: Context) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FieldProblem("invalid_type", f"{_label(spec)} must be yes or no.")


def norm_date(spec: FieldSpec, value: Any, ctx: Context) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        raise FieldProblem("invalid_type",
                           f"{_label(spec)} must be a date (YYYY-MM-DD).") from None


def norm_datetime(spec: FieldSpec, value: Any, ctx: Context) -> str:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise FieldProblem("invalid_type",
                               f"{_label(spec)} must be an ISO 8601 date and time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def norm_url(spec: FieldSpec, value: Any, ctx: Context) -> str:
    text = str(value).strip() if isinstance(value, str) else ""
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in text:
        raise FieldProblem("invalid_type", f"{_label(spec)} must be an http(s) URL.")
    return _check_text_limits(spec, text)


NORMALISERS: dict[str, Callable[[FieldSpec, Any, Context], Any]] = {
    "string": norm_string, "text": norm_text, "email": norm_email, "phone": norm_phone,
    "country": norm_country, "region": norm_region, "postal_code": norm_postal_code,
    "enum": norm_enum, "integer": norm_integer, "number": norm_number,
    "boolean": norm_boolean, "date": norm_date, "datetime": norm_datetime, "url": norm_url,
}

#: The reason code a field type's validity check reports when it fails outright.
CHECK_CODE: dict[str, str] = {
    "email": "invalid_email", "phone": "invalid_phone", "country": "invalid_country",
    "postal_code": "invalid_postal_code",
}
