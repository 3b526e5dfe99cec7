"""Path and query parameters every route shares: bounded ids, offsets and times.

Ids are 64-bit in the database: a number above 2**63-1 in a path or a query
would overflow the driver (a 500), so it is refused with 422 before any query
runs. :func:`guard_params` applies the same bounds to every API route at once
(installed on the routers in ``create_app``), and checks that date-time query
parameters are written as RFC 3339 date-times (``2026-11-23T10:00:00Z``), as
the OpenAPI document says, rather than anything pydantic could coerce (a bare
``0.0`` would otherwise mean 1970).
"""

from __future__ import annotations

import re
import types
from datetime import datetime
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Path, Query, Request
from fastapi.exceptions import RequestValidationError

MAX_ID = 2**63 - 1

DbId = Annotated[int, Path(ge=1, le=MAX_ID, description="A numeric id (1 to 2^63-1)")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]

ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:\d{2})?$")

_cache: dict[int, list[tuple[str, str, type]]] = {}


def _base_type(annotation: Any) -> Any:
    """``int`` for ``int``, ``int | None``, ``Annotated[int, ...]``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _base_type(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else None
    return annotation


def _checked_params(route: Any) -> list[tuple[str, str, type]]:
    """(where, name, type) of the route's int and datetime path/query parameters."""
    key = id(route)
    if key in _cache:
        return _cache[key]
    found: list[tuple[str, str, type]] = []
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        for where, fields in (("path", dep.path_params), ("query", dep.query_params)):
            for f in fields:
                base = _base_type(f.field_info.annotation)
                if base is int or base is datetime:
                    found.append((where, f.alias, base))
        stack.extend(dep.dependencies)
    _cache[key] = found
    return found


def _int_error(raw: str) -> str | None:
    text = raw.strip()
    digits = text.lstrip("+-")
    if not digits.isdigit():
        return None  # not an integer at all: the route's own validation says so
    if len(digits) > 19 or not -MAX_ID - 1 <= int(text) <= MAX_ID:
        return "the number is out of range (at most 2^63-1)"
    return None


async def guard_params(request: Request) -> None:
    """Refuse (422) out-of-range integers and non-RFC 3339 date-times in the path
    or the query of the matched route, whatever the route declared. (``async``:
    a plain ``def`` dependency would cost a thread-pool hop on every request.)"""
    route = request.scope.get("route")
    if route is None or not hasattr(route, "dependant"):
        return
    errors = []
    for where, name, kind in _checked_params(route):
        values = [request.path_params.get(name)] if where == "path" \
            else request.query_params.getlist(name)
        for raw in values:
            if not isinstance(raw, str):
                continue
            if kind is int:
                msg = _int_error(raw)
            else:
                msg = None if ISO_DATETIME.match(raw.strip()) else \
                    "write a date-time as in RFC 3339, e.g. 2026-11-23T10:00:00Z"
            if msg:
                errors.append({"type": "value_error", "loc": (where, name), "msg": msg,
                               "input": raw[:40]})
    if errors:
        raise RequestValidationError(errors)
