"""Delivery benchmark: HTTP deliveries per second and the latency a delivery adds,
on PostgreSQL, with 2 ``leadgate worker`` processes and a local receiver.

    .venv/bin/python bench/bench_delivery.py [--leads 3000] [--rate 20]
        [--seconds 15] [--poll 0.5] [--no-write]

What runs (all on this machine, 127.0.0.1 only):

- a fresh PostgreSQL database built by the migrations, the test setup plus one
  ``http`` destination (``concurrency: 8``) on the Mumbai rule's ``deliver:``;
- a thin receiver in this process (``ThreadingHTTPServer``, answers 200 with a
  small JSON body) that records the wall-clock arrival time of every request and
  the lead id from its body;
- 2 ``leadgate worker`` processes (``LEADGATE_WORKER_POLL_SECONDS`` = ``--poll``).

Two measurements:

1. **Throughput.** With the workers stopped, ``--leads`` leads are captured
   (each through the same ingest path as the API, one transaction per lead, its
   delivery and job in the same transaction). Then the 2 workers start and the
   bench waits until the receiver has every lead. Deliveries per second =
   (leads - 1) / (last arrival - first arrival); the wall time from starting the
   workers (process start included) is reported too.
2. **Added latency.** With the workers running and idle, leads are captured at
   ``--rate`` per second for ``--seconds``. For each lead the bench records the
   wall clock right after its transaction committed; the receiver records the
   arrival. Latency = arrival - commit (both ``time.time()`` in this process, so
   there is no clock skew); p50, p90, p99 and max. After each commit the bench
   signals the workers as the API's capture router does (``NOTIFY
   leadgate_jobs``); ``--poll`` bounds the wait if a signal were lost.

Every phase has a deadline; every process started is stopped at the end, even on
errors, and the database is dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from bench_http import PG_ADMIN, pg_database  # noqa: E402
from report import write_section  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from tests.conftest import SETUP, apply_setup  # noqa: E402

from leadgate.bootstrap import App, bootstrap  # noqa: E402
from leadgate.config import Settings  # noqa: E402
from leadgate.services.ingest import ingest_lead  # noqa: E402
from leadgate.store import models as m  # noqa: E402

TITLE = "Delivery (bench/bench_delivery.py)"
DRAIN_DEADLINE = 300.0  # seconds to wait for every delivery of a phase


# --------------------------------------------------------------------------- receiver

class Receiver:
    """A thin local HTTP receiver: 200 for everything, arrival time per lead id."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.requests = 0
        self._lock = threading.Lock()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                t = time.time()
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                try:
                    lead_id = int(json.loads(body)["lead_id"])
                except (ValueError, KeyError, TypeError):
                    lead_id = -1
                with rec._lock:
                    rec.requests += 1
                    rec.arrivals.setdefault(lead_id, t)  # the first arrival counts
                out = b'{"ok":true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/leads"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, ids: set[int]) -> int:
        with self._lock:
            return sum(1 for i in ids if i in self.arrivals)


# --------------------------------------------------------------------------- workers

@contextmanager
def workers(db_url: str, n: int, poll: float, tmp: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``n`` ``leadgate worker`` processes, stopped (TERM, then KILL) on the way out."""
    env = {**os.environ, "LEADGATE_ENVIRONMENT": "test", "LEADGATE_POOL_SIZE": "4",
           "LEADGATE_WORKER_POLL_SECONDS": str(poll)}
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for i in range(n):
            log = open(tmp / f"worker{i}.log", "wb")  # noqa: SIM115
            logs.append(log)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "leadgate.cli", "worker", "--db", db_url],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        for log in logs:
            log.close()


def check_alive(procs: list[subprocess.Popen[bytes]], tmp: Path) -> None:
    for i, p in enumerate(procs):
        if p.poll() is not None:
            tail = (tmp / f"worker{i}.log").read_text()[-2000:]
            raise RuntimeError(f"worker {i} exited with {p.returncode}:\n{tail}")


# --------------------------------------------------------------------------- leads

def setup_text(url: str) -> str:
    dest = (f"destinations:\n  - {{key: hook, name: Bench receiver, kind: http, "
            f"url: '{url}', concurrency: 8, timeout: 10s}}\n")
    text = SETUP.replace("flows:\n", dest + "flows:\n")
    return text.replace("        to: {team: mumbai, method: round_robin}\n",
                        "        to: {team: mumbai, method: round_robin}\n"
                        "        deliver: [hook]\n")


class Capture:
    """Captures distinct leads through the ingest path; records the commit times."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.n = 0
        self.committed: dict[int, float] = {}
        with app.reader() as uow:
            source = uow.session.scalar(select(m.Source).where(m.Source.key == "website"))
            assert source is not None
            self.source_id = source.id

    def one(self) -> int:
        self.n += 1
        payload = {"first_name": "Asha", "last_name": "Bench", "city": "Mumbai",
                   "product": "health", "phone": f"+91 98{self.n:08d}",
                   "email": f"bench{self.n}@example.com"}
        with self.app.uow() as uow:
            source = uow.session.get(m.Source, self.source_id)
            assert source is not None
            res = ingest_lead(uow, source, payload, self.app.clock())
        t = time.time()  # the transaction has committed
        self.app.wakeup.notify()  # as the API's capture router does after a commit
        if res.status_code != 201 or res.lead_id is None:
            raise RuntimeError(f"lead refused: {res.body}")
        self.committed[res.lead_id] = t
        return res.lead_id


def wait_for(rx: Receiver, ids: set[int], procs: list[subprocess.Popen[bytes]],
             tmp: Path) -> None:
    deadline = time.monotonic() + DRAIN_DEADLINE
    while rx.count(ids) < len(ids):
        check_alive(procs, tmp)
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {rx.count(ids)} of {len(ids)} deliveries arrived "
                               f"within {DRAIN_DEADLINE:.0f} s")
        time.sleep(0.05)


def settle(app: App, limit: float = 30.0) -> None:
    """Wait until no delivery is pending or sending (outcomes are recorded after the
    receiver answered)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with app.reader() as uow:
            n = uow.session.scalar(select(func.count()).select_from(m.Delivery).where(
                m.Delivery.status.in_(("pending", "sending"))))
        if not n:
            return
        time.sleep(0.1)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


# --------------------------------------------------------------------------- run

def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmpdir, \
            pg_database("delivery") as db_url, Receiver() as rx:
        tmp = Path(tmpdir)
        load = os.getloadavg()[0]
        app = bootstrap(Settings(database_url=db_url, environment="test",
                                 embedded_worker=False, pool_size=4), migrate=True)
        try:
            apply_setup(app, setup_text(rx.url))
            cap = Capture(app)
            cap.one()  # warm the snapshot cache and the connection pool
            # 1. throughput: a backlog, then 2 workers
            print(f"capturing {args.leads} leads (workers stopped)...", flush=True)
            t0 = time.monotonic()
            backlog = {cap.one() for _ in range(args.leads)}
            capture_s = time.monotonic() - t0
            started = time.time()
            with workers(db_url, 2, args.poll, tmp) as procs:
                wait_for(rx, backlog | set(cap.committed), procs, tmp)
                arrivals = [rx.arrivals[i] for i in backlog]
                first, last = min(arrivals), max(arrivals)
                throughput = {"leads": len(backlog), "capture_s": capture_s,
                              "per_s": (len(backlog) - 1) / (last - first),
                              "wall_s": last - started, "first_after_s": first - started}
                print(f"throughput: {throughput['per_s']:.1f} deliveries/s", flush=True)
                # 2. latency: a steady trickle into idle workers
                time.sleep(2 * args.poll + 0.5)
                print(f"latency: {args.rate}/s for {args.seconds:g} s...", flush=True)
                trickle: set[int] = set()
                t_start = time.monotonic()
                k = 0
                while time.monotonic() - t_start < args.seconds:
                    due = t_start + k / args.rate
                    if due > time.monotonic():
                        time.sleep(due - time.monotonic())
                    trickle.add(cap.one())
                    k += 1
                wait_for(rx, trickle, procs, tmp)
                check_alive(procs, tmp)
                settle(app)  # the last outcomes recorded before the workers stop
            lat = [(rx.arrivals[i] - cap.committed[i]) * 1000 for i in trickle]
            with app.reader() as uow:
                statuses = dict(uow.session.execute(
                    select(m.Delivery.status, func.count()).group_by(m.Delivery.status)).all())
                attempts = uow.session.scalar(select(func.count()).select_from(m.DeliveryAttempt))
            return {"throughput": throughput, "load": load,
                    "latency": {"leads": len(lat), "rate": args.rate, "seconds": args.seconds,
                                "p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
                                "max": max(lat), "mean": statistics.fmean(lat)},
                    "statuses": statuses, "attempts": attempts, "requests": rx.requests,
                    "poll": args.poll}
        finally:
            app.close()


def render(r: dict[str, Any]) -> str:
    t, lat = r["throughput"], r["latency"]
    rows = [
        "| measure | value |", "| --- | --- |",
        f"| deliveries per second, 2 workers (first to last arrival of {t['leads']:,} "
        f"queued deliveries) | **{t['per_s']:.1f}** |",
        f"| wall time from starting the 2 worker processes to the last arrival | "
        f"{t['wall_s']:.1f} s (first arrival after {t['first_after_s']:.1f} s) |",
        f"| capturing the backlog (one transaction per lead, bench process) | "
        f"{t['leads'] / t['capture_s']:.0f} leads/s |",
        f"| added latency, commit to arrival at the receiver, p50 | **{lat['p50']:.0f} ms** |",
        f"| p90 | {lat['p90']:.0f} ms |",
        f"| p99 | **{lat['p99']:.0f} ms** |",
        f"| max (mean) | {lat['max']:.0f} ms ({lat['mean']:.0f} ms) |",
    ]
    statuses = ", ".join(f"{k} {v:,}" for k, v in sorted(r["statuses"].items()))
    return (
        "PostgreSQL 127.0.0.1, a fresh database; 2 `leadgate worker` processes "
        f"(`LEADGATE_WORKER_POLL_SECONDS={r['poll']:g}`); an `http` destination with "
        "`concurrency: 8` pointing at a thin receiver in the bench process "
        "(`ThreadingHTTPServer`, answers 200). The bench, the receiver, the workers and "
        "PostgreSQL share the machine's cores (load average "
        f"{r['load']:.1f} when the run started: other work was running too).\n\n"
        + "\n".join(rows) + "\n\n"
        f"Latency: {lat['leads']} leads captured at {lat['rate']:g}/s for "
        f"{lat['seconds']:g} s into idle workers; for each, the wall clock right after its "
        "transaction committed and the receiver's arrival time, both `time.time()` in the "
        "bench process. Each worker runs 4 jobs at once (the PostgreSQL default of "
        "`LEADGATE_WORKER_THREADS`) and is woken at once after a commit that queued jobs "
        "(`NOTIFY leadgate_jobs`, sent by the bench after each capture as the API's "
        f"capture router does); the {r['poll']:g} s poll only bounds a lost wake-up. "
        "Afterwards: "
        f"{statuses}; {r['attempts']:,} attempts stored, {r['requests']:,} requests "
        "received.\n"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--leads", type=int, default=3000, help="backlog for the throughput run")
    p.add_argument("--rate", type=float, default=20, help="leads/s in the latency run")
    p.add_argument("--seconds", type=float, default=15, help="length of the latency run")
    p.add_argument("--poll", type=float, default=0.5, help="workers' poll interval (s)")
    p.add_argument("--no-write", action="store_true", help="print, do not touch the docs")
    args = p.parse_args()
    from tests.conftest import pg_available

    os.environ.setdefault("LEADGATE_TEST_PG", PG_ADMIN)
    why = pg_available()
    if why is not None:
        sys.exit(f"bench_delivery.py needs PostgreSQL at {PG_ADMIN}: {why}")
    result = run(args)
    body = render(result)
    print(body)
    if not args.no_write:
        command = "python bench/bench_delivery.py " + " ".join(sys.argv[1:])
        write_section(TITLE, command.strip(), body)
        print("written to docs/benchmarks.md")


if __name__ == "__main__":
    main()
