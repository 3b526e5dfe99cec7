"""Database: insert a row per lead into a table of an external database
(PostgreSQL, MariaDB/MySQL, SQLite), through SQLAlchemy.

::

    - key: warehouse
      kind: database
      url: postgresql+psycopg://loader:...@db.example/crm     # or mysql+pymysql://...
      table: inbound_leads
      schema: public            # optional
      columns: {lead_ref: idempotency_key, full_name: "{{ lead.first_name }}", phone: phone}

Map the delivery's ``idempotency_key`` to a column with a unique index and a
repeated insert (after an interrupted attempt) is answered ``duplicate``
instead of making a second row. Engines are kept per URL per process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, column, create_engine, insert, table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from leadgate.delivery.base import (
    DeliveryError,
    Exchange,
    Kind,
    Outcome,
    SendContext,
    elapsed_ms,
    register,
    text,
    unknown_keys,
)
from leadgate.delivery.render import check_mapping, map_fields
from leadgate.domain.errors import InvalidConfig

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def dispose_engines() -> None:
    """Close the pooled connections to external databases (when the app closes)."""
    with _LOCK:
        engines = list(_ENGINES.values())
        _ENGINES.clear()
    for eng in engines:
        eng.dispose()


def engine_for(url: str) -> Engine:
    with _LOCK:
        eng = _ENGINES.get(url)
        if eng is None:
            eng = create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2) \
                if not url.startswith("sqlite") else create_engine(url)
            _ENGINES[url] = eng
        return eng


def dispose_all() -> None:
    with _LOCK:
        for eng in _ENGINES.values():
            eng.dispose()
        _ENGINES.clear()


@register
class Database(Kind):
    name = "database"
    description = "insert a row into a table of an external database (SQLAlchemy)"

    def parse(self, data: Mapping[str, Any], path: str) -> dict[str, Any]:
        unknown_keys(data, {"url", "table", "schema", "columns"}, path)
        url = text(data, "url", path) or ""
        try:
            make_url(url)
        except Exception:
            raise InvalidConfig("url is not a database URL", path=f"{path}.url") from None
        return {"url": url, "table": text(data, "table", path),
                "schema": data.get("schema"),
                "columns": check_mapping(data.get("columns"), f"{path}.columns")}

    def secrets(self, config: Mapping[str, Any]) -> list[str]:
        pw = make_url(config["url"]).password
        return [str(pw)] if pw else []

    def prepare(self, config: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        target = f"{config['schema']}.{config['table']}" if config.get("schema") \
            else config["table"]
        return {"table": target, "row": map_fields(config["columns"], lead)}

    def send(self, config: Mapping[str, Any], lead: Mapping[str, Any],
             ctx: SendContext) -> tuple[Outcome, Exchange]:
        p = self.prepare(config, lead)
        row = p["row"]
        seen = Exchange(request={"url": make_url(config["url"]).render_as_string(
            hide_password=True), "table": p["table"], "row": row})
        t = table(config["table"], *(column(c) for c in row), schema=config.get("schema"))
        start = ctx.clock()
        try:
            with engine_for(config["url"]).begin() as conn:
                conn.execute(insert(t).values(**row))
        except IntegrityError as exc:
            seen.response = {"error": str(exc.orig)[:500]}
            return Outcome("duplicate", "the row exists already (unique constraint)"), seen
        except OperationalError as exc:
            raise DeliveryError(f"database unavailable: {str(exc.orig)[:300]}") from None
        except DBAPIError as exc:  # bad column, type error: a person must fix the mapping
            seen.response = {"error": str(exc.orig)[:500]}
            return Outcome("error", f"insert refused: {str(exc.orig)[:300]}",
                           retryable=False), seen
        except SQLAlchemyError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        seen.response = {"ms": elapsed_ms(start, ctx.clock), "inserted": 1}
        return Outcome("accepted", "row inserted"), seen
