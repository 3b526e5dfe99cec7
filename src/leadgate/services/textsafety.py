"""What a caller may send: the one check every body, form and imported row passes.

A lead source can send any bytes. Some values cannot be stored or shown by
every database and every JSON encoder, so they are dealt with where the input
is parsed, never later:

- a lone UTF-16 surrogate (``"\\ud800"``, a JSON escape that is not Unicode):
  refused, 422 ``invalid_body`` naming the field (SQLite would store it and every
  page showing it would fail; PostgreSQL refuses it);
- ``NaN``, ``Infinity``, ``-Infinity`` and numbers that overflow a float
  (``1e999``): refused, they are not JSON (RFC 8259) and cannot be stored;
- integers outside the signed 64-bit range (a 4,000-digit ``company_size``):
  refused, no column or calculation downstream can hold them;
- ``\\u0000`` (NUL): **removed** from text (and field names). PostgreSQL cannot
  store it, it is never meaningful in a lead, and dropping it keeps the lead;
- nesting deeper than :data:`MAX_DEPTH` levels: refused.

:func:`clean` is the single function that decides; :func:`loads` is the strict
JSON parser built on it (used by the API for every JSON body).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import orjson

from leadgate.domain.errors import InvalidInput, MalformedRequest, UnsupportedMediaType

MAX_DEPTH = 32
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
#: A JSON integer with more digits than this cannot fit in 64 bits; it is not
#: converted at all (Python refuses to convert more than 4,300 digits anyway).
_MAX_INT_DIGITS = 19
#: orjson reads an integer beyond 64 bits as a float: a float this large may be one
_BIG = float(2**63)


#: Where the API's JSON guard leaves the parsed, cleaned body (ASGI scope key).
SCOPE_KEY = "leadgate.json"


def is_json_type(content_type: str | None) -> bool:
    """``application/json`` or any ``application/*+json``, parameters ignored."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


def require_json(content_type: str | None) -> None:
    """415 unless the body is declared as JSON."""
    if not is_json_type(content_type):
        shown = _printable(content_type or "none", 80)
        raise UnsupportedMediaType(f"send the body as application/json (got {shown})")


class InvalidBody(InvalidInput):
    """A body, form or row holds a value leadgate cannot store safely."""

    code = "invalid_body"

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field

    def details(self) -> dict[str, Any]:
        return {"field": self.field or None,
                "errors": [{"path": self.field, "message": self.message}]}


class _BadNumber:
    """A number the parser would not convert; :func:`clean` reports it with its path."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_int(text: str) -> int | _BadNumber:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        return _BadNumber(text)
    return int(text)


def _parse_float(text: str) -> float | _BadNumber:
    value = float(text)
    return value if math.isfinite(value) else _BadNumber(text)


def _printable(text: str, limit: int = 60) -> str:
    """``text`` safe to put in an error message (surrogates escaped, shortened)."""
    shown = text if len(text) <= limit else text[:limit] + "..."
    return shown.encode("utf-8", "backslashreplace").decode("utf-8")


def _path(base: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


class _ReadAgain(Exception):
    """orjson read an integer beyond 64 bits as a float: Python's parser must decide."""


def clean(value: Any, path: str = "", *, depth: int = 0, fast: bool = False) -> Any:
    """``value`` (JSON-like: mappings, lists, text, numbers, booleans, None) made
    safe to store and show: NUL removed from text; :class:`InvalidBody` naming
    the field for lone surrogates, non-finite or out-of-range numbers, or nesting
    deeper than :data:`MAX_DEPTH`. Returns the same object when nothing changed."""
    if isinstance(value, str):
        return _clean_text(value, path)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise InvalidBody("the number is outside the 64-bit integer range", field=path)
        return value
    if isinstance(value, float):
        if fast and not -_BIG < value < _BIG:
            raise _ReadAgain  # perhaps an integer literal orjson turned into a float
        if not math.isfinite(value):
            raise InvalidBody("NaN and Infinity are not numbers leadgate can store",
                              field=path)
        return value
    if isinstance(value, _BadNumber):
        what = "NaN and Infinity are not numbers leadgate can store" \
            if value.text in ("NaN", "Infinity", "-Infinity") \
            else "the number is too large (outside the 64-bit integer or float range)"
        raise InvalidBody(what, field=path)
    if depth >= MAX_DEPTH and isinstance(value, Mapping | list | tuple):
        raise InvalidBody(f"nested more than {MAX_DEPTH} levels deep", field=path)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidBody("field names must be text", field=path)
            name = _clean_text(key, _path(path, _printable(key)))
            sub = _path(path, name)
            new = clean(item, sub, depth=depth + 1, fast=fast)
            changed = changed or name is not key or new is not item
            out[name] = new
        return out if changed or not isinstance(value, dict) else value
    if isinstance(value, list | tuple):
        items = [clean(item, _path(path, i), depth=depth + 1, fast=fast)
                 for i, item in enumerate(value)]
        if isinstance(value, list) and all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items
    return value


def _clean_text(text: str, path: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start:exc.end].encode("utf-8", "backslashreplace").decode("ascii")
        raise InvalidBody(f"the text holds an unpaired surrogate ({bad}), which is not "
                          "valid Unicode; send UTF-8 text", field=path) from None
    return text.replace("\x00", "") if "\x00" in text else text


def loads(raw: bytes | str) -> Any:
    """Parse a JSON body strictly and :func:`clean` it (orjson first: it refuses
    what is not RFC 8259 JSON, and then Python's parser, with the hooks above, says
    why or reads what orjson cannot, such as integers beyond 64 bits).

    :class:`MalformedRequest` (400) when it is not JSON (or not UTF-8);
    :class:`InvalidBody` (422) when it is JSON holding a value listed above.
    """
    try:  # the usual body, read in C; anything orjson refuses gets the strict reading
        return clean(orjson.loads(raw), fast=True)
    except (orjson.JSONDecodeError, InvalidBody, _ReadAgain):
        pass  # the reading below says exactly what is wrong (or accepts it)
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise MalformedRequest(f"the body is not valid UTF-8: {exc}") from None
    try:
        data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                          parse_constant=_BadNumber)
    except json.JSONDecodeError as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidBody(f"the body is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # e.g. Python's limit on digits in an int
        raise InvalidBody(f"the body holds a number leadgate cannot read: {exc}") from None
    return clean(data)
