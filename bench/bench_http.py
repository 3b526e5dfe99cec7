"""HTTP capture benchmark that cannot hide: wrk against real servers.

    .venv/bin/python bench/bench_http.py [--seconds 20] [--history 100000]
        [--only sqlite,sqlite-history,pg,pg-history,thin,pgbench] [--no-write]

One run measures, with the same wrk load (bench/post_leads.lua: every request a
distinct lead, so none is a duplicate), after a warm-up of distinct leads:

  sqlite          leadgate on SQLite, 1 ``leadgate serve`` process, empty history
  sqlite-history  the same with ``--history`` leads of history (bench/history.py)
  pg              leadgate on PostgreSQL (a fresh database), 2 ``leadgate serve``
                  processes, one wrk per process with half the connections each,
                  run at the same time; empty history
  pg-history      the same with ``--history`` leads of history
  thin            bench/thin_peer.py (FastAPI + psycopg, one INSERT per lead),
                  2 uvicorn workers on PostgreSQL
  pgbench         pgbench's one-row INSERT (jsonb + timestamp), as many clients

and writes leads/s, p50/p99 latency, non-2xx answers and the ratios to the
goals into docs/benchmarks.md. Everything runs on this machine and talks to
127.0.0.1 only: the load generator shares the cores with the servers. Every
server started is stopped at the end, even on errors; every wrk and pgbench
run has a bounded duration.

The bench installs nothing: it needs ``wrk`` (Debian: ``apt-get install wrk``),
``pgbench`` and a PostgreSQL server at 127.0.0.1:5432 (user postgres, trust).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from history import seed_history  # noqa: E402
from report import write_section  # noqa: E402
from tests.conftest import WEBSITE_KEY, apply_setup, make_app  # noqa: E402
from tests.e2e.servers import Server, free_port  # noqa: E402

PG_HOST = "127.0.0.1"
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:5432/postgres"
LUA = BENCH / "post_leads.lua"
CASES = ("sqlite", "sqlite-history", "pg", "pg-history", "thin", "pgbench")
TITLE = "HTTP capture (bench/bench_http.py)"
WRK_TIMEOUT = "10s"


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- tools


def require_tools(cases: list[str]) -> None:
    """Exit with a clear message when a tool the chosen cases need is missing."""
    missing = []
    if any(c != "pgbench" for c in cases) and shutil.which("wrk") is None:
        missing.append("wrk, the HTTP load generator: `apt-get install wrk` (Debian package)")
    if "pgbench" in cases and shutil.which("pgbench") is None:
        missing.append("pgbench: `apt-get install postgresql-client` (Debian package)")
    if any(c.startswith("pg") or c == "thin" for c in cases):
        from tests.conftest import pg_available

        os.environ.setdefault("LEADGATE_TEST_PG", PG_ADMIN)
        why = pg_available()
        if why is not None:
            missing.append(f"a PostgreSQL server at {PG_ADMIN} ({why})")
    if missing:
        sys.exit("bench_http.py needs:\n  - " + "\n  - ".join(missing)
                 + "\nIt installs nothing by itself.")


def pg_engine(url: str, **kw: Any) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"), **kw)


@contextlib.contextmanager
def pg_database(tag: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one case, dropped afterwards."""
    name = f"leadgate_bench_{tag}_{uuid.uuid4().hex[:8]}"
    admin = pg_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@{PG_HOST}:5432/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --------------------------------------------------------------------------- wrk


class Slots:
    """Phone-number slots of post_leads.lua: one per wrk process of this run.

    00-09 are the seeded history's; 10-99 are handed out here, so warm-ups,
    cases and concurrent wrk processes never post the same lead twice.
    """

    def __init__(self) -> None:
        self.next = 10

    def take(self) -> int:
        if self.next > 99:
            raise RuntimeError("out of post_leads.lua slots (90 wrk runs per bench run)")
        self.next += 1
        return self.next - 1


@dataclass
class Load:
    """What the wrk processes of one measured (or warm-up) run saw, merged."""

    processes: int
    threads: int
    connections: int
    seconds: float
    requests: int = 0
    ok: int = 0
    non2xx: int = 0
    wrk_non2xx: int = 0  # wrk's own "Non-2xx or 3xx responses"
    statuses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # socket errors (connect...timeout)
    wrapped: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    p99_each_ms: list[float] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def socket_errors(self) -> int:
        return sum(self.errors.get(k, 0) for k in ("connect", "read", "write", "timeout"))


def wrk_command(url: str, threads: int, connections: int, seconds: float, slot: int) -> list[str]:
    assert url.startswith("http://127.0.0.1:"), "the bench only sends traffic to 127.0.0.1"
    return ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--latency", "--timeout", WRK_TIMEOUT, "-s", str(LUA), f"{url}/v1/leads",
            "--", str(slot), WEBSITE_KEY]


def run_wrk(urls: list[str], seconds: float, threads: int, connections: int,
            slots: Slots) -> Load:
    """One wrk per URL, all at once, the connections and threads split evenly."""
    per_threads = max(1, threads // len(urls))
    per_conns = max(per_threads, connections // len(urls))
    per_conns -= per_conns % per_threads  # wrk gives each thread connections/threads
    procs = [subprocess.Popen(wrk_command(u, per_threads, per_conns, seconds, slots.take()),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for u in urls]
    outs: list[tuple[str, str]] = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=seconds + 60))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    load = Load(processes=len(urls), threads=per_threads * len(urls),
                connections=per_conns * len(urls), seconds=0.0)
    dists = []
    for p, (out, err) in zip(procs, outs, strict=True):
        if p.returncode != 0:
            raise RuntimeError(f"wrk exited with {p.returncode}:\n{out}\n{err}")
        data = parse_wrk(out)
        load.outputs.append("\n".join(line for line in out.splitlines()
                                      if not line.startswith("LEADGATE_WRK")))
        load.requests += data["requests"]
        load.non2xx += data["non2xx"]
        load.ok += data["requests"] - data["non2xx"]
        load.wrk_non2xx += data["wrk_non2xx"]
        load.wrapped += data["wrapped"]
        load.seconds = max(load.seconds, data["duration_us"] / 1e6)
        for code, n in data["statuses"].items():
            load.statuses[code] = load.statuses.get(code, 0) + n
        for k, n in data["errors"].items():
            load.errors[k] = load.errors.get(k, 0) + n
        pct = [(float(p_), float(v)) for p_, v in data["percentiles_us"]]
        if pct:
            dists.append((data["requests"], pct))
            load.p99_each_ms.append(percentile([(data["requests"], pct)], 99) / 1000)
    if dists:
        load.p50_ms = percentile(dists, 50) / 1000
        load.p99_ms = percentile(dists, 99) / 1000
    return load


def parse_wrk(out: str) -> dict[str, Any]:
    data: dict[str, Any] | None = None
    wrk_non2xx = 0
    for line in out.splitlines():
        if line.startswith("LEADGATE_WRK "):
            data = json.loads(line.split(" ", 1)[1])
        elif "Non-2xx or 3xx responses:" in line:
            wrk_non2xx = int(line.rsplit(":", 1)[1])
    if data is None:
        raise RuntimeError(f"wrk printed no LEADGATE_WRK line (is {LUA.name} loaded?):\n{out}")
    data["wrk_non2xx"] = wrk_non2xx
    return data


def percentile(dists: list[tuple[int, list[tuple[float, float]]]], p: float) -> float:
    """The ``p`` percentile of the union of wrk latency distributions (µs).

    Each distribution is wrk's percentile grid (every 0.5 % and a fine tail).
    Between grid points the fraction below a value is taken at the grid point
    under it, so a merged percentile is never lower than the true one (it errs
    towards slower by at most the grid step); for one process and a grid
    point (50, 99) it is wrk's own figure.
    """
    total = sum(n for n, _ in dists)
    for x in sorted({v for _, pts in dists for _, v in pts}):
        below = sum(n * max((q for q, v in pts if v <= x), default=0.0) / 100
                    for n, pts in dists)
        if below >= total * p / 100 - 1e-9:
            return x
    return max(v for _, pts in dists for _, v in pts)


# --------------------------------------------------------------------------- cases


@dataclass
class Result:
    case: str
    label: str
    load: Load | None = None
    rate: float = 0.0  # successful leads (2xx) per second
    p50_ms: float | None = None
    p99_ms: float | None = None
    stored: dict[str, int] = field(default_factory=dict)  # rows written in the measured run
    failed: int = 0  # pgbench's failed transactions
    #: CPU seconds per 2xx answer in the measured run: the server processes (with
    #: their children) and PostgreSQL's processes (None where not measured)
    cpu_server_us: float | None = None
    cpu_db_us: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No non-2xx, no socket error or timeout, no repeated lead, nothing lost."""
        if self.load is None:
            return self.failed == 0
        stored = sum(self.stored.values()) if self.stored else None
        return (self.load.non2xx == 0 and self.load.socket_errors == 0
                and self.load.wrapped == 0 and (stored is None or stored >= self.load.ok))

    def problems(self) -> list[str]:
        out = [f"{self.failed} failed transactions"] if self.failed else []
        if self.load is not None:
            if self.load.non2xx:
                out.append(f"{self.load.non2xx} non-2xx answers {self.load.statuses}")
            if self.load.socket_errors:
                out.append(f"socket errors {self.load.errors}")
            if self.load.wrapped:
                out.append(f"{self.load.wrapped} requests reused a phone (counter wrapped)")
            stored = sum(self.stored.values()) if self.stored else None
            if stored is not None and stored < self.load.ok:
                out.append(f"only {stored} rows stored for {self.load.ok} 2xx answers")
        return out


def settle(engine: Engine, table: str, limit: float = 30.0) -> int:
    """Wait until ``table`` stops growing (requests still in flight after wrk
    stopped have finished); return its highest id."""
    deadline = time.monotonic() + limit
    last = None
    stable = 0
    while time.monotonic() < deadline:
        with engine.connect() as c:
            now = tuple(c.execute(text(f"SELECT count(*), coalesce(max(id), 0) FROM {table}"))
                        .one())
        stable = stable + 1 if now == last else 0
        if stable >= 2:
            break
        last = now
        time.sleep(0.5)
    assert last is not None
    return int(last[1])


def stored_since(engine: Engine, table: str, after: int, status: bool) -> dict[str, int]:
    with engine.connect() as c:
        if status:
            rows = c.execute(text(f"SELECT status, count(*) FROM {table} WHERE id > :a "
                                  "GROUP BY status"), {"a": after}).all()
            return {str(s): int(n) for s, n in rows}
        return {"rows": int(c.execute(text(f"SELECT count(*) FROM {table} WHERE id > :a"),
                                      {"a": after}).scalar_one())}


def _proc_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds so far), from /proc (Linux)."""
    out: dict[int, tuple[int, str, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:  # gone meanwhile
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2:].split()
        out[int(entry)] = (int(rest[1]), name, (int(rest[11]) + int(rest[12])) / tick)
    return out


def cpu_seconds(roots: list[int]) -> tuple[float, float]:
    """(CPU seconds of ``roots`` and their descendants, of PostgreSQL's processes)
    so far. A process that exits takes its time with it: the servers and the
    pooled database connections live through a measured run."""
    procs = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    seen, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in procs and pid not in seen:
            seen.add(pid)
            todo += children.get(pid, [])
    server = sum(procs[p][2] for p in seen)
    db = sum(cpu for _, name, cpu in procs.values() if name in ("postgres", "postmaster"))
    return server, db


def measure(result: Result, urls: list[str], engine: Engine, table: str, args: Any,
            slots: Slots, *, status: bool, pids: list[int] | None = None) -> None:
    warm = run_wrk(urls, args.warmup, args.threads, args.connections, slots)
    if warm.non2xx or warm.socket_errors:
        result.notes.append(f"warm-up: {warm.non2xx} non-2xx {warm.statuses}, "
                            f"socket errors {warm.errors}")
    before = settle(engine, table)
    cpu0 = cpu_seconds(pids or [])
    load = run_wrk(urls, args.seconds, args.threads, args.connections, slots)
    cpu1 = cpu_seconds(pids or [])
    settle(engine, table)
    if pids and load.ok:
        result.cpu_server_us = (cpu1[0] - cpu0[0]) / load.ok * 1e6
        if engine.dialect.name == "postgresql":
            result.cpu_db_us = (cpu1[1] - cpu0[1]) / load.ok * 1e6
    result.load = load
    result.rate = load.rate
    result.p50_ms, result.p99_ms = load.p50_ms, load.p99_ms
    result.stored = stored_since(engine, table, before, status)
    for out in load.outputs:
        print(out, flush=True)


def _batches(url: str) -> str:
    """Mean batch size of one server, from the counters its /healthz reports."""
    try:
        c = httpx.get(f"{url}/healthz", timeout=5).json().get("capture") or {}
    except (httpx.HTTPError, ValueError):
        return "unknown"
    if not c.get("batches"):
        return "no batch counters"
    return (f"{c['leads']} leads in {c['batches']} transactions, mean "
            f"{c['leads'] / c['batches']:.1f}, largest {c['largest_batch']}")


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def leadgate_case(case: str, label: str, db_url: str, processes: int, history: int,
                  args: Any, tmp: Path, slots: Slots) -> Result:
    result = Result(case, label)
    app = make_app(db_url, clock=utcnow)
    try:
        apply_setup(app)
        if history:
            report = seed_history(app, history)
            result.notes.append(f"history: {report}")
            print(f"  {report}", flush=True)
    finally:
        app.close()
    engine = (pg_engine(db_url) if db_url.startswith("postgresql")
              else create_engine(db_url))
    servers: list[Server] = []
    try:
        for k in range(processes):
            servers.append(Server(db_url, log=tmp / f"{case}-serve{k}.log"))
        measure(result, [s.url for s in servers], engine, "leads", args, slots, status=True,
                pids=[s.proc.pid for s in servers])
        result.notes.append("group commit (warm-up and measured run, per process): " + "; ".join(
            _batches(s.url) for s in servers))
    finally:
        for s in servers:
            s.stop()
        engine.dispose()
    if not result.clean:
        for s in servers:
            if s.log is not None:
                print(f"--- {s.log.name} (last lines)\n{log_tail(s.log)}", flush=True)
    return result


class ThinPeer:
    """bench/thin_peer.py under uvicorn with N workers, in its own process group."""

    def __init__(self, db_url: str, workers: int, log: Path) -> None:
        import thin_peer

        thin_peer.create_table(db_url)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "THIN_PEER_DB": db_url, "PYTHONPATH": str(BENCH)}
        self._out = open(log, "wb")  # noqa: SIM115
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "thin_peer:app",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
             "--log-level", "warning", "--no-access-log"],
            env=env, cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"thin peer exited with {self.proc.returncode}\n"
                                   f"{log_tail(self.log)}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("thin peer did not become ready")

    def stop(self) -> None:
        # the uvicorn supervisor and its workers: the process group we created
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # any worker left behind
        self._out.close()


def thin_case(db_url: str, args: Any, tmp: Path, slots: Slots) -> Result:
    result = Result("thin", "thin peer (FastAPI + psycopg, 1 INSERT), 2 uvicorn workers, "
                            "PostgreSQL")
    peer = ThinPeer(db_url, 2, tmp / "thin.log")
    engine = pg_engine(db_url)
    try:
        measure(result, [peer.url], engine, "thin_leads", args, slots, status=False,
                pids=[peer.proc.pid])
    finally:
        peer.stop()
        engine.dispose()
    if not result.clean:
        print(f"--- thin.log (last lines)\n{log_tail(peer.log)}", flush=True)
    return result


PGBENCH_SQL = """\\set n random(100000000, 999999999)
INSERT INTO bench_insert (payload, created_at) VALUES (('{"first_name": "Asha", \
"phone": "+91 9' || :n || '", "city": "Mumbai", "product": "health", \
"email": "p' || :n || '@example.com"}')::jsonb, now());
"""


def pgbench_case(db_url: str, args: Any, tmp: Path) -> Result:
    result = Result("pgbench", f"pgbench one-row INSERT (jsonb + timestamp), "
                               f"{args.connections} clients")
    engine = pg_engine(db_url)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload jsonb, "
                       "created_at timestamptz)"))
    engine.dispose()
    script = tmp / "pgbench_insert.sql"
    script.write_text(PGBENCH_SQL)
    dbname = db_url.rsplit("/", 1)[1]

    def pgbench(seconds: float, log: bool) -> str:
        cmd = ["pgbench", "-n", "-h", PG_HOST, "-U", "postgres", "-c", str(args.connections),
               "-j", str(args.threads), "-T", str(max(1, round(seconds))), "-f", str(script)]
        if log:
            cmd += ["-l", "--log-prefix", str(tmp / "pgbench_log")]
        done = subprocess.run([*cmd, dbname], capture_output=True, text=True, cwd=tmp,
                              timeout=seconds + 60)
        if done.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    pgbench(args.warmup, log=False)
    out = pgbench(args.seconds, log=True)
    print(out, flush=True)
    tps = processed = failed = 0.0
    for line in out.splitlines():
        if line.startswith("tps ="):
            tps = float(line.split("=")[1].split()[0])
        elif line.startswith("number of transactions actually processed:"):
            processed = float(line.split(":")[1].split("/")[0])
        elif line.startswith("number of failed transactions:"):
            failed = float(line.split(":")[1].split()[0])
    lat: list[int] = []
    for f in tmp.glob("pgbench_log.*"):
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                lat.append(int(parts[2]))  # transaction time, µs
    lat.sort()
    result.rate = tps
    if lat:
        result.p50_ms = lat[min(len(lat) - 1, int(0.50 * len(lat)))] / 1000
        result.p99_ms = lat[min(len(lat) - 1, int(0.99 * len(lat)))] / 1000
    result.stored = {"rows": int(processed)}
    result.failed = int(failed)
    return result


# --------------------------------------------------------------------------- report


def fmt(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:,.{digits}f}"


def ratio(results: dict[str, Result], a: str, b: str) -> float | None:
    if a in results and b in results and results[b].rate:
        return results[a].rate / results[b].rate
    return None


def goals(results: dict[str, Result], args: Any) -> list[tuple[str, str, str]]:
    """(goal, measured, verdict) for each goal of the issue."""
    out = []

    def verdict(ok: bool | None, cases: list[str]) -> str:
        if ok is None:
            return "not measured (case not run)"
        unclean = [c for c in cases if c in results and not results[c].clean]
        if unclean:
            return f"**missed** (errors in {', '.join(unclean)})"
        return "**met**" if ok else "**missed**"

    def rated(a: str, b: str, goal: float, text_: str) -> None:
        r = ratio(results, a, b)
        out.append((text_, "—" if r is None else f"{r:.2f} ({100 * r:.0f} %)",
                    verdict(None if r is None else r >= goal, [a, b])))

    rated("pg", "thin", 0.5, "leadgate PostgreSQL, 2 processes >= 50 % of the thin peer")
    rated("sqlite", "thin", 0.4, "leadgate SQLite, 1 process >= 40 % of the thin peer")
    hist = f"{args.history:,}" + ("" if args.history == 100_000 else " (goal says 100,000)")
    rated("sqlite-history", "sqlite", 0.9, f"SQLite with {hist} leads of history >= 90 % of "
                                           "empty")
    rated("pg-history", "pg", 0.9, f"PostgreSQL with {hist} leads of history >= 90 % of empty")
    p99s = {c: results[c].p99_ms for c in ("pg", "pg-history") if c in results}
    conns = "" if args.connections == 32 else f" (measured at {args.connections})"
    if p99s and all(v is not None for v in p99s.values()):
        shown = ", ".join(f"{c} {v:.0f} ms" for c, v in p99s.items())
        out.append((f"p99 under 100 ms at 32 connections on PostgreSQL{conns}", shown,
                    verdict(all(v < 100 for v in p99s.values() if v is not None),
                            list(p99s))))
    else:
        out.append((f"p99 under 100 ms at 32 connections on PostgreSQL{conns}", "—",
                    verdict(None, [])))
    return out


def render(results: dict[str, Result], args: Any, started: datetime, finished: datetime,
           load_before: str) -> str:
    minutes = (finished - started).total_seconds() / 60
    lines = []
    if args.seconds < 20 or args.history != 100_000 or set(results) != set(CASES):
        lines += ["**Trial run** (shorter, smaller or fewer cases than the defaults): not the "
                  "figures to quote.", ""]
    lines += [
        f"Load: wrk (bench/post_leads.lua), {args.connections} connections, "
        f"{args.threads} wrk threads, --timeout {WRK_TIMEOUT}; a {args.warmup:g} s warm-up "
        f"then {args.seconds:g} s measured per case; every request a distinct lead "
        "(its own phone and email), so none is a duplicate. For 2 server processes, one wrk "
        "per process with half the connections and threads, run at the same time: leads/s "
        "is their sum, latency percentiles are over all their requests merged. wrk, the "
        "servers and PostgreSQL share this machine's cores. leads/s counts 2xx answers only; "
        "\"stored\" counts the rows the database holds after the measured run settled "
        f"(includes requests still in flight when wrk stopped). Whole run: {minutes:.1f} min; "
        f"load average before it: {load_before} (other work on the machine skews the figures). "
        "CPU µs / lead: the CPU time (user + system, read from /proc) the server processes "
        "(with their children) and all of PostgreSQL's processes spent during the measured "
        "run, divided by the 2xx answers; SQLite's work is inside the server process. It "
        "says where the machine's two cores went, which leads/s alone does not.",
        "",
        "| case | leads/s | p50 ms | p99 ms | server CPU µs / lead | PostgreSQL CPU µs / lead "
        "| non-2xx | socket errors / timeouts | stored |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for case in CASES:
        r = results.get(case)
        if r is None:
            continue
        if r.load is not None:
            non2 = f"{r.load.non2xx}" + (f" (wrk: {r.load.wrk_non2xx})"
                                         if r.load.wrk_non2xx != r.load.non2xx else "")
            errs = (f"{r.load.socket_errors - r.load.errors.get('timeout', 0)} / "
                    f"{r.load.errors.get('timeout', 0)}")
        else:
            non2 = f"{r.failed} failed"
            errs = "n/a"
        stored = ", ".join(f"{k} {v:,}" for k, v in sorted(r.stored.items())) or "—"
        lines.append(f"| {r.label} | {fmt(r.rate, 0)} | {fmt(r.p50_ms)} | {fmt(r.p99_ms)} | "
                     f"{fmt(r.cpu_server_us, 0)} | {fmt(r.cpu_db_us, 0)} | "
                     f"{non2} | {errs} | {stored} |")
    lines += ["", "| ratio | value |", "| --- | ---: |"]
    for a, b, name in (("pg", "thin", "leadgate PostgreSQL / thin peer"),
                       ("sqlite", "thin", "leadgate SQLite / thin peer"),
                       ("sqlite-history", "sqlite", "SQLite: history / empty"),
                       ("pg-history", "pg", "PostgreSQL: history / empty"),
                       ("thin", "pgbench", "thin peer / pgbench")):
        r = ratio(results, a, b)
        lines.append(f"| {name} | {'—' if r is None else f'{r:.3f}'} |")
    lines += ["", "| goal | measured | verdict |", "| --- | --- | --- |"]
    lines += [f"| {g} | {m} | {v} |" for g, m, v in goals(results, args)]
    notes = [f"- {r.case}: {n}" for r in results.values() for n in r.notes]
    notes += [f"- {r.case}: p99 per wrk process: "
              + ", ".join(f"{v:.1f} ms" for v in r.load.p99_each_ms)
              for r in results.values() if r.load is not None and r.load.processes > 1]
    notes += [f"- {r.case}: NOT CLEAN: {'; '.join(r.problems())}"
              for r in results.values() if not r.clean]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20, help="measured seconds per case")
    ap.add_argument("--warmup", type=float, default=3, help="warm-up seconds per case")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (total)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (total)")
    ap.add_argument("--history", type=int, default=100_000,
                    help="leads of history for the *-history cases")
    ap.add_argument("--only", default=",".join(CASES),
                    help=f"comma-separated cases among {', '.join(CASES)}")
    ap.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = ap.parse_args()
    cases = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; choose among {', '.join(CASES)}")
    if args.connections < args.threads or args.threads > 10:
        ap.error("need threads <= connections and at most 10 threads")
    require_tools(cases)
    # Ctrl-C and kill (SIGTERM) unwind through the finally blocks, which stop
    # every server started and drop every database created
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = utcnow()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    tmp = Path(tempfile.mkdtemp(prefix="leadgate-bench-"))
    slots = Slots()
    results: dict[str, Result] = {}
    labels = {
        "sqlite": ("SQLite (WAL), 1 serve process, empty history", 1, 0),
        "sqlite-history": (f"SQLite (WAL), 1 serve process, {args.history:,} leads of history",
                           1, args.history),
        "pg": ("PostgreSQL, 2 serve processes, empty history", 2, 0),
        "pg-history": (f"PostgreSQL, 2 serve processes, {args.history:,} leads of history",
                       2, args.history),
    }
    try:
        for case in [c for c in CASES if c in cases]:
            print(f"== {case}", flush=True)
            if case.startswith("sqlite"):
                label, procs, hist = labels[case]
                url = f"sqlite:///{tmp / (case + '.db')}"
                results[case] = leadgate_case(case, label, url, procs, hist, args, tmp, slots)
            elif case.startswith("pg") and case != "pgbench":
                label, procs, hist = labels[case]
                with pg_database(case.replace("-", "_")) as url:
                    results[case] = leadgate_case(case, label, url, procs, hist, args, tmp,
                                                  slots)
            elif case == "thin":
                with pg_database("thin") as url:
                    results[case] = thin_case(url, args, tmp, slots)
            else:
                with pg_database("pgbench") as url:
                    results[case] = pgbench_case(url, args, tmp)
            r = results[case]
            print(f"   {case}: {r.rate:,.0f} leads/s, p50 {fmt(r.p50_ms)} ms, "
                  f"p99 {fmt(r.p99_ms)} ms, stored {r.stored}"
                  + ("" if r.clean else f"; NOT CLEAN: {'; '.join(r.problems())}"), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    body = render(results, args, started, utcnow(), load_before)
    print("\n" + body)
    if not args.no_write:
        command = "python bench/bench_http.py" + "".join(f" {a}" for a in sys.argv[1:])
        write_section(TITLE, command, body)
        print(f"\nwritten to docs/benchmarks.md, section '{TITLE}'")


if __name__ == "__main__":
    main()
