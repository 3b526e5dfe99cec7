"""Durations in flows: ``"750ms"``, ``"90s"``, ``"5m"``, ``"2h"``, ``"1d"`` or seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from leadgate.domain.errors import InvalidFlow

__all__ = ["parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, *, path: str) -> timedelta:
    """``"750ms"``, ``"90s"``, ``"5m"``, ``"2h"``, ``"1d"`` or a number of seconds (> 0)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise InvalidFlow(f"bad duration {value!r}; use e.g. 90s, 5m, 2h", path=path)
    if seconds <= 0:
        raise InvalidFlow(f"duration must be positive, got {value!r}", path=path)
    return timedelta(seconds=seconds)
