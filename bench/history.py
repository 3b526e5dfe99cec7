"""Seed a realistic lead history fast, for bench/bench_http.py.

``seed_history(app, n)`` bulk-inserts ``n`` leads spread over the last 90
days into a workspace where the demo setup (tests/conftest.py ``SETUP``) is
applied, with SQLAlchemy Core executemany: no HTTP, no ORM, 100,000 leads in
seconds on SQLite and PostgreSQL.

The rows are clones of real ones: a few template leads are first posted
through the real API in-process (one per agent of the round robin, and one
refused), read back whole, then deleted; every history lead copies its
template's columns (so columns added later are filled too) and gets its own
name, phone, email, times and status:

- rejected (8%) and quarantined (2%), the rest accepted and assigned round
  robin over the demo agents, with its ``assignments`` row and its finished
  ``lead.assigned`` job;
- accepted leads older than a week are mostly closed: won 18%, lost 62%,
  still assigned 20%; younger ones are mostly still assigned;
- lead_events: received, (qualified, assigned | rejected | quarantined), and
  won or lost when closed;
- dedupe_keys for accepted and quarantined leads, made by the real
  ``leadgate.domain.qualify.dedupe_keys``.

History phones are ``+91 90XXXXXXXX`` (slot 00 of bench/post_leads.lua),
history emails ``h<n>@example.org``, so the measured leads never collide with
the history in the dedupe window.

After the insert, ``leadgate.services.loads.rebuild`` recomputes the agents'
live loads (``agent_loads``) from the history.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Table, delete, func, select, text

from leadgate.bootstrap import App
from leadgate.domain.qualify import dedupe_keys
from leadgate.services import catalog
from leadgate.store import models as m

KEY = "lg_src_test_website_key_0000"  # tests/conftest.py WEBSITE_KEY
NAMES = ("Asha", "Ravi", "Meena", "Karan", "Divya", "Rahul", "Sneha", "Vikram", "Anita",
         "Rohan", "Priya", "Arjun", "Kavya", "Nikhil", "Pooja", "Sanjay")
DAYS = 90
BATCH = 10_000
QUARANTINE_REASON = {"code": "disposable_email", "field": "email",
                     "message": "example.org is a disposable (throw-away) email domain."}


@dataclass(frozen=True)
class HistoryReport:
    leads: int
    rows: dict[str, int]
    seconds: float
    loads_rebuilt: bool

    def __str__(self) -> str:
        rows = ", ".join(f"{k} {v:,}" for k, v in self.rows.items())
        return (f"{self.leads:,} history leads in {self.seconds:.1f} s ({rows}); "
                f"loads rebuilt: {'yes' if self.loads_rebuilt else 'no (no services.loads)'}")


def history_phone(i: int) -> str:
    """The phone of history lead ``i`` as posted: slot 00, never a measured lead's."""
    return f"+91 90{i:08d}"


def _payload(i: int, name: str) -> dict[str, Any]:
    return {"first_name": name, "phone": history_phone(i), "city": "Mumbai",
            "product": "health" if i % 3 else "life", "email": f"h{i}@example.org"}


def _rows(conn: Any, table: Table, column: Any, ids: list[int]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(table).where(column.in_(ids))
                                                   .order_by(table.c.id))]


def _templates(app: App) -> dict[str, Any]:
    """Post real template leads through the API in-process; read them back; delete them."""
    from fastapi.testclient import TestClient

    from leadgate.api.app import create_app

    with app.engine.connect() as conn:
        first_job = conn.scalar(select(func.coalesce(func.max(m.Job.id), 0)))
    ids: list[int] = []
    with TestClient(create_app(app=app, worker=False)) as client:
        posts = [_payload(i, NAMES[i]) for i in range(4)]
        posts.append({**_payload(4, NAMES[4]), "phone": "12345"})  # refused: invalid phone
        for body in posts:
            r = client.post("/v1/leads", json=body, headers={"Authorization": f"Bearer {KEY}"})
            if r.status_code not in (201, 422):
                raise RuntimeError(f"template lead answered {r.status_code}: {r.text}")
            ids.append(int(r.json().get("id") or r.json()["lead_id"]))
    t = {}
    with app.engine.begin() as conn:
        leads = _rows(conn, m.Lead.__table__, m.Lead.id, ids)
        events = _rows(conn, m.LeadEvent.__table__, m.LeadEvent.lead_id, ids)
        assignments = _rows(conn, m.Assignment.__table__, m.Assignment.lead_id, ids)
        jobs = [dict(r._mapping) for r in conn.execute(
            select(m.Job.__table__).where(m.Job.id > first_job).order_by(m.Job.id))]
        keys = _rows(conn, m.DedupeKey.__table__, m.DedupeKey.lead_id, ids)
        agents = dict(conn.execute(select(m.Agent.id, m.Agent.key)).all())
        by_lead = {lead["id"]: lead for lead in leads}
        accepted = [by_lead[i] for i in ids if by_lead[i]["status"] == "assigned"]
        rejected = [by_lead[i] for i in ids if by_lead[i]["status"] == "rejected"]
        if len(accepted) != 4 or len(rejected) != 1:
            raise RuntimeError("template leads did not come out as 4 assigned + 1 rejected: "
                               f"{[(x['id'], x['status']) for x in leads]}")
        t["assigned"] = []
        for lead in accepted:
            lid = lead["id"]
            t["assigned"].append({
                "lead": lead,
                "events": [e for e in events if e["lead_id"] == lid],
                "assignment": next(a for a in assignments if a["lead_id"] == lid),
                "jobs": [j for j in jobs if (j["payload"] or {}).get("lead_id") == lid],
                "agent_key": agents[lead["assignee_id"]],
            })
        t["rejected"] = {"lead": rejected[0],
                         "events": [e for e in events if e["lead_id"] == rejected[0]["id"]]}
        t["keys"] = keys
        # the templates leave: the history is only the generated leads
        conn.execute(delete(m.DedupeKey.__table__).where(m.DedupeKey.lead_id.in_(ids)))
        conn.execute(delete(m.Assignment.__table__).where(m.Assignment.lead_id.in_(ids)))
        conn.execute(delete(m.LeadEvent.__table__).where(m.LeadEvent.lead_id.in_(ids)))
        conn.execute(delete(m.Job.__table__).where(m.Job.id > first_job))
        conn.execute(delete(m.Lead.__table__).where(m.Lead.id.in_(ids)))
    return t


def _check_keys(app: App, templates: dict[str, Any]) -> Any:
    """The campaign, after checking our key-making matches what ingest stored."""
    with app.uow() as uow:
        row = uow.session.scalar(select(m.Campaign).where(m.Campaign.key == "insurance"))
        assert row is not None
        campaign = catalog.campaign_of(row)
    for tmpl in templates["assigned"]:
        lead = tmpl["lead"]
        values = _accepted_values(lead["values"], lead["raw"])
        if values != lead["values"]:
            raise RuntimeError(f"history values differ from ingest's: {values} vs "
                               f"{lead['values']}")
        stored = sorted(k["key"] for k in templates["keys"] if k["lead_id"] == lead["id"])
        made = sorted(dedupe_keys(values, campaign))
        if stored != made:
            raise RuntimeError(f"dedupe keys differ from ingest's: {made} vs {stored}")
    return campaign


def _accepted_values(template: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """The stored values of an accepted history lead: normalised as ingest does."""
    return {**template, "first_name": raw["first_name"], "phone": raw["phone"].replace(" ", ""),
            "email": raw["email"].casefold(), "product": raw["product"]}


class _Writer:
    """Buffers rows per table with explicit ids, then writes them in bulk.

    Row values are given ready for the database: JSON already serialised
    (``json()``, so a template's JSON is serialised once, not once per clone)
    and times already converted by the column type (``time()``), so no
    per-row type processing is left. SQLite gets them through a Core
    executemany (``Connection.exec_driver_sql`` with a list of rows);
    PostgreSQL through COPY in the same transaction, because psycopg's
    executemany pays tens of µs of Python per row and 100,000 leads are
    about 800,000 rows.
    """

    def __init__(self, conn: Any, tables: list[Table]) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.tables = tables
        self.next_id = {t.name: int(conn.scalar(select(func.coalesce(func.max(t.c.id), 0)))) + 1
                        for t in tables}
        self.rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in tables}
        self.counts = dict.fromkeys(self.rows, 0)
        self.special = {t.name: {c.name: "json" if isinstance(c.type, JSON) else "time"
                                 for c in t.columns
                                 if isinstance(c.type, JSON | m.UTCDateTime)}
                        for t in tables}
        typ = m.Lead.__table__.c.created_at.type.dialect_impl(conn.dialect)
        self._time = typ.bind_processor(conn.dialect) or (lambda v: v)
        quote = conn.dialect.identifier_preparer.quote
        self.names = {t.name: ", ".join(quote(c.name) for c in t.columns) for t in tables}
        self.sql = {t.name: f"INSERT INTO {t.name} ({self.names[t.name]}) "
                            f"VALUES ({', '.join('?' for _ in t.columns)})" for t in tables}

    def json(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value)

    def time(self, value: datetime | None) -> Any:
        return None if value is None else self._time(value)

    def prepare(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """A row read back through the models, made ready for ``add``."""
        out = dict(row)
        for name, kind in self.special[table].items():
            out[name] = self.json(row[name]) if kind == "json" else self.time(row[name])
        return out

    def add(self, table: str, row: dict[str, Any]) -> int:
        row["id"] = self.next_id[table]
        self.next_id[table] += 1
        self.rows[table].append(row)
        return int(row["id"])

    def flush(self) -> None:
        for table in self.tables:  # parents first
            rows = self.rows[table.name]
            if not rows:
                continue
            if self.pg:
                cols = [c.name for c in table.columns]
                raw = self.conn.connection.driver_connection
                with raw.cursor() as cur, cur.copy(
                        f"COPY {table.name} ({self.names[table.name]}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([row[c] for c in cols])
            else:
                cols = [c.name for c in table.columns]
                self.conn.exec_driver_sql(self.sql[table.name],
                                          [tuple(row[c] for c in cols) for row in rows])
            self.counts[table.name] += len(rows)
            rows.clear()


def seed_history(app: App, n: int, *, now: datetime | None = None,
                 seed: int = 7) -> HistoryReport:
    """Insert ``n`` history leads (and their rows) over the last 90 days before ``now``."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    templates = _templates(app)
    campaign = _check_keys(app, templates)
    tables = [m.Lead.__table__, m.LeadEvent.__table__, m.Assignment.__table__,
              m.Job.__table__, m.DedupeKey.__table__]
    # oldest first, so ids grow with time as in a real database
    times = sorted(now - timedelta(seconds=rng.uniform(60, DAYS * 86400)) for _ in range(n))
    with app.engine.begin() as conn:
        partner = conn.scalar(select(m.Source.id).where(m.Source.key == "partner"))
        w = _Writer(conn, tables)
        rejected = {"lead": w.prepare("leads", templates["rejected"]["lead"]),
                    "events": [w.prepare("lead_events", e)
                               for e in templates["rejected"]["events"]]}
        accepted = [{"lead": w.prepare("leads", x["lead"]), "values": x["lead"]["values"],
                     "decision": w.json(x["lead"]["decision"]),
                     "decided_at": x["lead"]["decision"]["decided_at"],
                     "events": [w.prepare("lead_events", e) for e in x["events"]],
                     "assignment": w.prepare("assignments", x["assignment"]),
                     "jobs": [(w.prepare("jobs", j), j["payload"]) for j in x["jobs"]],
                     "actor": f"user:{x['agent_key']}@example.com"}
                    for x in templates["assigned"]]
        # every event row starts from a real one, so all rows carry the same columns
        base_event = rejected["events"][0]
        quarantine = {"status": "quarantined", "reasons": w.json([QUARANTINE_REASON]),
                      "assignee_id": None, "assigned_at": None, "flow_key": None,
                      "flow_version": None, "decision": None, "queue": None}
        quarantine_data = w.json({"reasons": [QUARANTINE_REASON]})

        def event(lead_id: int, type_: str, at_: Any, tmpl: dict[str, Any] | None = None,
                  **cols: Any) -> None:
            w.add("lead_events", {**(tmpl or base_event), "lead_id": lead_id, "type": type_,
                                  "at": at_, **cols})

        for i, t in enumerate(times, start=10):
            raw = _payload(i, NAMES[rng.randrange(len(NAMES))])
            at = w.time(t)
            age = now - t
            dice = rng.random()
            source: dict[str, Any] = {}
            if partner is not None and rng.random() < 0.3:
                source = {"source_id": partner}
            received = {"actor": "source:partner" if source else "source:website"}
            if dice < 0.08:  # refused at the gate
                lead_id = w.add("leads", {
                    **rejected["lead"], **source, "created_at": at,
                    "values": w.json({k: v for k, v in raw.items() if k != "phone"}),
                    "raw": w.json({**raw, "phone": str(i % 100_000)})})
                for e in rejected["events"]:
                    event(lead_id, e["type"], at, e,
                          **(received if e["type"] == "received" else {}))
                continue
            tmpl = accepted[i % len(accepted)]
            values = _accepted_values(tmpl["values"], raw)
            lead = {**tmpl["lead"], **source, "values": w.json(values), "raw": w.json(raw),
                    "created_at": at, "assigned_at": at}
            quarantined = dice < 0.10
            status = "quarantined"
            decision = None
            if quarantined:  # held for review
                lead.update(quarantine)
            else:
                roll = rng.random()
                if age > timedelta(days=7):
                    status = "won" if roll < 0.18 else "lost" if roll < 0.80 else "assigned"
                else:
                    status = "won" if roll < 0.05 else "lost" if roll < 0.25 else "assigned"
                # the template's decision, at this lead's time (its trace's "now" too)
                decision = tmpl["decision"].replace(tmpl["decided_at"], t.isoformat())
                lead.update(status=status, decision=decision)
            lead_id = w.add("leads", lead)
            for key in dedupe_keys(values, campaign):
                w.add("dedupe_keys", {"campaign_id": lead["campaign_id"], "key": key,
                                      "lead_id": lead_id, "created_at": at})
            event(lead_id, "received", at, tmpl["events"][0], **received)
            if quarantined:
                event(lead_id, "quarantined", at, actor="gatekeeper", data=quarantine_data)
                continue
            for e in tmpl["events"][1:]:
                event(lead_id, e["type"], at, e)
            w.add("assignments", {**tmpl["assignment"], "lead_id": lead_id, "assigned_at": at,
                                  "trace": decision})
            for job, payload in tmpl["jobs"]:
                w.add("jobs", {**job, "payload": w.json({**payload, "lead_id": lead_id}),
                               "status": "done", "attempts": 1, "run_after": at,
                               "created_at": at, "locked_by": None, "locked_until": None,
                               "finished_at": w.time(t + timedelta(seconds=1))})
            if status != "assigned":
                closed = t + min(age, timedelta(hours=rng.uniform(1, 240)))
                data: dict[str, Any] = {"outcome": status}
                if status == "won":
                    data["revenue"] = float(rng.randrange(5, 200) * 100)
                else:
                    data["reason"] = rng.choice(("not interested", "no answer",
                                                 "bought elsewhere", "too expensive"))
                event(lead_id, status, w.time(closed), actor=tmpl["actor"], data=w.json(data))
            if len(w.rows["leads"]) >= BATCH:
                w.flush()
        w.flush()
        if w.pg:
            for table in tables:  # the next ids after our explicit ones
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                  f"(SELECT max(id) FROM {table.name}))"))
            # as autovacuum would after a load this size
            conn.execute(text(f"ANALYZE {', '.join(t.name for t in tables)}"))
    if app.engine.dialect.name == "postgresql":
        # A database with a year of history is in a steady state: vacuumed (visibility
        # map and hint bits set) and checkpointed. Without this the measured run would
        # pay for absorbing the bulk load just made (autovacuum passes over the new
        # rows, hint-bit writes on first reads, a checkpoint flushing the load), which
        # is the seeding's cost, not the cost of history.
        with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as ac:
            ac.execute(text(f"VACUUM (ANALYZE) {', '.join(t.name for t in tables)}"))
            ac.execute(text("CHECKPOINT"))
    rebuilt = _rebuild_loads(app, now)
    return HistoryReport(n, w.counts, time.perf_counter() - started, rebuilt)


def _rebuild_loads(app: App, now: datetime) -> bool:
    """Recompute the agents' live loads (``agent_loads``) from the seeded history,
    as ``leadgate db rebuild-loads`` does."""
    from leadgate.services import loads, snapshot

    with app.uow() as uow:
        infos = {a.id: a.agent for a in snapshot.current(uow.session).agents.values()}
        loads.rebuild(uow.session, infos, now)
        uow.commit()
    return True
