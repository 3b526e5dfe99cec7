"""Loose comparisons used by the condition language (compiled once per leaf).

Strings compare trimmed and case-folded, numbers numerically (a numeric string counts as
its number), booleans match true/false/yes/no/1/0 texts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = [
    "FALSE_TEXTS",
    "TRUE_TEXTS",
    "between",
    "contains",
    "equal_to",
    "is_missing",
    "is_orderable",
    "is_scalar",
    "jsonable",
    "order",
    "starts_with",
    "text_of",
    "to_number",
]

_NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
TRUE_TEXTS = {"true", "yes", "1", "y", "on"}
FALSE_TEXTS = {"false", "no", "0", "n", "off"}


def is_missing(value: Any) -> bool:
    """True for the values the condition language treats as a missing field."""
    return value is None or value == ""


def to_number(value: Any) -> float | None:
    """``value`` as a float if it is a number or a numeric string; booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str) and _NUMERIC.match(value):
        return float(value)
    return None


def text_of(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def equal_to(expected: Any) -> Callable[[Any], bool]:
    """A predicate ``actual == expected`` with the language's loose equality."""
    if isinstance(expected, bool):
        def eq_bool(actual: Any) -> bool:
            if isinstance(actual, bool):
                return actual is expected
            if isinstance(actual, str):
                low = actual.strip().casefold()
                return low in (TRUE_TEXTS if expected else FALSE_TEXTS)
            return False
        return eq_bool
    num = to_number(expected)
    if isinstance(expected, str):
        folded = expected.strip().casefold()

        def eq_text(actual: Any) -> bool:
            if isinstance(actual, str):
                if actual.strip().casefold() == folded:
                    return True
                if num is not None:
                    a = to_number(actual)
                    return a is not None and a == num
                return False
            if isinstance(actual, bool):
                return folded in (TRUE_TEXTS if actual else FALSE_TEXTS)
            if num is not None:
                a = to_number(actual)
                return a is not None and a == num
            return text_of(actual).casefold() == folded
        return eq_text

    def eq_num(actual: Any) -> bool:
        a = to_number(actual)
        return a is not None and a == num
    return eq_num


def order(op: str, expected: Any) -> Callable[[Any], bool]:
    num = to_number(expected)
    cmp: Callable[[Any, Any], bool] = {
        "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
    }[op]
    if num is not None:
        def order_num(actual: Any) -> bool:
            a = to_number(actual)
            return a is not None and cmp(a, num)
        return order_num
    folded = str(expected).casefold()

    def order_text(actual: Any) -> bool:
        if isinstance(actual, bool) or to_number(actual) is not None:
            return False
        return cmp(text_of(actual).casefold(), folded)
    return order_text


def between(lo: Any, hi: Any) -> Callable[[Any], bool]:
    above, below = order("gte", lo), order("lte", hi)
    return lambda actual: above(actual) and below(actual)


def contains(expected: Any) -> Callable[[Any], bool]:
    member = equal_to(expected)
    needle = text_of(expected).casefold()

    def contains(actual: Any) -> bool:
        if isinstance(actual, str):
            return needle in actual.casefold()
        if isinstance(actual, list | tuple | set | frozenset):
            return any(member(x) for x in actual)
        return False
    return contains


def starts_with(prefixes: tuple[str, ...]) -> Callable[[Any], bool]:
    folded = tuple(p.strip().casefold() for p in prefixes)
    return lambda actual: text_of(actual).casefold().startswith(folded)


def is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool | int | float) and not (
        isinstance(value, float) and value != value
    )


def is_orderable(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)
