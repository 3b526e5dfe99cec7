"""Bulk import of leads from CSV or Excel, through the same pipeline as the API.

Each row is its own transaction (a bad row never takes good rows with it).
A ``created_at`` column, when present, is the row's capture time (for history
back-fills); every other column is a lead field. Rejected rows are written to a
report (CSV: row number, reason codes, messages, then the row itself).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from leadgate.domain.errors import InvalidInput, LeadgateError, NotFound
from leadgate.services import textsafety
from leadgate.services.csvsafe import safe_row
from leadgate.services.ingest import ingest_lead
from leadgate.store import models as m
from leadgate.store.uow import UnitOfWork

TIME_COLUMN = "created_at"


@dataclass
class RowOutcome:
    row: int
    status: str
    lead_id: int | None
    reasons: list[dict[str, Any]]
    values: dict[str, Any]


@dataclass
class ImportReport:
    total: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    rejected: list[RowOutcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "statuses": dict(self.statuses),
                "reasons": dict(self.reasons), "rejected_rows": len(self.rejected)}

    def write_rejects(self, path: Path) -> None:
        cols: list[str] = []
        for r in self.rejected:
            cols.extend(k for k in r.values if k not in cols)
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(safe_row(["row", "reason_codes", "messages", *cols]))
            for r in self.rejected:
                w.writerow(safe_row([r.row, ";".join(x["code"] for x in r.reasons),
                                     " | ".join(x["message"] for x in r.reasons),
                                     *[r.values.get(c, "") for c in cols]]))


def read_rows(name: str, data: bytes) -> tuple[list[str], Iterator[dict[str, Any]], int]:
    """Columns, rows and row count of a CSV or .xlsx file."""
    if name.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a bad file
            raise InvalidInput(f"{name} is not a readable Excel file: {exc}",
                               code="invalid_file") from None
        sheet = wb.active
        rows = [list(r) for r in sheet.iter_rows(values_only=True)] if sheet else []
        if not rows:
            raise InvalidInput(f"{name} is empty", code="invalid_file")
        header = [str(h).strip() if h is not None else "" for h in rows[0]]
        body = [r for r in rows[1:] if any(v not in (None, "") for v in r)]
        it = ({h: ("" if v is None else v) for h, v in zip(header, r, strict=False) if h}
              for r in body)
        return header, it, len(body)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    if not reader.fieldnames:
        raise InvalidInput(f"{name} has no header row", code="invalid_file")
    lines = list(reader)
    return list(reader.fieldnames), iter(lines), len(lines)


def import_rows(uow_factory: Callable[[], UnitOfWork], source_key: str,
                rows: Iterator[dict[str, Any]], clock: Callable[[], datetime], *,
                progress: Callable[[int], None] | None = None) -> ImportReport:
    report = ImportReport()
    with uow_factory() as uow:
        source = uow.session.scalar(select(m.Source).where(m.Source.key == source_key))
        if source is None:
            raise NotFound(f"no source with key {source_key!r}")
        source_id = source.id
    for i, row in enumerate(rows, start=2):  # row 1 is the header
        values = {k: v for k, v in row.items() if k is not None}
        when = row_time(values.pop(TIME_COLUMN, None)) or clock()
        # empty cells are absent fields; other values go in raw, as written
        payload = {k: v for k, v in values.items()
                   if v is not None and not (isinstance(v, str) and not v.strip())}
        report.total += 1
        try:
            payload = textsafety.clean(payload)
            with uow_factory() as uow:
                src = uow.session.get(m.Source, source_id)
                assert src is not None
                result = ingest_lead(uow, src, payload, when, via="import")
            status = result.body.get("status", "rejected") if result.status_code < 400 \
                else "rejected"
            reasons = list(result.body.get("reasons") or [])
            outcome = RowOutcome(i, status, result.lead_id, reasons, values)
        except LeadgateError as exc:
            outcome = RowOutcome(i, "rejected", None,
                                 [{"code": exc.code, "message": exc.message}], values)
        report.statuses[outcome.status] += 1
        if outcome.status in ("rejected", "merged", "quarantined"):
            for r in outcome.reasons:
                report.reasons[r["code"]] += 1
        if outcome.status == "rejected":
            report.rejected.append(outcome)
        if progress:
            progress(1)
    return report


def row_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
